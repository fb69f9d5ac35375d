"""Reconciliation with live detections and the detections table (docs/detections.md sections 10-11), and the
`analyze()` contract (input order, rows skipped)."""

from __future__ import annotations

import pytest

from swk.kernel.model import Detection, OrderError, analyze, rowkit
from swk.kernel.model.reconcile import _nearest, _runs

OUT = "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"


def statuses(rows):
    return [(d.rule, d.status, d.live_event_id, d.trigger_event_id) for d in analyze(rows) if d.name == OUT
            or d.status == "live-only"]  # fmt: skip


@pytest.mark.parametrize(("live_ms", "status"), [(2000, "confirmed"), (2000.999, "confirmed"), (2001, None)])
def test_match_within_2000_ms_floor(live_ms, status):
    rows = [rowkit.thread(1, 0, 100, 200), rowkit.live(2, live_ms, OUT, 100, 200)]
    got = statuses(rows)
    if status:
        assert got == [(OUT, "confirmed", 2, 1)]
    else:
        assert sorted(s for _, s, _, _ in got) == ["live-only", "reconstructed-only"]


def test_mutual_nearest_pairs_and_ties():
    rows = [rowkit.thread(1, 0, 100, 200), rowkit.thread(2, 1000, 100, 200),
            rowkit.live(3, 900, OUT, 100, 200), rowkit.live(4, 1100, OUT, 100, 200)]  # fmt: skip
    got = {t: (s, live) for _, s, live, t in statuses(rows)}
    # live 3 is nearest to thread 2 and thread 2 to live 3 (100 ms vs 100 ms for 4: tie, the earlier)
    assert got[2] == ("confirmed", 3)
    assert got[1] == ("reconstructed-only", None)
    assert got[4] == ("live-only", 4)


def test_runs_and_nearest_run():
    assert _runs([0, 0, 5, 7, 7, 7]) == [(0, 0, 2), (5, 2, 3), (7, 3, 6)]
    assert _runs([]) == []
    times = [0, 10, 20]
    assert [_nearest(times, ts) for ts in (-5, 0, 4, 5, 6, 15, 25)] == [0, 0, 0, 0, 1, 1, 2]  # 5, 15: the earlier
    assert _nearest([], 3) is None


def test_equal_time_runs_confirm_each_member():
    # two detections at one time and two live rows at one time (the JSONL's millisecond times): two pairs, in id
    # order, not one pair plus a reconstructed-only and a live-only row
    rows = [rowkit.thread(1, 0, 100, 200), rowkit.thread(2, 0, 100, 200), rowkit.thread(3, 0, 100, 200),
            rowkit.live(4, 1, OUT, 100, 200), rowkit.live(5, 1, OUT, 100, 200)]  # fmt: skip
    assert sorted(statuses(rows), key=lambda s: s[3]) == [
        (OUT, "confirmed", 4, 1), (OUT, "confirmed", 5, 2), (OUT, "reconstructed-only", None, 3)
    ]  # fmt: skip


def test_group_is_name_actor_target():
    rows = [rowkit.thread(1, 0, 100, 200), rowkit.live(2, 0, OUT, 100, 201)]
    assert {s for _, s, _, _ in statuses(rows)} == {"reconstructed-only", "live-only"}


def test_host_without_live_rows_is_reconstructed():
    rows = [rowkit.thread(1, 0, 100, 200, host="A"), rowkit.thread(2, 0, 100, 200, host="B"),
            rowkit.live(3, 0, OUT, 100, 200, host="B")]  # fmt: skip
    got = {(d.host, d.status) for d in analyze(rows) if d.name == OUT}
    assert got == {("A", "reconstructed"), ("B", "confirmed")}


def test_ids_follow_ts_trigger_rule_order():
    rows = [rowkit.registry(5, 10, 7, "Software\\Microsoft\\Windows\\CurrentVersion\\Run"),
            rowkit.thread(2, 10, 100, 200, 1), rowkit.live(9, 5, "NOT_IN_CATALOGUE", 1, 2)]  # fmt: skip
    out = analyze(rows)
    assert [(d.id, d.trigger_event_id) for d in out][:2] == [(1, 9), (2, 2)]
    assert out[0].rule is None and out[0].attack is None and out[0].engine == "kernel"
    assert out[-1].rule == "HIGH_VALUE_REGISTRY_ACTIVITY" and out[-1].trigger_event_id == 5
    assert isinstance(out[0], Detection) and out[0].evidence == (9,)


def test_live_thread_hijack_rows_find_their_rule_by_reason():
    reason = "thread-context intent combined with suspicious remote thread execution"
    out = analyze([rowkit.live(1, 0, "THREAD_HIJACK_INTENT", 100, 200, reason=reason, severity=5)])
    assert out[0].rule == "THREAD_HIJACK_INTENT/thread"


def test_input_order_and_skipped_rows():
    rows = [rowkit.thread(2, 10, 100, 200), rowkit.thread(1, 0, 100, 200), {**rowkit.thread(3, 0, 100, 200),
            "ts": None}, {"event_id": 4, "family": "reject", "ts": 0}]  # fmt: skip
    assert [d.trigger_event_id for d in analyze(rows) if d.name == OUT] == [1, 2]  # a list is sorted
    with pytest.raises(OrderError):
        analyze(iter(rows))  # a stream must come in order
    assert [d.trigger_event_id for d in analyze(iter(rows[1::-1])) if d.name == OUT] == [1, 2]


def test_datetime_ts_is_accepted():
    from datetime import UTC, datetime

    row = rowkit.thread(1, 0, 100, 200)
    as_dt = {**row, "ts": datetime.fromtimestamp(row["ts"] / 1e6, tz=UTC)}
    assert analyze([as_dt])[0].ts == row["ts"]
    with pytest.raises(ValueError):
        analyze([{**row, "ts": datetime(2026, 3, 2)}])  # noqa: DTZ001  (a naive time is refused)
    with pytest.raises(ValueError):
        analyze([row], table="sql")
