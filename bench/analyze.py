"""`swk analyze` at 1 M and 10 M events: every view, wall time and peak RSS, against the Python model replay.

The cases come from the generator: one simulated host (`swk.capture.simulate`, 200 k events, every technique over
benign activity) is tiled end to end, each copy shifted past the previous one's last event, so a 10 M-event case
keeps the generator's mix of families, processes and detections without a half-hour simulation. `build_dense`
(numpy, two hosts, ~600 processes, a third of all events on 40 busy pairs) is the stress variant: windows and
cooldown chains far longer than a real host's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
from harness import WORK, Measure

HOSTS = ("WS01", "SRV02")
SPAN_US = 2 * 3600 * 1_000_000
T0_US = 1_772_438_400_000_000  # 2026-03-02T08:00:00Z
NAMES = ("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", "REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT",
         "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION", "SUSPICIOUS_NTDLL_IMAGE_PATH", "HIGH_VALUE_REGISTRY_ACTIVITY",
         "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION")  # fmt: skip
PATHS = (r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll", r"\Device\HarddiskVolume3\Windows\SysWOW64\ntdll.dll",
         r"\Device\HarddiskVolume3\Windows\System32\kernel32.dll", r"\Device\HarddiskVolume3\Windows\System32\user32.dll",
         r"\SystemRoot\System32\drivers\ntfs.sys", r"\KnownDlls\ntdll.dll")  # fmt: skip
KEYS = (r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
        r"\REGISTRY\MACHINE\SOFTWARE\Classes\CLSID\{0000}", r"\REGISTRY\USER\S-1-5-21\Software\Microsoft\Office",
        r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters")  # fmt: skip
TI_NAMES = ("KERNEL_THREATINT_TASK_ALLOCVM_REMOTE", "KERNEL_THREATINT_TASK_PROTECTVM_REMOTE",
            "KERNEL_THREATINT_TASK_WRITEVM_REMOTE")  # fmt: skip


def _pick(rng: np.random.Generator, values: tuple, n: int, p: list[float] | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]


def build_table(n: int, seed: int = 1) -> pa.RecordBatch:
    """`n` events in time order, in the case's column types."""
    rng = np.random.default_rng(seed)
    family = rng.choice(np.array(["handle", "thread", "image", "registry", "ti", "process", "apc", "detection"]), n,
                        p=[0.45, 0.2, 0.1, 0.1, 0.1, 0.03, 0.005, 0.015])  # fmt: skip
    host = rng.choice(np.array(HOSTS), n)
    us = np.sort(rng.integers(T0_US, T0_US + SPAN_US, n))
    pids = rng.integers(1, 300, n) * 4
    # Busy pairs: a third of the events involve one of 40 (actor, target) pairs, half of them a process with itself.
    busy = rng.random(n) < 0.33
    pair = rng.integers(0, 40, n)
    actor = np.where(busy, 1000 + pair * 4, pids)
    target = np.where(busy, np.where(pair % 2 == 0, 1000 + pair * 4, 5000 + pair * 4), rng.integers(1, 300, n) * 4)
    target = np.where(rng.random(n) < 0.5, actor, target)  # many events act on the actor itself
    is_thread, is_handle = family == "thread", family == "handle"
    apc_host = host == HOSTS[0]
    family = np.where((family == "apc") & ~apc_host, "handle", family)  # the second host has no ApcTelemetry
    access = rng.choice(np.array([0x1FFFFF, 0x1000, 0x1410, 0x2A, 0x1A, 0x12]), n)
    corr = np.where(rng.random(n) < 0.5, rng.choice(np.array([1, 2, 3, 5, 7]), n), 0)
    ti_task = rng.choice(np.array([1, 2, 7]), n)
    kinds = np.where(is_thread & (rng.random(n) < 0.6), "sleepwalker:etw:ThreadTelemetry", "sleepwalker:ioctl:thread")
    cols: dict[str, pa.Array] = {
        "ts": pa.array(us, pa.timestamp("us", tz="UTC")),
        "family": pa.array(family),
        "kind": pa.array(np.where(is_thread, kinds, np.char.add("sleepwalker:etw:", family.astype(str)))),
        "host": pa.array(host),
        "actor_pid": pa.array(actor, pa.int64()),
        "target_pid": pa.array(np.where(family == "registry", 0, target), pa.int64()),
        "access_mask": pa.array(access, pa.int64()),
        "class_id": pa.array(np.where(is_handle, rng.choice(np.array([1, 1, 1, 1, 0, 2]), n), 0), pa.int32()),
        "class_name": pa.array(
            np.where(family == "apc", rng.choice(np.array(["REMOTE_APC_INTENT", "THREAD_CONTEXT_INTENT"]), n), None)
        ),
        "flags": pa.array(np.where(rng.random(n) < 0.9, 0x3C600, 0x3C600 | 0x800), pa.int64()),
        "is_thread_object": pa.array(is_handle & (rng.random(n) < 0.2)),
        "corr_flags": pa.array(corr, pa.int64()),
        "corr_access_mask": pa.array(np.where(corr > 0, access, 0), pa.int64()),
        "corr_age_ms": pa.array(np.where(corr > 0, rng.integers(0, 5000, n), 0), pa.int64()),
        "outside_main_image": pa.array(rng.random(n) < 0.95),
        "got_start": pa.array(np.full(n, True)),
        "start_address": pa.array(rng.integers(0x7FF600000000, 0x7FF700000000, n), pa.int64()),
        "image_base": pa.array(np.full(n, 0x7FF600000000), pa.int64()),
        "image_size": pa.array(np.full(n, 0x1000), pa.int64()),
        "start_region_exec": pa.array(np.full(n, True)),
        "start_region_status": pa.array(np.zeros(n, np.int32), pa.int32()),
        "start_region_type": pa.array(np.where(rng.random(n) < 0.97, 0x1000000, 0x20000), pa.int64()),
        "start_region_protect": pa.array(np.where(rng.random(n) < 0.97, 0x20, 0x40), pa.int64()),
        "image_path": pa.array(
            np.where(family == "image", _pick(rng, PATHS, n, [0.15, 0.05, 0.3, 0.3, 0.15, 0.05]), None)
        ),
        "is_system_mode": pa.array(np.where(family == "image", rng.random(n) < 0.1, None), pa.bool_()),
        "key_path": pa.array(np.where(family == "registry", _pick(rng, KEYS, n), None)),
        "detection_name": pa.array(np.where(family == "detection", _pick(rng, NAMES, n), None)),
        "severity": pa.array(np.where(family == "detection", 4, None), pa.int32()),
        "event_name": pa.array(
            np.where(family == "ti", np.asarray(TI_NAMES, dtype=object)[np.searchsorted([1, 2, 7], ti_task)], None)
        ),
        "task": pa.array(np.where(family == "ti", ti_task, None), pa.int32()),
        "region_size": pa.array(np.where(family == "ti", rng.choice(np.array([0x1000, 0x10000]), n), None), pa.int64()),
        "protect": pa.array(np.where(family == "ti", rng.choice(np.array([0x04, 0x20, 0x40]), n), None), pa.int64()),
        "old_protect": pa.array(np.where(family == "ti", rng.choice(np.array([0, 0x04, 0x20]), n), None), pa.int64()),
    }
    return pa.table(cols).combine_chunks().to_batches(max_chunksize=n)[0]


