"""What `swk analyze` asks of the views: the filtered detections, the per-rule summary, the reconciliation counts
and the warnings where a case crosses a limit the SQL cannot follow. User values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from swk.analyze import engine
from swk.store.reader import Case, open_case

COLUMNS = ("id", "host", "rule", "name", "severity", "reason", "actor_pid", "target_pid", "ts", "first_ts", "last_ts",
           "corr_flags", "corr_access_mask", "corr_age_ms", "marks", "attack", "evidence", "trigger_event_id",
           "status", "live_event_id", "engine")  # fmt: skip
STATUSES = ("confirmed", "reconstructed-only", "live-only", "reconstructed")
SUMMARY_COLUMNS = ("severity", "name", "rule", "host", "detections", *STATUSES, "first", "last")

LIMIT_TEXT = {
    "mark-chain-table": "the kernel mark chain keeps 256 entries; {observed} keys were live within 60 s, so the "
                        "driver evicted or took over entries that the per-key reconstruction keeps",
    "controller-table": "the controller's mark chain keeps 256 entries; {observed} keys were live within 60 s, so "
                        "its chains restarted where the per-key reconstruction's did not",
    "apc-cooldown-ring": "the APC monitor's cooldown ring has 64 unkeyed slots; {observed} intents fired within "
                         "2 s, so live cooldowns could end early where the reconstruction's did not",
}  # fmt: skip


@dataclass
class Filters:
    """Which detections to show; every value reaches SQL as a bound parameter."""

    min_severity: int | None = None
    detection: str | None = None  # a name or a rule
    pid: int | None = None  # actor or target
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """A WHERE clause over `detections` and its parameters."""
        clauses, params = [], {}
        if self.min_severity is not None:
            clauses.append("severity >= $min_severity")
            params["min_severity"] = self.min_severity
        if self.detection is not None:
            clauses.append("(name = $detection OR rule = $detection)")
            params["detection"] = self.detection
        if self.pid is not None:
            clauses.append("(actor_pid = $pid OR target_pid = $pid)")
            params["pid"] = self.pid
        if self.since is not None:
            clauses.append("ts >= $since")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("ts <= $until")
            params["until"] = self.until
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass
class Analysis:
    """A case opened for analysis: its connection and what `swk analyze` reports around the detections."""

    case: Case
    con: duckdb.DuckDBPyConnection
    warnings: list[str] = field(default_factory=list)


def open_analysis(case: Case | str | Path, *, on: str = "duckdb", **connect: Any) -> Analysis:
    """Open a case, load every view (materialised where it pays), compute the detections once and collect warnings.

    `found` holds the detections without ids or evidence (the `reconciled` view): the summary, the counts and the
    warnings all read it, so a default analysis never sorts for ids or builds evidence lists. `on="spark"` runs the
    same views and queries on Spark (`swk.analyze.spark`; `connect` then takes `master` and `conf`).
    """
    if not isinstance(case, Case):
        case = open_case(case)
    if on == "spark":
        from swk.analyze import spark

        con = spark.connect(case, **connect)
    else:
        con = engine.connect(case, **connect)
    con.execute("CREATE OR REPLACE TEMP TABLE found AS SELECT host, rule, name, severity, actor_pid, target_pid, "
                "ts, status FROM reconciled")  # fmt: skip
    return Analysis(case, con, warnings(con))


def warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One line per limit a host crosses, rows without a time, and live detections no telemetry can explain."""
    out = []
    for host, name, observed, _threshold in con.execute(
        "SELECT host, limit_name, observed, threshold FROM limits ORDER BY host, limit_name"
    ).fetchall():
        out.append(f"host {host}: {LIMIT_TEXT[name].format(observed=observed)} (docs/detections.md section 12)")
    untimed = con.execute("SELECT count(*) FROM events WHERE family <> 'reject' AND ts IS NULL").fetchall()[0][0]
    if untimed:
        out.append(f"{untimed:,} rows have no time and cannot be placed in any window; they are not analysed")
    tamper = con.execute(
        "SELECT count(*) FROM found WHERE status = 'live-only' AND name LIKE 'DRIVER_DISPATCH_OR_OBJECT_TAMPER%'"
    ).fetchall()[0][0]
    if tamper:
        out.append(f"{tamper:,} live anti-tamper detections are not reconstructible: the driver emits no telemetry "
                   "for its integrity checks")  # fmt: skip
    return out


def detections(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> Iterator[tuple[Any, ...]]:
    """The filtered detections in id order, every column of docs/detections.md section 11, streamed."""
    where, params = (filters or Filters()).where()
    return rows(con.execute(f"SELECT {', '.join(COLUMNS)} FROM detections{where} ORDER BY id", params))


def rows(cursor: duckdb.DuckDBPyConnection, size: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """Every row of an executed statement, fetched in batches so a large result never sits in memory whole."""
    while batch := cursor.fetchmany(size):
        yield from batch


def summary(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> list[tuple[Any, ...]]:
    """One row per (rule, host): counts by status and the time span, most severe first (needs `open_analysis`)."""
    where, params = (filters or Filters()).where()
    counts = ", ".join(f"count(*) FILTER (WHERE status = '{s}')" for s in STATUSES)
    sql = (f"SELECT severity, name, rule, host, count(*), {counts}, min(ts), max(ts) FROM found{where} "
           "GROUP BY ALL ORDER BY severity DESC NULLS LAST, name, rule, host")  # fmt: skip
    return con.execute(sql, params).fetchall()


def status_counts(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> dict[str, int]:
    """How many detections have each reconciliation status."""
    where, params = (filters or Filters()).where()
    rows = con.execute(f"SELECT status, count(*) FROM found{where} GROUP BY status", params).fetchall()
    found = dict(rows)
    return {s: found.get(s, 0) for s in STATUSES}


def counts_line(counts: dict[str, int]) -> str:
    """The reconciliation counts as `swk analyze` prints them."""
    line = (f"{counts['confirmed']:,} confirmed, {counts['reconstructed-only']:,} reconstructed-only, "
            f"{counts['live-only']:,} live-only")  # fmt: skip
    if counts["reconstructed"]:
        line += f" ({counts['reconstructed']:,} reconstructed on hosts without live detections)"
    return line


def run_analysis(case: str | Path, filters: Filters | None = None) -> list[tuple[Any, ...]]:
    """A whole default `swk analyze` without output: every view, the summary, the counts, the warnings."""
    analysis = open_analysis(case)
    rows = summary(analysis.con, filters)
    status_counts(analysis.con, filters)
    return rows
