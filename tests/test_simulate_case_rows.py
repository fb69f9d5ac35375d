"""Reading a case into model rows: a hive-partitioned case gets its host from the folder; an unsorted case is
sorted before the replay sees it."""

from __future__ import annotations

from datetime import UTC, datetime

from swk.capture.base import rows_to_batch
from swk.capture.simulate import case_rows
from swk.capture.simulate.case_rows import is_ordered
from swk.kernel.model import analyze, rowkit
from swk.store.writer import CaseWriter


def write(path, rows, partitioned=False):
    with CaseWriter(path, partitioned=partitioned) as writer:
        writer.begin_input("test", "simulate")
        for row in rows:
            fields = {k: v for k, v in row.items() if k != "event_id"}
            fields["ts"] = datetime.fromtimestamp(row["ts"] / 1e6, tz=UTC)
            writer.write(rows_to_batch([fields]))
    return path


def test_partitioned_case_rows_carry_their_host(tmp_path):
    rows = [rowkit.thread(1, 0, 100, 200, host="WS/01"), rowkit.thread(2, 5, 100, 200, host="SRV02")]
    case = write(tmp_path / "case", rows, partitioned=True)
    got = list(case_rows(case))
    assert sorted(r["host"] for r in got) == ["SRV02", "WS/01"]  # percent-encoded folder names decoded
    assert {d.host for d in analyze(case_rows(case))} == {"SRV02", "WS/01"}


def test_unsorted_case_is_sorted_before_the_replay(tmp_path):
    rows = [rowkit.thread(1, 10, 100, 200), rowkit.thread(2, 0, 100, 200)]  # written late first
    case = write(tmp_path / "case.parquet", rows)
    assert not is_ordered(case)
    got = list(case_rows(case))
    assert [r["ts"] for r in got] == sorted(r["ts"] for r in got)
    assert [d.trigger_event_id for d in analyze(case_rows(case)) if d.name == "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"] == [
        2,
        1,
    ]
