"""The columnar replay `analyze_batches()` equals the row-by-row `analyze()` (its reference) on the generator's
mixed run, on each scenario alone and on benign activity alone (both chain tables), on dense random cases around the
window edges with NULLs and interleaved hosts, at any batch size."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from swk.analyze.testing import table as rows_table
from swk.capture.simulate import SCENARIOS, Options, case_columns, case_rows, simulate
from swk.capture.simulate.case_rows import ArrowColumns, is_ordered
from swk.kernel.model import OrderError, analyze, analyze_batches, rowkit
from swk.store.writer import CaseWriter


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return simulate(tmp_path_factory.mktemp("mixed"), Options(events=30_000, seed=11, formats=())).case


@pytest.mark.parametrize("table", ["per-key", "driver"])
@pytest.mark.parametrize("batch_rows", [65_536, 1_000, 7])
def test_mixed_run_every_technique(mixed, table, batch_rows):
    want = analyze(case_rows(mixed), table=table)
    got = analyze_batches(case_columns(mixed, batch_rows), table=table)
    assert len(want) > 1000
    assert got == want


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_alone(tmp_path, name):
    case = simulate(tmp_path, Options(scenarios=(name,), benign=False, formats=())).case
    for table in ("per-key", "driver"):
        want = analyze(case_rows(case), table=table)
        assert want  # every scenario raises something
        for batch_rows in (65_536, 5):
            assert analyze_batches(case_columns(case, batch_rows), table=table) == want


@pytest.fixture(scope="module")
def benign(tmp_path_factory):
    """Benign activity only: the bulk (registry, handle, image) rows and the noise detections of spawns."""
    return simulate(tmp_path_factory.mktemp("benign"), Options(events=60_000, seed=23, scenarios=(), formats=())).case


@pytest.mark.parametrize("table", ["per-key", "driver"])
@pytest.mark.parametrize("batch_rows", [65_536, 97])
def test_benign_bulk(benign, table, batch_rows):
    want = analyze(case_rows(benign), table=table)
    assert len(want) > 100
    assert analyze_batches(case_columns(benign, batch_rows), table=table) == want


EDGES_MS = (0, 0.001, 999.999, 1000, 1001, 1999, 2000, 2001, 2999, 3000, 3001, 5000, 5000.999, 5001, 29999, 30000,
            30001, 60000, 60001)  # fmt: skip


def _rows(seed: int, n: int, ordered: bool) -> list[dict[str, Any]]:
    """Few pids (some NULL), times on the window edges, every family the rules read, two hosts interleaved."""
    rng = random.Random(seed)
    rows, now = [], 0.0
    pids = (100, 104, 0, 2056, None)
    for _ in range(n):
        now += rng.choice((0, 0, 0.001, 1, 500, 1000))
        ms = now if ordered else now + rng.choice(EDGES_MS) * rng.choice((0, 0, 1))
        family = rng.choice(("handle", "handle", "handle", "thread", "thread", "apc", "image", "registry", "ti",
                             "detection", "process"))  # fmt: skip
        row: dict[str, Any] = {"family": family, "ms": ms, "actor_pid": rng.choice(pids),
                               "target_pid": rng.choice(pids), "host": rng.choice(("A", "A", "B"))}  # fmt: skip
        if family == "handle":
            row.update(access_mask=rng.choice((0x10, 0x12, 0x1FFFFF, 0x1000, None)), class_id=rng.choice((1, 2, None)),
                       flags=rng.choice((None, 0x3C600, 0x3CE00)), is_thread_object=rng.choice((True, False, None)))  # fmt: skip
        elif family == "thread":
            row.update(kind=rng.choice(("sleepwalker:etw:ThreadTelemetry", "sleepwalker:ioctl:thread")),
                       corr_flags=rng.choice((None, 0, 1, 2, 4, 7)), corr_access_mask=rng.choice((None, 0, 0x1FFFFF)),
                       corr_age_ms=rng.choice((None, 0, 9)), outside_main_image=rng.choice((True, False, None)),
                       got_start=rng.choice((True, None)), start_region_exec=True, start_region_status=0,
                       start_region_type=rng.choice((0x1000000, 0x20000, None)), start_region_protect=0x20,
                       start_address=0x10000, image_base=0x400000, image_size=0x1000)  # fmt: skip
        elif family == "apc":
            row.update(class_name=rng.choice(("REMOTE_APC_INTENT", "THREAD_CONTEXT_INTENT", None)),
                       access_mask=rng.choice((0x10, 0x12)))  # fmt: skip
        elif family == "image":
            row.update(image_path=rng.choice((r"\Windows\System32\ntdll.dll", r"\KnownDlls\ntdll.dll", "x.dll", None)),
                       is_system_mode=rng.choice((False, None, True)), target_pid=rng.choice((100, 104, 2052, None)))  # fmt: skip
        elif family == "registry":
            row.update(key_path=rng.choice((r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
                                            r"\REGISTRY\MACHINE\SOFTWARE\Classes", None)))  # fmt: skip
        elif family == "ti":
            row.update(task=rng.choice((1, 2, 7)), region_size=0x8000, protect=rng.choice((0x04, 0x20)), old_protect=0x04,
                       event_name=rng.choice(("CreateProcessSuspended", "NtRollbackTransaction", "x")),
                       creation_flags=4)  # fmt: skip
        elif family == "detection":
            row.update(detection_name=rng.choice(("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", "THREAD_HIJACK_INTENT",
                                                  "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "UNKNOWN_X", None)),
                       severity=5, reason=None)  # fmt: skip
        rows.append(row)
    return rows


def write_case(path, rows):
    """Rows with their own `host` column (event ids 1..n in row order)."""
    with CaseWriter(path, command="test") as writer:
        writer.begin_input("rows", "simulate")
        writer.write(rows_table(rows).combine_chunks().to_batches()[0])
    return path


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_dense_random_cases_on_the_edges(tmp_path, seed, ordered):
    case = write_case(tmp_path / "edges.parquet", _rows(seed, 4_000, ordered))
    assert is_ordered(case) == ordered  # interleaved hosts as stored, or sorted through DuckDB first
    for table in ("per-key", "driver"):
        want = analyze(case_rows(case), table=table)
        assert len(want) > 300
        for batch_rows in (65_536, 333, 1):
            assert analyze_batches(case_columns(case, batch_rows), table=table) == want


def test_out_of_order_stream_fails_as_analyze_does():
    rows = [rowkit.thread(1, 0, 100, 200), rowkit.thread(2, 5, 100, 200, host="B"), rowkit.thread(3, 10, 1, 2),
            rowkit.handle(4, 9, 100, 200), rowkit.thread(5, 1, 1, 2, host="B")]  # fmt: skip
    with pytest.raises(OrderError) as want:
        analyze(iter(rows))
    batch = pa.RecordBatch.from_pylist(rows)
    with pytest.raises(OrderError) as got:
        analyze_batches([ArrowColumns(batch.slice(0, 2)), ArrowColumns(batch.slice(2))])
    assert str(got.value) == str(want.value)
