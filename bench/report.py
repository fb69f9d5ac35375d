"""`swk report` on 1 M and 10 M events: wall time, peak RSS and file size, against `swk analyze` on the same case.

The case is a simulated host (`swk simulate`: 200 k events of benign Windows activity with every injection
technique) repeated back to back, each copy shifted by the run's span, so its family mix and detection density are
the simulator's (about 6 % of events raise a detection). It is built once under .bench/. The report's size, cards
and detections go to .bench/report-<n>.json beside it.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from harness import WORK, Measure

BASE_EVENTS = 200_000
SEED = 3


def _simulated() -> Path:
    from swk.capture.simulate.run import Options, simulate

    out = WORK / "report-sim"
    if not (out / "case.parquet").exists():
        simulate(out, Options(events=BASE_EVENTS, seed=SEED))
    return out / "case.parquet"


def build_case(n: int) -> Path:
    """`.bench/report-<n>.parquet`: the simulated host repeated until it holds `n` events."""
    from swk.store.writer import CaseWriter

    path = WORK / f"report-{n}.parquet"
    if path.exists():
        return path
    base = pq.read_table(_simulated()).drop_columns(["event_id"]).combine_chunks()  # the writer numbers the copies
    lo, hi = pc.min_max(base.column("ts")).values()
    span = hi.as_py() - lo.as_py() + timedelta(seconds=1)
    host = base.column("host")[0].as_py()
    with CaseWriter(path, command="bench", default_host=host) as writer:
        writer.begin_input(f"bench:simulate x{math.ceil(n / base.num_rows)}", "simulate", host=host)
        written = 0
        for k in range(math.ceil(n / base.num_rows)):
            copy = base.slice(0, min(base.num_rows, n - written))
            shifted = pc.add(copy.column("ts"), pa.scalar(span * k, pa.duration("us")))
            for batch in copy.set_column(copy.schema.get_field_index("ts"), "ts", shifted).to_batches():
                writer.write(batch)
            written += copy.num_rows
    return path


def report(n: int) -> int:
    """`swk report` of the case; its size and counts recorded beside it."""
    from swk.reports.report import write_report

    out = WORK / f"report-{n}.html"
    written = write_report(build_case(n), out)
    facts = {"bytes": written.size, "cards": written.cards, "detections": written.detections}
    (WORK / f"report-{n}.json").write_text(json.dumps(facts))
    print(f"{n:,} events -> {written.size / 1e6:.1f} MB, {written.cards} cards of {written.detections:,}",
          file=sys.stderr)  # fmt: skip
    return n


def analyze(n: int) -> int:
    """`swk analyze` of the same case (the baseline: every view, the summary, the counts, the warnings)."""
    from swk.analyze.queries import run_analysis

    run_analysis(build_case(n))
    return n


MEASURES = [
    Measure("report 1M events (events/s)", "report:report", {"n": 1_000_000}, baseline="report:analyze",
            prepare="report:build_case"),
    Measure("report 10M events (events/s)", "report:report", {"n": 10_000_000}, baseline="report:analyze",
            prepare="report:build_case"),
]  # fmt: skip


if __name__ == "__main__":
    for size in (1_000_000, 10_000_000):
        print(build_case(size))
