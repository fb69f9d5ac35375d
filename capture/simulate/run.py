"""A simulation run as a case: `case.parquet`, `truth.json`, and Sleepwalker's own outputs of the same events.

The host is loaded with Sleepwalker at `start` (so the driver's tables start empty with the capture, as the replay
assumes); processes already running are its baseline. Technique scenarios start at evenly spread times; benign
activity fills the whole duration at the requested rate.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swk.capture.simulate import evasion, techniques  # noqa: F401  (they register the scenarios)
from swk.capture.simulate import truth as truthfile
from swk.capture.simulate.benign import Benign, Mix
from swk.capture.simulate.scenario import SCENARIOS
from swk.capture.simulate.sim import MS, Simulation
from swk.capture.simulate.world import build
from swk.errors import SwkError
from swk.kernel.clock import iso, to_ns
from swk.store.writer import CaseWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pyarrow as pa

QPC_FREQUENCY = 10_000_000
OUTPUT_BATCH_ROWS = 16_384
DEFAULT_START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DEFAULT_RATE = 1000  # events per second when no duration is given
FORMAT_FILES = {"ioctl": "events.bin", "jsonl": "events.swk.jsonl", "console": "client-console.txt",
                "printer": "etw-printer.txt", "suite": "test-suite.txt", "controller": "controller.log",
                "etl": "events.etl"}  # fmt: skip
HIGH_PRIORITY_FILE = "high_priority.swk.jsonl"  # written with `jsonl`, as the client writes both files


@dataclass
class Options:
    """What to simulate."""

    seed: int = 1
    host: str = "WS-ALICE01"
    start: datetime = DEFAULT_START
    events: int = 200_000  # approximate case rows of benign activity over the duration
    duration_s: float | None = None  # default: events / 1000 per second
    scenarios: tuple[str, ...] | None = None  # None: every technique
    benign: bool = True
    mix: Mix = field(default_factory=Mix)
    formats: tuple[str, ...] = ("ioctl",)
    reference: bool = False  # run the bulk benign operations one by one (slow; the fast path's reference)
    handle_work: tuple[int, int] | None = None  # the driver's handle work queue (limit, µs per item); None: 2048, 20


@dataclass
class Result:
    """What a run wrote."""

    case: Path
    truth: Path
    outputs: dict[str, Path]
    rows: int
    detections: Counter
    boot_time: datetime
    meta: dict[str, Any]


def _check(options: Options) -> tuple[str, ...]:
    names = tuple(SCENARIOS) if options.scenarios is None else options.scenarios
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SwkError(f"unknown scenario {', '.join(unknown)}", hint="see `swk simulate --list`")
    from swk.capture.outputs import WRITERS

    bad = [f for f in options.formats if f not in WRITERS]
    if bad:
        raise SwkError(f"unknown output format {', '.join(bad)}", hint=f"choose from {', '.join(WRITERS)}")
    return names


def simulate(out_dir: Path, options: Options) -> Result:
    """Run the simulation into `out_dir`."""
    names = _check(options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"run:{options.seed}")
    start_us = to_ns(options.start) // 1000
    boot = options.start - timedelta(seconds=rng.randrange(2 * 3600, 30 * 3600), microseconds=rng.randrange(10**6))
    boot_us = to_ns(boot) // 1000
    # every technique must finish inside the run: scenario i starts at start + 1 s + i * slot
    longest = max((SCENARIOS[n].span_ms for n in names), default=0) * 1000
    wanted_s = options.duration_s or (options.events / DEFAULT_RATE if options.benign else 0)
    needed_us = 2_000_000 + longest + 4_000_000 * max(0, len(names) - 1)
    end_us = start_us + max(int(wanted_s * 1e6), needed_us)
    duration_s = (end_us - start_us) / 1e6
    slot = (end_us - start_us - 2_000_000 - longest) // max(1, len(names) - 1) if len(names) > 1 else 0
    meta = {"seed": options.seed, "host": options.host, "scenarios": list(names), "start": iso(start_us * 1000),
            "end": iso(end_us * 1000), "boot_time": iso(boot_us * 1000), "qpc_frequency": QPC_FREQUENCY,
            "events_requested": options.events if options.benign else 0, "benign": options.benign,
            "mix": vars(options.mix) if options.benign else None, "work_queue_delay": "none"}  # fmt: skip
    case_path = out_dir / "case.parquet"
    truth = truthfile.TruthStream(out_dir / "truth.json")
    writer = CaseWriter(case_path, command="simulate", default_host=options.host, extra={"simulation": meta})
    writer.set_clock({"qpc_frequency": QPC_FREQUENCY, "boot_time": iso(boot_us * 1000)})
    with ExitStack() as ioctl_file, _short_gil_turns():
        deliver = _deliver(ioctl_file, writer, out_dir, options.formats, boot_us)
        with writer:
            writer.begin_input(f"simulate:{options.host}", "simulate", host=options.host)
            sim = Simulation(options.host, options.seed, start_us, boot_us, deliver, QPC_FREQUENCY,
                             handle_work=options.handle_work)  # fmt: skip
            try:
                # a detection is final once the clock is 2 s past it (route A completes its evidence within 1000 ms)
                sim.sink.on_flush = lambda: truth.add(sim.driver.drain(sim.sink.last_ts - 2_000_000))
                base = build(sim)
                for i, name in enumerate(names):
                    SCENARIOS[name].run(sim, base, start_us + 1000 * MS + i * slot)
                sim.schedule_tamper_checks(end_us)
                if options.benign:
                    rate = options.events / duration_s
                    Benign(sim, base, events_per_s=rate, mix=options.mix, seed=options.seed,
                           reference=options.reference).run(start_us, end_us)  # fmt: skip
                else:
                    sim.run_until(end_us)
                sim.sink.flush()
            finally:
                sim.sink.close()  # every row delivered before the case is committed (or aborted)
        truth.add(sim.driver.drain())
        truth.finish(meta)
    outputs = {"ioctl": out_dir / FORMAT_FILES["ioctl"]} if "ioctl" in options.formats else {}
    outputs.update(write_outputs(case_path, out_dir, tuple(f for f in options.formats if f != "ioctl"), sim, boot_us))
    return Result(case_path, truth.path, outputs, sim.sink.rows, truth.rules, boot, meta)


@contextmanager
def _short_gil_turns(seconds: float = 0.001) -> Iterator[None]:
    """The interpreter's switch interval at most `seconds` while it runs. The simulation holds the GIL almost all
    the time; the sink thread gives it up in every Arrow and numpy call and then waits up to the interval (5 ms by
    default) to get it back, and the simulation waits for the sink at the next flush. 1 M events: the run's wall
    time beyond the simulation's CPU time went from 1.1-1.3 s to 0.8-1.0 s."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _deliver(stack: ExitStack, writer: CaseWriter, out_dir: Path, formats: tuple[str, ...],
             boot_us: int) -> Callable[[pa.RecordBatch], None]:  # fmt: skip
    """Where the sink's batches go: the case, and the IOCTL record file when it is asked for. The records are encoded
    on the sink thread as the rows are written (read back from the case after the run, they cost ~1.5 s per 1 M
    events after the simulation instead of beside it); the file appears when `stack` closes."""
    if "ioctl" not in formats:
        return writer.write
    from swk.capture.outputs import IoctlRecords, OutputContext, atomic_output

    records = IoctlRecords(stack.enter_context(atomic_output(out_dir / FORMAT_FILES["ioctl"])),
                           OutputContext(boot_ns=boot_us * 1000, qpc_frequency=QPC_FREQUENCY))  # fmt: skip

    def deliver(batch: pa.RecordBatch) -> None:
        writer.write(batch)
        for start in range(0, batch.num_rows, OUTPUT_BATCH_ROWS):  # the encoder's arrays are per slice: peak RSS
            records.add(batch.slice(start, OUTPUT_BATCH_ROWS))

    return deliver


