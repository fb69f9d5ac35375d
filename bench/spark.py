"""DuckDB against Spark local[2] on the same fleet case: 1 M and 5 M events across 10 simulated hosts.

Each case is ten hosts simulated by `swk.capture.simulate` (every technique over benign activity, different
seeds, so pids are reused across hosts) and combined into one hive directory (`host=<name>/part-*.parquet`), built
once under `.bench/`. A run is what `swk analyze --format jsonl` does: every view loaded (the same views on both
engines), the reconciliation counts, the limit warnings, and every detection fetched with its evidence. Spark's
peak RSS is its JVM's (the harness adds the resident peak of the run's child processes). Spark local is expected
to be slower on one box: the point is the same answer and a way past one box (docs/scale.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness import WORK, Measure

HOSTS = 10


def build_fleet(n: int, engine: str = "") -> Path:
    """`.bench/spark-fleet-<n>/`: ten simulated hosts of n / 10 events each in one hive case (built once).

    `engine` is ignored: the harness prepares with the measure's own arguments.
    """
    from swk.capture.simulate import Options, simulate
    from swk.store.combine import combine

    path = WORK / f"spark-fleet-{n}"
    if path.exists():
        return path
    scratch = WORK / f"spark-fleet-{n}.hosts"
    parts = []
    for i in range(HOSTS):
        host = f"WS-{i:02d}"
        result = simulate(scratch / host, Options(seed=100 + i, host=host, events=n // HOSTS, formats=()))
        parts.append((host, result.case))
    combine(parts, scratch / "case", command="bench")
    (scratch / "case").rename(path)
    shutil.rmtree(scratch)
    return path


def analyze(n: int, engine: str = "duckdb") -> int:
    """`swk analyze --format jsonl` without the output: all views, counts, warnings, every detection fetched."""
    from swk.analyze import queries

    connect = {"master": "local[2]"} if engine == "spark" else {}
    analysis = queries.open_analysis(build_fleet(n), on=engine, **connect)
    counts = queries.status_counts(analysis.con)
    found = sum(1 for _ in queries.detections(analysis.con))
    print(f"{engine}: {n:,} events -> {found:,} detections {counts}", file=sys.stderr)
    return n


MEASURES = [
    Measure("analyze 1M events x 10 hosts, Spark local[2]", "spark:analyze", {"n": 1_000_000, "engine": "spark"},
            baseline="spark:analyze", baseline_kwargs={"n": 1_000_000, "engine": "duckdb"}, unit="events/s",
            prepare="spark:build_fleet"),
    Measure("analyze 5M events x 10 hosts, Spark local[2]", "spark:analyze", {"n": 5_000_000, "engine": "spark"},
            baseline="spark:analyze", baseline_kwargs={"n": 5_000_000, "engine": "duckdb"}, unit="events/s",
            prepare="spark:build_fleet", runs=1),
]  # fmt: skip


if __name__ == "__main__":
    for size in (1_000_000, 5_000_000):
        print(build_fleet(size))