def build_dense(n: int, *, seed: int = 1) -> Path:
    """`.bench/analyze-dense-<n>.parquet` from `build_table`, built once and reused."""
    from swk.store.writer import CaseWriter

    path = WORK / f"analyze-dense-{n}.parquet"
    if path.exists():
        return path
    WORK.mkdir(exist_ok=True)
    chunk = 1_000_000
    with CaseWriter(path, command="bench") as writer:
        writer.begin_input("bench", "simulate")
        for start in range(0, n, chunk):
            writer.write(build_table(min(chunk, n - start), seed=seed + start))
    return path


def seed_case() -> Path:
    """One simulated host of 200 k events, every technique over benign activity (built once)."""
    from swk.capture.simulate import Options, simulate

    out = WORK / "analyze-seed"
    if not (out / "case.parquet").exists():
        simulate(out, Options(seed=11, events=200_000))
    return out / "case.parquet"


def build_case(n: int) -> Path:
    """`.bench/analyze-<n>.parquet`: the simulated host tiled to `n` events (fresh event ids, shifted times)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from swk.store.writer import CaseWriter

    path = WORK / f"analyze-{n}.parquet"
    if path.exists():
        return path
    seed = pq.read_table(seed_case()).drop_columns(["event_id"])
    ts = seed.column("ts").cast(pa.int64())
    span = pc.max(ts).as_py() - pc.min(ts).as_py() + 1_000_000
    with CaseWriter(path, command="bench") as writer:
        writer.begin_input("bench", "simulate")
        done, copy = 0, 0
        while done < n:
            part = seed.slice(0, min(seed.num_rows, n - done))
            shifted = pc.add(part.column("ts").cast(pa.int64()), copy * span).cast(pa.timestamp("us", tz="UTC"))
            part = part.set_column(part.schema.get_field_index("ts"), "ts", shifted)
            for batch in part.combine_chunks().to_batches():
                writer.write(batch)
            done, copy = done + part.num_rows, copy + 1
    return path


def analyze(n: int, dense: bool = False) -> int:
    """A full `swk analyze`: every view, the summary, the reconciliation counts, the limits checked."""
    from swk.analyze.queries import run_analysis

    rows = run_analysis(build_dense(n) if dense else build_case(n))
    print(f"{n:,} events -> {sum(r[4] for r in rows):,} detections", file=sys.stderr)
    return n


def model_replay(n: int, dense: bool = False) -> int:
    """The Python model replay of the same case (the baseline), rows streamed as `swk.capture.simulate` reads them."""
    from swk.capture.simulate import case_rows
    from swk.kernel.model import analyze as replay

    replay(case_rows(build_dense(n) if dense else build_case(n)), table="per-key")
    return n


MEASURES = [
    Measure("analyze 1M events (events/s)", "analyze:analyze", {"n": 1_000_000},
            baseline="analyze:model_replay", baseline_kwargs={"n": 1_000_000}),
    Measure("analyze 10M events (events/s)", "analyze:analyze", {"n": 10_000_000},
            baseline="analyze:model_replay", baseline_kwargs={"n": 10_000_000}),
    Measure("analyze 1M dense events (events/s)", "analyze:analyze", {"n": 1_000_000, "dense": True}),
]  # fmt: skip


if __name__ == "__main__":
    for size in (1_000_000, 10_000_000):
        print(build_case(size), build_dense(size))
