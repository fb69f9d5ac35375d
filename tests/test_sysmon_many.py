"""Small EVTX files read together (`evtx_file.read_many`, one batch for many files) give what each gives alone:
the same rows and rejects in the same order, the same warnings, each file's context complete before a later file's
first item, and the same case and messages through `swk ingest`.

The group mixes what can differ per file: a file whose clocks are skewed and one with garbled images (warnings
counted per file), a damaged copy (a reject between rows), a file cut inside its header, and clean files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from swk.capture import ingest as ingest_module
from swk.capture.base import ReadContext, Reject
from swk.capture.sysmon import evtx_file, parallel
from swk.capture.sysmon.rows import Rows
from swk.errors import WrongFormat
from swk.store.schema import EVENTS
from swk.store.writer import conform

SAMPLES = "evtx-attack-samples"
SKEWED = f"{SAMPLES}/Lateral Movement/smb_bi_auth_conn_spoolsample.evtx"  # TimeCreated 36 h off UtcTime
GARBLED = f"{SAMPLES}/Defense Evasion/de_unmanagedpowershell_psinject_sysmon_7_8_10.evtx"  # a garbled SourceImage
DAMAGED = f"{SAMPLES}/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx"  # 15 chunks, damaged below
CLEAN = [
    f"{SAMPLES}/Credential Access/{name}" for name in ("CA_DCSync_4662.evtx", "CA_hashdump_4663_4656_lsass_access.evtx")
]


@pytest.fixture
def files(shared_data: Path, tmp_path: Path) -> list[Path]:
    damaged = bytearray((shared_data / DAMAGED).read_bytes())
    damaged[4096 + 65536 + 512 + 24] ^= 0xFF  # a record header in chunk 1: a reject with rows on both sides
    cut = (shared_data / CLEAN[0]).read_bytes()[:100]
    made = []
    for name, data in (("damaged.evtx", bytes(damaged)), ("cut.evtx", cut)):
        made.append(tmp_path / name)
        made[-1].write_bytes(data)
    paths = [shared_data / CLEAN[0], shared_data / SKEWED, made[0], shared_data / GARBLED, made[1],
             shared_data / CLEAN[1]]  # fmt: skip
    assert all(p.stat().st_size <= evtx_file.MANY_UP_TO for p in paths)
    return paths


@pytest.fixture(params=["here", "workers"])
def where(request, monkeypatch) -> str:
    """Read in this process, or (as a triage's many small logs are) in worker processes, in three units of work."""
    if request.param == "workers":
        assert parallel.WORKERS > 1, "these tests need two cores"
        monkeypatch.setattr(evtx_file, "PARALLEL_RECORDS", 0)
        monkeypatch.setattr(evtx_file, "PARALLEL_CHUNKS", 0)
        monkeypatch.setattr(evtx_file, "CHUNKS_PER_TASK", 3)  # units: files 0-1, 2 (damaged), 3-5
    return request.param


def _flat(items: list[tuple[int, pa.RecordBatch | Reject]]) -> dict[int, list[object]]:
    """Per file, what came in order: ("row", its columns) for each row, the reject itself for each reject."""
    out: dict[int, list[object]] = {}
    for position, item in items:
        if isinstance(item, Reject):
            out.setdefault(position, []).append(item)
        else:
            out.setdefault(position, []).extend(("row", r) for r in conform(item, {}).to_pylist())
    return out


def test_small_files_read_together_give_what_each_gives_alone(files: list[Path], where: str) -> None:
    alone_ctxs = [ReadContext() for _ in files]
    alone = [(i, item) for i, (path, ctx) in enumerate(zip(files, alone_ctxs, strict=True))
             for item in evtx_file.read(path, ctx)]  # fmt: skip

    ctxs = [ReadContext() for _ in files]
    together: list[tuple[int, pa.RecordBatch | Reject]] = []
    shared = 0  # batches holding rows of more than one file
    for at, item in evtx_file.read_many(files, ctxs):
        first = at if isinstance(at, int) else at[0][0]
        for earlier in range(first):  # complete before a later file's item comes
            assert ctxs[earlier].warnings == alone_ctxs[earlier].warnings, files[earlier].name
        if isinstance(item, Reject):
            together.append((at, item))  # type: ignore[arg-type]
            continue
        shared += len(at) > 1  # type: ignore[arg-type]
        start = 0
        for position, rows in at:  # type: ignore[union-attr]
            together.append((position, item.slice(start, rows)))
            start += rows
        assert start == item.num_rows

    assert _flat(together) == _flat(alone)
    assert [c.warnings for c in ctxs] == [c.warnings for c in alone_ctxs]
    assert alone_ctxs[1].warnings and alone_ctxs[3].warnings  # the skewed and garbled files do warn
    assert any(isinstance(item, Reject) for position, item in alone if position == 2)
    assert any(isinstance(item, Reject) for position, item in alone if position == 4)
    assert shared
    assert where == "here" or parallel._pool is not None  # the units went to worker processes


def test_a_file_that_is_not_evtx_ends_the_group_after_the_files_before_it(files, tmp_path, where) -> None:
    # (it passed the sniff when planned, and was replaced before it was read): the error comes from the worker
    # process that read it, after every item of the files before it
    other = tmp_path / "other.evtx"
    other.write_bytes(b"PK\x03\x04" + files[0].read_bytes()[4:])
    group = [*files[:3], other, files[5]]
    got: list[object] = []
    with pytest.raises(WrongFormat, match=r"other\.evtx @0x00000000: file header magic 50 4b 03 04") as err:
        for at, _item in evtx_file.read_many(group, [ReadContext() for _ in group]):
            got.append(at if isinstance(at, int) else at[-1][0])
    assert err.value.path == str(other) and err.value.offset == 0
    assert got and max(got) == 2  # the damaged file (2) was read whole; nothing of a later file came


def test_ingest_of_small_files_together_is_ingest_one_at_a_time(files, tmp_path, monkeypatch, where) -> None:
    def run(name: str) -> tuple[pa.Table, dict, list[str]]:
        lines: list[str] = []
        case = tmp_path / f"{name}.parquet"
        manifest = ingest_module.ingest(files, case, ingest_module.Options(), announce=lines.append)
        for key in ("run_id", "created_utc", "parts"):
            manifest.pop(key)
        return pq.read_table(case, schema=EVENTS), manifest, lines

    together = run("case")
    monkeypatch.setattr(ingest_module, "_groups", lambda inputs: ([item] for item in inputs))
    alone = run("case")
    assert together[0].equals(alone[0])
    assert together[1] == alone[1]
    assert together[2] == alone[2]
    assert any(": warning: " in line for line in alone[2])
    for inp in alone[1]["inputs"]:
        assert inp["read"] == inp["written"] + inp["rejected"]


def test_unreadable_times_count_for_the_input_whose_rows_are_alone_in_a_batch() -> None:
    # a batch of one input's rows (a file's own flush, or the last file after the others were flushed) counts its
    # unreadable times to that input, as a batch shared by several inputs does: not to the reader's own counts
    rows = Rows(unescape=False, system_clock="event-time")
    head = ("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, "HOST", 1, 4, 5, "not a time")
    first = rows.begin_input(0)
    rows.add(head, {"UtcTime": "garbage"}, 0, "{}")
    rows.flush()
    second = rows.begin_input(1)
    rows.add(head, {"UtcTime": "garbage"}, 1, "{}")
    rows.add(head, {"UtcTime": "garbage"}, 2, "{}")
    rows.flush()
    assert (first.bad_utc, first.bad_system_time) == (1, 1)
    assert (second.bad_utc, second.bad_system_time) == (2, 2)
    assert (rows.stats.bad_utc, rows.stats.bad_system_time) == (0, 0)
