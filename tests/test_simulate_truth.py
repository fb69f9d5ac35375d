"""A simulated case reproduces its truth.json through the model's replay with the driver's tables; the generator is
deterministic for a seed; the fast bulk path equals its one-by-one reference. Both replays (row by row, the
reference, and columnar) are held to the truth."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from swk.capture.simulate import Options, case_columns, case_rows, simulate
from swk.capture.simulate.case_rows import is_ordered
from swk.capture.simulate.truth import FIELDS, load
from swk.kernel.model import analyze, analyze_batches

EVENTS = 40_000


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    return simulate(out, Options(events=EVENTS, seed=3, formats=()))


REPLAYS = {"rows": lambda case, table: analyze(case_rows(case), table=table),
           "columns": lambda case, table: analyze_batches(case_columns(case), table=table)}  # fmt: skip


@pytest.mark.parametrize("replay", sorted(REPLAYS))
def test_case_rows_reproduce_truth_with_the_driver_tables(mixed, replay):
    truth = load(mixed.truth)["detections"]
    got = REPLAYS[replay](mixed.case, "driver")
    assert len(got) == len(truth) > 1000
    for want, have in zip(truth, got, strict=True):
        for field in FIELDS:
            value = list(have.evidence) if field == "evidence" else getattr(have, field)
            assert value == want[field], (field, want["rule"], want["trigger_event_id"])
        # every live detection is matched by its reconstruction; the anti-tamper ones cannot be rebuilt
        assert have.status == ("live-only" if have.rule.startswith("DRIVER_DISPATCH") else "confirmed")


def test_evidence_points_at_rows_that_make_sense(mixed):
    import duckdb

    con = duckdb.connect()
    con.execute(f"create view c as select * from '{mixed.case}'")
    for d in load(mixed.truth)["detections"][:400]:
        families = {
            r[0]
            for r in con.execute(
                f"select family from c where event_id in ({','.join(map(str, d['evidence']))})"
            ).fetchall()
        }
        live = con.execute("select detection_name, actor_pid, target_pid from c where event_id = ?",
                           [d["live_event_id"]]).fetchall()  # fmt: skip
        assert live == [(d["name"], d["actor_pid"], d["target_pid"])]
        assert families <= {"handle", "thread", "apc", "image", "registry", "ti", "detection"}
        assert "detection" not in families or d["rule"].startswith("DRIVER_DISPATCH")


def test_case_is_in_replay_order(mixed):
    assert is_ordered(mixed.case)
    meta = pq.read_metadata(mixed.case).metadata
    assert b"simulation" in meta[b"swk.manifest"]


def test_same_seed_same_case_other_seed_other_case(tmp_path, mixed):
    again = simulate(tmp_path / "again", Options(events=EVENTS, seed=3, formats=()))
    assert pq.read_table(again.case).drop_columns(["source_file"]).equals(
        pq.read_table(mixed.case).drop_columns(["source_file"]))  # fmt: skip
    assert again.truth.read_text() == mixed.truth.read_text()
    other = simulate(tmp_path / "other", Options(events=EVENTS, seed=4, formats=()))
    assert other.truth.read_text() != mixed.truth.read_text()


def test_bulk_path_equals_its_reference(tmp_path):
    fast = simulate(tmp_path / "fast", Options(events=20_000, seed=5, scenarios=(), formats=()))
    slow = simulate(tmp_path / "slow", Options(events=20_000, seed=5, scenarios=(), formats=(), reference=True))
    assert pq.read_table(fast.case).equals(pq.read_table(slow.case))
    assert fast.truth.read_text() == slow.truth.read_text()


def test_bulk_path_equals_its_reference_when_the_work_queue_drops(tmp_path):
    # a queue of 3 items at 2 ms each drops most of a burst: the fast path must drop exactly the same opens
    opts = {"events": 6_000, "seed": 8, "scenarios": (), "formats": (), "handle_work": (3, 2000)}
    fast = simulate(tmp_path / "fast", Options(**opts))
    slow = simulate(tmp_path / "slow", Options(**opts, reference=True))
    assert pq.read_table(fast.case).equals(pq.read_table(slow.case))
    assert fast.truth.read_text() == slow.truth.read_text()
    published = pq.read_table(fast.case, columns=["family", "sequence"]).to_pylist()
    opens = [r["sequence"] for r in published if r["family"] == "handle"]
    normal = simulate(tmp_path / "normal", Options(**{**opts, "handle_work": None}))
    assert len(opens) < pq.read_table(normal.case, filters=[("family", "=", "handle")]).num_rows


def test_host_bookkeeping_needs_no_bulk_catch_up(tmp_path, monkeypatch):
    # thread and process exits are scheduled with `at_host`, which does not apply the bulk operations before them
    # first: the run must be what it is when they do
    from swk.capture.simulate.sim import Simulation

    opts = Options(events=20_000, seed=6, formats=())
    fast = simulate(tmp_path / "fast", opts)
    monkeypatch.setattr(Simulation, "at_host", Simulation.at)
    slow = simulate(tmp_path / "slow", opts)
    assert pq.read_table(fast.case).equals(pq.read_table(slow.case))
    assert fast.truth.read_text() == slow.truth.read_text()


def test_per_key_replay_differs_only_where_the_driver_table_does(mixed):
    driver = {(d.rule, d.trigger_event_id) for d in analyze(case_rows(mixed.case), table="driver")}
    per_key = analyze(case_rows(mixed.case))
    extra = [d for d in per_key if (d.rule, d.trigger_event_id) not in driver]
    # per-key chains may reset where a driver slot was taken over or evicted, and vice versa; nothing else differs
    assert all("MARK_CHAIN" in d.rule for d in extra)


def test_raised_record_is_the_detection_record():
    from swk.capture.simulate.truth import raised_record, record
    from swk.kernel.catalogue import CATALOGUE
    from swk.kernel.model.detection import Raised

    for i, entry in enumerate(CATALOGUE):
        evidence = [(40 + i, 900), (7, 1000), (40 + i, 900)] if i % 2 else []
        r = Raised("H", entry.rule, 1000 + i, 40 + i, 11, None, (1, 2, None), evidence, marks=i or None)
        r.live_event_id = 99
        assert raised_record(r) == record(r.to_detection(i, "live", 99))
        assert list(raised_record(r)) == list(record(r.to_detection(i, "live", 99)))  # the same key order


def test_raised_line_is_the_record_encoded(mixed):
    """truth.json's lines are written out by hand: the same text as json.dumps of the record, for every rule of the
    catalogue (None in every place that can hold it, a reason that needs escaping) and every detection of a run."""
    import json

    from swk.capture.simulate.truth import raised_line, raised_record
    from swk.kernel.catalogue import CATALOGUE
    from swk.kernel.model.detection import Raised

    cases = []
    for i, entry in enumerate(CATALOGUE):
        evidence = [(40 + i, 900), (7, 1000), (40 + i, 900)] if i % 2 else []
        r = Raised("H", entry.rule, 1000 + i, 40 + i, 11, None, (1, 2, None), evidence, marks=i or None,
                   reason='a "quoted" \\ reason\twith \u00e9' if i % 3 == 0 else None)  # fmt: skip
        r.live_event_id = 99 if i % 2 else None
        cases.append(r)
    for r in cases:
        assert raised_line(r) == json.dumps(raised_record(r))
    lines = [line.strip().rstrip(",") for line in mixed.truth.read_text().splitlines()[3:-2]]
    assert len(lines) == len(load(mixed.truth)["detections"]) > 100
    assert [json.dumps(json.loads(line)) for line in lines] == lines
