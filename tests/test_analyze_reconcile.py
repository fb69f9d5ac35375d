"""Reconciliation with what was raised live (docs/detections.md section 10): confirmed, reconstructed-only when the
live row is missing, live-only when the evidence is missing, reconstructed on a host with no live rows at all."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from swk.analyze import engine
from swk.analyze.testing import write_case
from swk.capture.simulate import Options, case_rows, simulate
from swk.kernel import model
from swk.kernel.model import rowkit
from swk.store.writer import CaseWriter


@pytest.fixture(scope="module")
def hollowing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """process-hollowing alone on an idle host: every live detection has its evidence."""
    return simulate(tmp_path_factory.mktemp("hollowing"), Options(seed=1, scenarios=("process-hollowing",),
                                                                  benign=False, events=2_000)).case  # fmt: skip


def statuses(case: Path) -> Counter:
    con = engine.connect(case)
    return Counter(con.execute("SELECT rule, status FROM detections").fetchall())


def without(case: Path, out: Path, mask: pc.Expression) -> Path:
    """The case minus the rows `mask` selects, event ids kept."""
    table = pq.read_table(case).filter(~mask)
    with CaseWriter(out, command="test") as writer:
        writer.begin_input("filtered", "simulate")
        for batch in table.combine_chunks().to_batches():
            writer.write(batch)
    return out


def test_every_live_detection_is_confirmed_when_nothing_is_missing(hollowing):
    found = statuses(hollowing)
    assert found
    assert {status for _, status in found} == {"confirmed"}


def test_live_rows_removed_show_reconstructed_only(hollowing, tmp_path):
    name = "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"
    case = without(hollowing, tmp_path / "no-live.parquet",
                   (pc.field("family") == "detection") & (pc.field("detection_name") == name))  # fmt: skip
    found = statuses(case)
    assert found[(name, "reconstructed-only")] == statuses(hollowing)[(name, "confirmed")] > 0
    assert {status for (rule, status) in found if rule != name} == {"confirmed"}


def test_evidence_removed_shows_live_only(hollowing, tmp_path):
    case = without(hollowing, tmp_path / "no-threads.parquet", pc.field("family") == "thread")
    found = statuses(case)
    assert found[("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", "live-only")] > 0
    assert found[("KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG", "live-only")] == 1
    assert not any(status == "confirmed" and rule.startswith("REMOTE_THREAD") for rule, status in found)


def test_host_without_live_rows_gives_reconstructed(hollowing, tmp_path):
    case = without(hollowing, tmp_path / "no-detections.parquet", pc.field("family") == "detection")
    assert {status for _, status in statuses(case)} == {"reconstructed"}


def test_mutual_nearest_within_2000_floor_ms(tmp_path):
    key = r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"

    def registry(ms: float) -> dict:
        return {"family": "registry", "ms": ms, "actor_pid": 7, "key_path": key}

    def live(ms: float, **kw: object) -> dict:
        return {"family": "detection", "ms": ms, "actor_pid": 7, "target_pid": 0,
                "detection_name": "HIGH_VALUE_REGISTRY_ACTIVITY", "severity": 2, **kw}  # fmt: skip

    rows = [registry(0), live(2000.999), registry(10_000), live(12_001), live(10_001), live(10_002),
            live(20_000, target_pid=None), {**live(30_000), "detection_name": "DRIVER_DISPATCH_OR_OBJECT_TAMPER",
                                             "actor_pid": 4, "severity": 5}]  # fmt: skip
    con = engine.connect(write_case(tmp_path / "c.parquet", rows))
    got = con.execute("SELECT trigger_event_id, status, live_event_id, rule FROM detections ORDER BY id").fetchall()
    assert got == [
        (1, "confirmed", 2, "HIGH_VALUE_REGISTRY_ACTIVITY"),  # 2000.999 ms apart: floor 2000
        (3, "confirmed", 5, "HIGH_VALUE_REGISTRY_ACTIVITY"),  # the nearest of three
        (6, "live-only", 6, "HIGH_VALUE_REGISTRY_ACTIVITY"),
        (4, "live-only", 4, "HIGH_VALUE_REGISTRY_ACTIVITY"),  # 2001 ms: too far
        (7, "live-only", 7, "HIGH_VALUE_REGISTRY_ACTIVITY"),  # a NULL pid matches nothing
        (8, "live-only", 8, "DRIVER_DISPATCH_OR_OBJECT_TAMPER"),
    ]


# Ties (section 10): each token is a row, event id = its position; `r@ms` a thread row that raises
# REMOTE_THREAD_OUTSIDE_MAIN_IMAGE, `l@ms` the live row of that name, all in one group. Runs of equal times match as
# units by mutual nearest time and pair off in id order; what the longer run has over the other stays unmatched.
TIES = {
    "2x2 at one time": ("r@0 r@0 l@1 l@1", [(1, 3), (2, 4)]),
    "3x2: a reconstructed leftover": ("r@0 r@0 r@0 l@1 l@1", [(1, 4), (2, 5)]),
    "2x3: a live leftover": ("r@0 r@0 l@1 l@1 l@1", [(1, 3), (2, 4)]),
    "interleaved ids pair in id order": ("l@5 r@5 l@5 r@5", [(2, 1), (4, 3)]),
    "equal distance either side: the earlier live run": ("l@900 r@1000 r@1000 l@1100 l@1100", [(2, 1)]),
    "equal distance either side: the earlier reconstructed run": ("r@900 l@1000 l@1000 r@1100 r@1100", [(1, 2)]),
    "equal distance: the earlier live run, not the lower id": ("l@1100 r@1000 l@900", [(2, 3)]),
    "runs at different times": ("r@0 r@0 l@10 l@10 r@5000 r@5000 l@5010", [(1, 3), (2, 4), (5, 7)]),
    "a run is one time: the other live row is not its nearest": ("r@0 r@0 l@0 l@0.001", [(1, 3)]),
    "runs 2001 ms apart do not match": ("r@0 r@0 l@2001 l@2001", []),
    "runs 2000.999 ms apart match": ("r@0 r@0 l@2000.999 l@2000.999", [(1, 3), (2, 4)]),
}


def tie_rows(spec: str) -> list[dict]:
    rows = []
    for eid, token in enumerate(spec.split(), 1):
        side, ms = token.split("@")
        rows.append(
            rowkit.thread(eid, float(ms), 100, 200) if side == "r" else rowkit.live(eid, float(ms), OUT, 100, 200)
        )
    return rows


OUT = "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"


@pytest.mark.parametrize("engine_name", ["model", "sql"])
@pytest.mark.parametrize("case", list(TIES))
def test_equal_time_runs_pair_off_in_id_order(tmp_path, case, engine_name):
    spec, pairs = TIES[case]
    rows = tie_rows(spec)
    path = write_case(tmp_path / "c.parquet", [{k: v for k, v in r.items() if k not in ("event_id", "ts")}
                                               | {"us": r["ts"]} for r in rows])  # fmt: skip
    if engine_name == "sql":
        got = engine.connect(path).execute("SELECT trigger_event_id, status, live_event_id FROM detections").fetchall()
    else:
        got = [(d.trigger_event_id, d.status, d.live_event_id) for d in model.analyze(case_rows(path))]
    reconstructed = [eid for eid, token in enumerate(spec.split(), 1) if token[0] == "r"]
    live = [eid for eid, token in enumerate(spec.split(), 1) if token[0] == "l"]
    matched = dict(pairs)
    expected = [
        (r, "confirmed", matched[r]) if r in matched else (r, "reconstructed-only", None) for r in reconstructed
    ]
    expected += [(eid, "live-only", eid) for eid in live if eid not in matched.values()]
    assert sorted(got) == sorted(expected)
