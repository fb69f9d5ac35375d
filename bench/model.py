"""The model replay over a simulated host's case at 1 M and 5 M events: `swk.kernel.model.analyze_batches` (columnar)
against `analyze` (row by row, its reference).

Both stream the case in bounded batches (`swk.capture.simulate.case_columns` / `case_rows`), so the peak RSS should
not grow with the case. The columnar replay's baseline is the row replay in the same run, so the ratio is its
speed-up; the row replay's baseline is a plain pass over its row stream (read and touch every row), so that ratio
is what the detections cost on top of reading rows into Python.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from harness import WORK, Measure


def case(n: int) -> Path:
    """`.bench/model-<n>/case.parquet`: one simulated host, every technique over benign activity (built once)."""
    from swk.capture.simulate import Options, simulate

    out = WORK / f"model-{n}"
    if not (out / "case.parquet").exists():
        simulate(out, Options(seed=7, events=n, formats=()))
    return out / "case.parquet"


def columnar(n: int, table: str = "per-key") -> int:
    """`analyze_batches()` over the case's column batches; returns the rows read."""
    from swk.capture.simulate import case_columns
    from swk.kernel.model import analyze_batches

    rows = 0

    def counted() -> Iterator[object]:
        nonlocal rows
        for batch in case_columns(case(n)):
            rows += batch.num_rows
            yield batch

    found = analyze_batches(counted(), table=table)
    print(f"{rows:,} rows -> {len(found):,} detections ({table}, columnar)", file=sys.stderr)
    return rows


def replay(n: int, table: str = "per-key") -> int:
    """`analyze()` over the case's rows; returns the rows read."""
    from swk.capture.simulate import case_rows
    from swk.kernel.model import analyze

    counted = _Counted(case_rows(case(n)))
    found = analyze(counted, table=table)
    print(f"{counted.n:,} rows -> {len(found):,} detections ({table})", file=sys.stderr)
    return counted.n


def plain_pass(n: int, table: str = "per-key") -> int:
    """The baseline: the same row stream, each row touched once."""
    from swk.capture.simulate import case_rows

    rows = families = 0
    for row in case_rows(case(n)):
        rows += 1
        families += row["family"] == "thread"
    return rows


class _Counted:
    """An iterator that counts what it hands out (the replay is given a stream, not a list)."""

    def __init__(self, rows: object) -> None:
        self.rows = iter(rows)  # type: ignore[call-overload]
        self.n = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> object:
        row = next(self.rows)
        self.n += 1
        return row


MEASURES = [
    Measure("model replay 1M events (events/s)", "model:columnar", {"n": 1_000_000}, baseline="model:replay"),
    Measure("model replay 1M events, driver tables (events/s)", "model:columnar", {"n": 1_000_000, "table": "driver"},
            baseline="model:replay"),
    Measure("model replay 5M events (events/s)", "model:columnar", {"n": 5_000_000}, baseline="model:replay", runs=1),
    Measure("model row replay 1M events (events/s)", "model:replay", {"n": 1_000_000}, baseline="model:plain_pass"),
]  # fmt: skip
