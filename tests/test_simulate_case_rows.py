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


def test_sink_tables_are_merged_in_event_id_order():
    import pyarrow as pa

    from swk.capture.simulate.rows import in_id_order

    handles = pa.table({"event_id": [2, 5, 6], "ts": [20, 50, 60], "access_mask": [1, 2, 3]})
    threads = pa.table({"event_id": [1, 4], "tid": [7, 8], "ts": [10, 40]})
    registry = pa.table({"event_id": pa.chunked_array([[3], [7]]), "key_path": ["a", "b"]})
    merged = in_id_order([handles, threads, registry])
    # columns in order of first appearance, NULL where a table lacks one, one chunk
    assert merged.column_names == ["event_id", "ts", "access_mask", "tid", "key_path"]
    assert merged.to_pydict() == {
        "event_id": [1, 2, 3, 4, 5, 6, 7],
        "ts": [10, 20, None, 40, 50, 60, None],
        "access_mask": [None, 1, None, None, 2, 3, None],
        "tid": [7, None, None, 8, None, None, None],
        "key_path": [None, None, "a", None, None, None, "b"],
    }
    assert all(column.num_chunks == 1 for column in merged.columns)
