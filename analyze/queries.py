"""What `swk analyze` asks of the views: the filtered detections, the per-rule summary, the reconciliation counts
and the warnings where a case crosses a limit the SQL cannot follow. User values are always bound parameters.

Detections an allow-list entry suppresses (`allowed_by`) are left out of the listing unless asked for
(`Filters.show_allowed`), and always counted: the summary has an `allowed` column and the counts line says how many.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from swk.analyze import engine
from swk.store.reader import Case, open_case

if TYPE_CHECKING:
    from collections.abc import Sequence

    from swk.analyze.allow import Entry

COLUMNS = ("id", "host", "rule", "name", "severity", "reason", "actor_pid", "target_pid", "ts", "first_ts", "last_ts",
           "corr_flags", "corr_access_mask", "corr_age_ms", "marks", "attack", "evidence", "trigger_event_id",
           "status", "live_event_id", "engine")  # fmt: skip
# What swk analyze prints of each detection: the contract columns above (docs/detections.md section 11, the ones the
# model must match) plus what the detection rests on and names (the `detection_facts` view), before the evidence.
FACT_COLUMNS = ("confidence", "derived_facts", "actor_image", "target_image", "allowed_by")
_AT = COLUMNS.index("evidence")
OUTPUT_COLUMNS = (*COLUMNS[:_AT], *FACT_COLUMNS, *COLUMNS[_AT:])
STATUSES = ("confirmed", "reconstructed-only", "live-only", "reconstructed")
SUMMARY_COLUMNS = ("severity", "name", "rule", "host", "detections", "allowed", "confidence", "actor", "target",
                   *STATUSES, "first", "last", "allowed_by")  # fmt: skip

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
    show_allowed: bool = False  # list the detections the allow-list suppresses too

    def where(self, *, allowed: bool | None = None) -> tuple[str, dict[str, Any]]:
        """A WHERE clause over `detections` (or `found`) and its parameters; `allowed=True` keeps suppressed rows."""
        clauses, params = [], {}
        if not (self.show_allowed if allowed is None else allowed):
            clauses.append("allowed_by IS NULL")
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


def open_analysis(case: Case | str | Path, *, on: str = "duckdb", allow: Sequence[Entry] = (),
                  **connect: Any) -> Analysis:  # fmt: skip
    """Open a case, load every view (materialised where it pays), compute the detections once and collect warnings.

    `found` holds the detections without ids or evidence (the `reconciled` view, with the confidence, images and
    allow-list entry of `detection_facts`): the summary, the counts and the warnings all read it, so a default
    analysis never sorts for ids or builds evidence lists. `allow` adds a file's allow-list entries to the built-in
    ones. `on="spark"` runs the same views and queries on Spark (`swk.analyze.spark`; `connect` then takes `master`
    and `conf`).
    """
    if not isinstance(case, Case):
        case = open_case(case)
    if on == "spark":
        from swk.analyze import spark

        con = spark.connect(case, allow=allow, **connect)
    else:
        con = engine.connect(case, allow=allow, **connect)
    con.execute("CREATE OR REPLACE TEMP TABLE found AS SELECT r.host, r.rule, r.name, r.severity, r.actor_pid, "
                "r.target_pid, r.ts, r.status, f.confidence, f.actor_image, f.target_image, f.allowed_by "
                "FROM reconciled AS r LEFT JOIN detection_facts AS f "
                "ON f.trigger_event_id = r.trigger_event_id AND f.rule = coalesce(r.rule, r.name)")  # fmt: skip
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
    """The filtered detections in id order, every column of `OUTPUT_COLUMNS`, streamed."""
    where, params = (filters or Filters()).where()
    return rows(con.execute(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM detections{where} ORDER BY id", params))


def rows(cursor: duckdb.DuckDBPyConnection, size: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """Every row of an executed statement, fetched in batches so a large result never sits in memory whole."""
    while batch := cursor.fetchmany(size):
        yield from batch


def summary(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> list[tuple[Any, ...]]:
    """One row per rule, host and confidence, most severe first (needs `open_analysis`).

    A detection between two processes whose trigger row names the actor's image (Sysmon, printer blocks) is also
    grouped by its actor, `image (pid)`, so each injection chain of a Sysmon case is a line of its own; the target
    is named when the line has one, else counted (`12 processes`: a process listing opens them all). Sources that
    name no image keep one line per rule and host. Suppressed detections are grouped by the allow-list entry
    instead and counted in `allowed`, never in `detections`. Counts by status are of the detections shown.
    """
    where, params = (filters or Filters()).where(allowed=True)
    counts = ", ".join(f"count(*) FILTER (WHERE status = '{s}' AND allowed_by IS NULL)" for s in STATUSES)
    named = "allowed_by IS NULL AND target_pid <> 0 AND target_pid <> actor_pid AND actor_image IS NOT NULL"
    sql = (
        f"SELECT severity, name, rule, host, count(*) FILTER (WHERE allowed_by IS NULL), "
        f"count(*) FILTER (WHERE allowed_by IS NOT NULL), confidence, actor, "
        "CASE WHEN actor IS NULL THEN NULL WHEN count(DISTINCT target_pid) = 1 THEN any_value(target) "
        "ELSE count(DISTINCT target_pid) || ' processes' END, "
        f"{counts}, min(ts), max(ts), allowed_by "
        f"FROM (SELECT *, CASE WHEN {named} THEN actor_image || ' (' || actor_pid || ')' END AS actor, "
        "coalesce(target_image, '?') || ' (' || target_pid || ')' AS target "
        f"FROM found{where}) AS f "
        "GROUP BY severity, name, rule, host, confidence, actor, allowed_by "
        "ORDER BY severity DESC NULLS LAST, name, rule, host, allowed_by NULLS FIRST, confidence, actor NULLS FIRST"
    )
    return con.execute(sql, params).fetchall()


def status_counts(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> dict[str, int]:
    """How many listed detections have each reconciliation status, and how many the allow-list suppressed."""
    filters = filters or Filters()
    where, params = filters.where(allowed=True)
    counts = dict.fromkeys((*STATUSES, "allowed"), 0)
    for status, allowed, n in con.execute(f"SELECT status, allowed_by IS NOT NULL, count(*) FROM found{where} "
                                          "GROUP BY ALL", params).fetchall():  # fmt: skip
        if not allowed or filters.show_allowed:
            counts[status] += n
        counts["allowed"] += n if allowed else 0
    return counts


def counts_line(counts: dict[str, int]) -> str:
    """The reconciliation counts as `swk analyze` prints them, and the allow-list's suppressed count if any."""
    line = (f"{counts['confirmed']:,} confirmed, {counts['reconstructed-only']:,} reconstructed-only, "
            f"{counts['live-only']:,} live-only")  # fmt: skip
    if counts["reconstructed"]:
        line += f" ({counts['reconstructed']:,} reconstructed on hosts without live detections)"
    if counts.get("allowed"):
        line += f"; {counts['allowed']:,} allowed by the allow-list (--show-allowed lists them)"
    return line


def run_analysis(case: str | Path, filters: Filters | None = None) -> list[tuple[Any, ...]]:
    """A whole default `swk analyze` without output: every view, the summary, the counts, the warnings."""
    analysis = open_analysis(case)
    rows = summary(analysis.con, filters)
    status_counts(analysis.con, filters)
    return rows
