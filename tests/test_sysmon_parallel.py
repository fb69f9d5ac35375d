"""Large inputs are decoded in worker processes: the rows, rejects and counts must be the ones of one process."""

from __future__ import annotations

import os
import zipfile

import pytest

from swk.capture.sysmon import evtx_file, json_lines, parallel
from swk.capture.sysmon.samples import collect

EVTX = "evtx-attack-samples/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx"  # 15 chunks
OTRF = "otrf/purplesharp_pe_injection_createremotethread.zip"


def _same(one, many) -> None:
    assert many.rows.equals(one.rows)
    assert many.rejects == one.rejects
    assert (many.ctx.skipped, many.ctx.warnings) == (one.ctx.skipped, one.ctx.warnings)


@pytest.mark.slow
def test_evtx_chunk_ranges_in_workers_give_the_same_case(shared_data, tmp_path, monkeypatch):
    data = bytearray((shared_data / EVTX).read_bytes())
    data[4096 + 65536 + 512 + 24] ^= 0xFF  # a damaged record in chunk 1, so rejects cross the process boundary too
    path = tmp_path / "x.evtx"
    path.write_bytes(bytes(data))
    one = collect(evtx_file, path)
    monkeypatch.setattr(evtx_file, "PARALLEL_CHUNKS", 1)
    monkeypatch.setattr(evtx_file, "CHUNKS_PER_TASK", 2)
    assert parallel.WORKERS > 1, "these tests need two cores"
    many = collect(evtx_file, path)
    assert len(one.rows) == 564 and len(one.rejects) == 1
    _same(one, many)


@pytest.mark.slow
def test_json_line_blocks_in_workers_give_the_same_case(shared_data, tmp_path, monkeypatch):
    with zipfile.ZipFile(shared_data / OTRF) as zf:
        (member,) = zf.infolist()
        lines = zf.read(member).split(b"\n")
    lines[100] = lines[100][:50]  # a damaged line
    path = tmp_path / "x.json"
    path.write_bytes(b"\n".join(lines))
    one = collect(json_lines, path)
    monkeypatch.setattr(json_lines, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(json_lines, "BLOCK", 64 << 10)
    many = collect(json_lines, path)
    assert len(one.rows) == 691 and [r.offset for r in one.rejects] == [101]
    _same(one, many)


def test_broken_workers_fall_back_to_this_process(monkeypatch):
    class Pool:  # what a pool whose workers died at start answers
        def submit(self, fn, *task):
            from concurrent.futures import Future

            future: Future = Future()
            future.set_exception(parallel.BrokenProcessPool("no workers here"))
            return future

        def shutdown(self, **_kw):
            pass

    monkeypatch.setattr(parallel, "WORKERS", 2)
    monkeypatch.setattr(parallel, "_pool", Pool())
    parts = list(parallel.ordered(lambda i: parallel.Part(skipped=i), [(1,), (2,), (3,)], parallel=True))
    assert [p.skipped for p in parts] == [1, 2, 3]
    assert parts[0].warnings == ["worker processes could not start; decoding in this process"]
    assert parallel._pool is None


def test_a_program_read_from_standard_input_decodes_here(monkeypatch):
    """Workers re-import the main module by its path; `python - < script` has none a worker could open."""
    import sys
    import types

    monkeypatch.setattr(parallel, "WORKERS", 2)
    monkeypatch.setattr(parallel, "_pool", None)
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__file__="<stdin>"))
    parts = list(parallel.ordered(lambda i: parallel.Part(skipped=i, warnings=[str(os.getpid())]), [(1,), (2,)],
                                  parallel=True))  # fmt: skip
    assert [p.skipped for p in parts] == [1, 2] and {p.warnings[0] for p in parts} == {str(os.getpid())}
    assert parallel._pool is None