def write_outputs(case_path: Path, out_dir: Path, formats: tuple[str, ...], sim: Simulation,
                  boot_us: int) -> dict[str, Path]:  # fmt: skip
    """Each requested Sleepwalker output of the case's rows (through `swk.capture.outputs.WRITERS`)."""
    import pyarrow.parquet as pq

    from swk.capture.outputs import WRITERS, OutputContext, columns

    host = sim.host
    # the writers call resolve(address, pid); processes that exited during the run are gone from the host, as they
    # were from the live viewer's view
    ctx = OutputContext(resolve=lambda address, pid: host.symbolize(pid, address),
                        process_image=lambda pid: _win32(host, pid), query_image=host.image_of,
                        boot_ns=boot_us * 1000, qpc_frequency=QPC_FREQUENCY)  # fmt: skip
    written = {}
    for fmt in formats:
        path = out_dir / FORMAT_FILES[fmt]
        # small batches of one file, not a dataset scan (which reads ahead many batches of ~150 columns, 1.5 GB per
        # 1 M rows); 16k rows, not a row group's 128k, and no pre-buffering: the reader's buffers and the writers'
        # per-batch arrays of every column would otherwise set the peak RSS of a run (the IOCTL writer alone on a
        # 5M-event case: 344 MiB by default, 266 MiB so, below the simulation's own peak)
        reader = pq.ParquetFile(case_path, pre_buffer=False)
        wanted = columns(fmt)
        if wanted is not None:
            wanted = [name for name in reader.schema_arrow.names if name in wanted]
        WRITERS[fmt](reader.iter_batches(batch_size=OUTPUT_BATCH_ROWS, columns=wanted), path, ctx)
        written[fmt] = path
        if fmt == "jsonl":  # the client's JSONL logging writes its high-priority file beside the main one (spec 5)
            high = out_dir / HIGH_PRIORITY_FILE
            batches = pq.ParquetFile(case_path, pre_buffer=False).iter_batches(batch_size=OUTPUT_BATCH_ROWS)
            WRITERS["jsonl_high_priority"](batches, high, ctx)
            written["jsonl_high_priority"] = high
    return written


def _win32(host: Any, pid: int) -> str | None:
    proc = host.processes.get(pid)
    return proc.path if proc is not None else None


def scenario_lines() -> list[str]:
    """One line per scenario: name, ATT&CK id, what it does (`swk simulate --list`)."""
    return [f"{s.name:<20} {s.attack:<10} {s.summary}" for s in SCENARIOS.values()]


def summary_lines(result: Result) -> list[str]:
    """What a run wrote, for the terminal."""
    w = max([9, *(len(fmt) + 1 for fmt in result.outputs)])
    lines = [f"{'case':<{w}} {result.case}  ({result.rows:,} events, host {result.meta['host']}, "
             f"{result.meta['start']} .. {result.meta['end']}, boot {result.meta['boot_time']})",
             f"{'truth':<{w}} {result.truth}  ({sum(result.detections.values()):,} detections)"]  # fmt: skip
    lines += [f"{fmt:<{w}} {path}" for fmt, path in result.outputs.items()]
    lines += [f"  {count:>8,}  {rule}" for rule, count in result.detections.most_common()]
    return lines
