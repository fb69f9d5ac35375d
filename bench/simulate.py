"""The generator: `swk simulate` of a busy host (every technique over benign activity) writing the case and the
IOCTL record file, at 1 M and 5 M events, with its peak RSS.

The baseline writes the same rows again without simulating them: the generated case is read back a row group at a
time and written through `CaseWriter` and the `ioctl` output writer, so the ratio is the cost of simulating the host
and its driver on top of merely writing what they produced.

A third measure is the simulation alone (rows built, then dropped), against the full run: the rate the generator
could reach if writing cost nothing, which is what bounds it on a 2-core machine.
"""

from __future__ import annotations

import shutil
from unittest.mock import patch

import pyarrow.parquet as pq
from harness import WORK, Measure


def generate(n: int) -> int:
    """Simulate `n` events into `.bench/simulate-<n>/` (case.parquet, truth.json, events.bin); returns rows."""
    from swk.capture.simulate import Options, simulate

    out = WORK / f"simulate-{n}"
    shutil.rmtree(out, ignore_errors=True)
    return simulate(out, Options(seed=5, events=n, formats=("ioctl",))).rows


def rewrite(n: int) -> int:
    """The baseline: write the generated rows again (case and IOCTL records), without simulating them."""
    from swk.capture.outputs import WRITERS, OutputContext, columns
    from swk.store.writer import CaseWriter

    source = WORK / f"simulate-{n}" / "case.parquet"
    if not source.exists():
        generate(n)
    out = WORK / f"simulate-{n}-rewrite"
    out.mkdir(exist_ok=True)
    rows = 0
    with CaseWriter(out / "case.parquet", command="bench") as writer:
        writer.begin_input("bench", "simulate")
        for batch in pq.ParquetFile(source).iter_batches(batch_size=65_536):
            writer.write(batch)
            rows += batch.num_rows
    # as the generator feeds it: only the columns the IOCTL writer reads
    batches = pq.ParquetFile(source).iter_batches(batch_size=65_536, columns=columns("ioctl"))
    WRITERS["ioctl"](batches, out / "events.bin", OutputContext())
    return rows


def simulate_alone(n: int) -> int:
    """The simulation by itself, as a bound: the same run, with every flush's rows built as the simulation builds
    them (tuples and bulk slices) and then dropped, so no Arrow table, Parquet or IOCTL record is made. What the
    generator's rate could be if writing cost nothing; returns the rows dropped."""
    from swk.capture.simulate import Options, rows, simulate

    dropped = 0

    def drop(sink: rows.CaseSink) -> list:
        nonlocal dropped
        dropped += sink.pending  # every row since the last flush, the producers' included
        for producer in sink.producers:
            producer._slices = []  # the bulk stream's applied slices, whose rows its `tables` would build
        return []

    out = WORK / f"simulate-{n}-alone"
    shutil.rmtree(out, ignore_errors=True)
    with patch.object(rows.CaseSink, "_tables", drop), patch.object(rows.CaseSink, "_deliver", lambda *_: None):
        simulate(out, Options(seed=5, events=n, formats=("ioctl",)))
    return dropped


MEASURES = [
    Measure("simulate 1M events + IOCTL records (events/s)", "simulate:generate", {"n": 1_000_000},
            baseline="simulate:rewrite"),
    Measure("simulate 5M events + IOCTL records (events/s)", "simulate:generate", {"n": 5_000_000},
            baseline="simulate:rewrite", runs=1),
    Measure("simulate 1M events alone, rows dropped (events/s)", "simulate:simulate_alone", {"n": 1_000_000},
            baseline="simulate:generate"),
]  # fmt: skip
