"""The case store: explicit schema, atomic writes, rejects as rows, manifests that reconcile, file/dir/glob reads."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from swk.errors import CaseError
from swk.store.reader import open_case
from swk.store.reject import Reject
from swk.store.schema import EVENTS, SCHEMA_VERSION, doc
from swk.store.summary import summarize
from swk.store.writer import CaseWriter, conform


def rows(n: int, family: str = "handle", start_pid: int = 100) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({
        "family": [family] * n,
        "ts": pa.array([1_700_000_000_000_000 + i for i in range(n)], type=EVENTS.field("ts").type),
        "actor_pid": pa.array([start_pid + i for i in range(n)], type=pa.int64()),
        "target_pid": pa.array([4] * n, type=pa.int64()),
    })  # fmt: skip


def test_schema_is_explicit_documented_and_signed() -> None:
    assert EVENTS.metadata[b"swk.schema_version"] == str(SCHEMA_VERSION).encode()
    for field in EVENTS:
        assert doc(field.name), f"{field.name} has no documentation"
        assert not pa.types.is_unsigned_integer(field.type), f"{field.name}: Spark reads UINT64 as decimal"
    assert EVENTS.field("ts").type == pa.timestamp("us", tz="UTC")
    assert len(set(EVENTS.names)) == len(EVENTS.names)


def test_conform_casts_and_refuses_unknown_columns() -> None:
    batch = pa.RecordBatch.from_pydict({"family": ["handle"], "access_mask": pa.array([0x3A], type=pa.int32())})
    out = conform(batch, {"event_id": pa.array([1], type=pa.int64())})
    assert out.schema == EVENTS and out.column("access_mask").to_pylist() == [0x3A]
    with pytest.raises(ValueError, match="not in the case schema"):
        conform(pa.RecordBatch.from_pydict({"family": ["x"], "bogus": [1]}), {})


def test_write_ids_rejects_and_reconciled_manifest(tmp_path: Path) -> None:
    case = tmp_path / "case.parquet"
    with CaseWriter(case, default_host="WS01") as w:
        w.begin_input("a.bin", "ioctl", sha256="00" * 32, size=3 * 768)
        w.write(rows(2))
        w.reject(Reject(768 * 2, "HANDLE_EVENT.FrameCount=97 > 8", b"\x00\x03", 768))
        w.begin_input("b.bin", "ioctl", size=768)
        w.write(rows(1, "thread"))
    table = pq.read_table(case)
    assert table.column("event_id").to_pylist() == [1, 2, 3, 4]
    assert table.column("family").to_pylist() == ["handle", "handle", "reject", "thread"]
    assert table.column("source_file").to_pylist() == ["a.bin", "a.bin", "a.bin", "b.bin"]
    assert table.column("host").to_pylist() == ["WS01"] * 4
    reject = table.slice(2, 1).to_pylist()[0]
    assert (reject["source_offset"], reject["raw_length"], reject["raw_preview"]) == (1536, 768, "00 03")
    manifest = open_case(case).manifest
    a, b = manifest["inputs"]
    assert (a["read"], a["written"], a["rejected"], a["first_event_id"], a["last_event_id"]) == (3, 2, 1, 1, 3)
    assert (b["read"], b["written"], b["rejected"]) == (1, 1, 0)
    assert manifest["rows"] == 3 and manifest["rejects"] == 1
    assert manifest["families"] == {"handle": 2, "thread": 1}


def test_a_failed_write_leaves_the_old_case_and_no_temporary(tmp_path: Path) -> None:
    case = tmp_path / "case.parquet"
    with CaseWriter(case) as w:
        w.begin_input("old", "ioctl")
        w.write(rows(3))
    before = case.read_bytes()
    with pytest.raises(RuntimeError), CaseWriter(case, row_group_rows=2) as w:
        w.begin_input("new", "ioctl")
        w.write(rows(5))  # flushes a row group into the temporary sibling
        raise RuntimeError("killed mid-ingest")
    assert case.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["case.parquet"]


def test_streaming_writes_bounded_row_groups(tmp_path: Path) -> None:
    case = tmp_path / "case.parquet"
    with CaseWriter(case, row_group_rows=1000) as w:
        w.begin_input("x", "ioctl")
        for i in range(10):
            w.write(rows(300, start_pid=i * 300))
    meta = pq.read_metadata(case)
    assert meta.num_rows == 3000
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 1200


def test_partitioned_case_reads_as_dir_and_glob(tmp_path: Path) -> None:
    case = tmp_path / "case"
    with CaseWriter(case, partitioned=True) as w:
        w.begin_input("x", "ioctl", host="WS01")
        w.write(rows(2))
        w.begin_input("y", "ioctl", host="DC'01")  # a quote and an odd character in a host name
        w.write(rows(3))
    assert sorted(p.parent.name for p in case.rglob("*.parquet")) == ["host=DC%2701", "host=WS01"]
    for spec in (case, str(case / "**" / "*.parquet")):
        c = open_case(spec)
        assert c.partitioned
        table = c.dataset().to_table()
        assert table.num_rows == 5 and sorted(set(table.column("host").to_pylist())) == ["DC'01", "WS01"]
        assert sorted(table.column("event_id").to_pylist()) == [1, 2, 3, 4, 5]
    assert summarize(open_case(case))["events"] == 5


@pytest.mark.parametrize("partitioned", [False, True])
def test_a_table_of_rows_naming_their_hosts_is_written_to_each_host(tmp_path: Path, partitioned: bool) -> None:
    # A pa.Table's columns are chunked; the rows' own host must win over the input's, split per host when partitioned.
    table = pa.Table.from_batches([rows(2), rows(2, start_pid=200)])
    table = table.append_column("host", pa.chunked_array([["A", "B"], [None, "B"]], type=pa.string()))
    case = tmp_path / "case"
    with CaseWriter(case, partitioned=partitioned) as w:
        w.begin_input("x", "simulate", host="DEFAULT")
        w.write(table)
    out = open_case(case).dataset().to_table().sort_by("event_id")
    assert out.column("host").to_pylist() == ["A", "B", "DEFAULT", "B"]
    assert out.column("actor_pid").to_pylist() == [100, 101, 200, 201]


def test_not_a_case_is_a_one_line_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"a": [1]}), plain)
    with pytest.raises(CaseError, match="not a swk case"):
        open_case(plain)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    with pytest.raises(CaseError, match="not a readable Parquet file"):
        open_case(junk)
    with pytest.raises(CaseError, match="no such case"):
        open_case(tmp_path / "missing.parquet")


def test_duckdb_reads_every_column_with_the_documented_types(tmp_path: Path) -> None:
    case = tmp_path / "it's a case.parquet"  # a quote in the path, escaped for the SQL literal
    with CaseWriter(case) as w:
        w.begin_input("x", "ioctl")
        w.write(rows(2))
    literal = "'" + str(case).replace("'", "''") + "'"
    con = duckdb.connect()
    described = dict(con.execute(f"describe select * from read_parquet({literal})").fetchall()[i][:2]
                     for i in range(len(EVENTS)))  # fmt: skip
    assert len(described) == len(EVENTS)
    assert described["event_id"] == "BIGINT" and described["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert described["status_open_process"] == "INTEGER" and described["exec_protect"] == "BOOLEAN"
    assert described["frames"] == 'STRUCT(address BIGINT, module VARCHAR, "offset" BIGINT)[]'
    assert con.execute(f"select count(*), max(actor_pid) from read_parquet({literal})").fetchall() == [(2, 101)]


def test_parts_closed_by_size_close_together_so_every_manifest_reconciles(tmp_path: Path) -> None:
    case = tmp_path / "case"
    with CaseWriter(case, partitioned=True, row_group_rows=4, part_rows=8) as w:
        w.begin_input("x", "ioctl", host="A")
        w.begin_input("y", "ioctl", host="B")
        for i in range(5):
            w.write(rows(3, start_pid=i * 10), w.inputs[0])
            w.write(rows(2, start_pid=i * 10), w.inputs[1])
    parts = sorted(case.rglob("*.parquet"), key=lambda p: pq.read_metadata(p).metadata[b"swk.manifest"])
    for part in parts:  # whatever part a reader stops at, the rows of the parts it lists equal its counts
        manifest = open_case(part).manifests[0]
        listed = [case / p for p in manifest["parts"]]
        assert sum(pq.read_metadata(p).num_rows for p in listed) == manifest["rows"] + manifest["rejects"]
