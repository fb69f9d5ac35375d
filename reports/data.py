"""Everything one report shows, assembled from the case's views: plain dicts and lists, no markup.

The detections, their evidence and the limits come from `analyze/views` (the templates never compute a
detection); the report's own queries (`queries/*.sql`, package data) only select, rank, cap and count. Every cap
(cards, evidence rows per card, tree nodes, timeline pairs, rejects) is reported with what it left out.
"""

from __future__ import annotations

import ntpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from swk.analyze.engine import connect
from swk.analyze.explain import describe, step_marks
from swk.analyze.queries import STATUSES, warnings
from swk.reports import evidence as ev
from swk.reports import timeline, tree
from swk.reports.sql import rows
from swk.store.reader import Case, open_case
from swk.store.summary import summarize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from swk.analyze.allow import Entry

TEXT_FORMATS = ("jsonl", "winlog-jsonl", "suite", "console", "printer", "controller")  # source_offset is a line
OPEN_CARDS = 12  # the most severe cards start open; the rest one click away, so a large report stays scannable
NOTES = (
    "Rows without a time cannot be placed in a window: no detection is reconstructed from them.",
    "DRIVER_DISPATCH_OR_OBJECT_TAMPER(_CLEARED) is never reconstructed: the driver emits no telemetry for its "
    "integrity checks, so only its live detection shows them.",
    "The driver's 256-slot mark-chain tables (kernel and controller) and the APC monitor's 64-slot cooldown ring "
    "are followed per key; where a case crosses them the table above says so and live and reconstructed may differ.",
    "A fact a source does not carry (NULL) never fires a rule: IOCTL thread records carry no start-region type, ETW "
    "handle events no stack-integrity flags.",
)


@dataclass(frozen=True)
class Limits:
    """How much one report draws; everything beyond is counted and summarised."""

    cards: int = 200
    per_name: int = 12
    evidence: int = 25
    groups: int = 500
    tree_nodes: int = 150
    pairs: int = 40
    pair_rows: int = 200
    rejects: int = 200
    top: int = 10
    buckets: int = 240


def when(ts: datetime | None) -> str:
    """A UTC time to the millisecond, as analysts write it."""
    return "" if ts is None else ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def clock(ts: datetime | None) -> str:
    """The time of day to the millisecond (tables whose date the card already gives)."""
    return "" if ts is None else ts.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


class Names:
    """`image (pid)` labels from the case's process rows, keyed by (host, pid)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.paths = {(r["host"], r["pid"]): r["path"] for r in rows(con, "names")}

    def path(self, host: str | None, pid: int | None) -> str:
        """The image path of a process, or empty."""
        return self.paths.get((host, pid), "")

    def __call__(self, host: str | None, pid: int | None) -> str:
        if pid is None:
            return "?"
        path = self.path(host, pid)
        return f"{ntpath.basename(path)} ({pid})" if path else f"pid {pid}"

    def of(self, host: str | None, pid: int | None, image: str | None) -> tuple[str, str]:
        """(label, path) of a detection's process: the image its trigger row names (Sysmon: by process GUID, right
        across pid reuse) before the case's (host, pid) names, which a reused pid makes wrong."""
        if image and pid is not None:
            return f"{ntpath.basename(image)} ({pid})", image
        return self(host, pid), self.path(host, pid)


def assemble(case_spec: str | Path | Case, *, title: str | None = None, min_severity: int = 0,
             limits: Limits = Limits(), allow: Sequence[Entry] = ()) -> dict[str, Any]:  # fmt: skip
    """The report's content for a case (`allow`: allow-list file entries added to the built-in ones)."""
    case = case_spec if isinstance(case_spec, Case) else open_case(case_spec)
    # The case summary scans the files with pyarrow while DuckDB builds the views: both release the GIL, and the
    # views' materialisations leave cores idle between their parallel parts.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="swk-summary") as pool:
        summary = pool.submit(summarize, case)
        con = connect(case, allow=allow)
        try:
            rows(con, "found")
            # Detections the allow-list suppresses get no card and count nowhere else; report_all keeps them for
            # the summary's own table of them (never dropped silently).
            con.execute("CREATE OR REPLACE TEMP VIEW report_found AS SELECT * FROM report_all WHERE allowed_by IS NULL")
            # `swk analyze`'s warnings read its `found` table and the limits view: here the same detections, and the
            # limits computed once (temp objects shadow the views) for the warnings and the gaps section alike.
            con.execute("CREATE OR REPLACE TEMP VIEW found AS SELECT * FROM report_found")
            con.execute("CREATE OR REPLACE TEMP TABLE limits AS SELECT * FROM main.limits")
            report = _assemble(con, case, summary.result(), title=title, min_severity=min_severity, limits=limits)
            return report | {"warnings": warnings(con)}
        finally:
            con.close()


def _assemble(con: duckdb.DuckDBPyConnection, case: Case, summary: dict[str, Any], *, title: str | None,
              min_severity: int, limits: Limits) -> dict[str, Any]:  # fmt: skip
    names = Names(con)
    p = asdict(limits) | {"min_severity": min_severity}
    rows(con, "shown", **p)
    triggers = [t for (t,) in con.execute("SELECT trigger_event_id FROM report_shown").fetchall()]
    rows(con, "shown_times", triggers=triggers)
    rows(con, "cited", triggers=triggers)
    rows(con, "evidence", **p)
    counts = rows(con, "counts")
    cards = _cards(con, names, p)
    pair_rows = rows(con, "pair_rows", **p)
    return {
        "title": title or f"Incident report: {', '.join(summary['hosts']) or Path(str(case.path)).name}",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "swk_version": _version(),
        "min_severity": min_severity,
        "limits": asdict(limits),
        "summary": summary,
        "severity": _severity(counts, min_severity),
        "status": {s: sum(c["n"] for c in counts if c["status"] == s) for s in STATUSES},
        "total": sum(c["n"] for c in counts),
        "shown_total": sum(c["n"] for c in counts if c["severity"] is None or c["severity"] >= min_severity),
        "top": _top(con, names, p),
        "allowed": [g | {"first": when(g["first_ts"]), "last": when(g["last_ts"])} for g in rows(con, "allowed")],
        "cards": cards,
        "groups": [_group(g, names) for g in rows(con, "groups", **p)],
        "tree": tree.build(rows(con, "processes"), cards, names, limits.tree_nodes),
        "timelines": timeline.pairs(pair_rows, cards, names, limits.pairs),
        "rate": timeline.rate(con, limits.buckets),
        "rejects": [r | {"where": _where(r)} for r in rows(con, "rejects", **p)],
        "reject_counts": [r | {"first": _where(r, r["first_offset"]), "last": _where(r, r["last_offset"])}
                          for r in rows(con, "reject_counts")],
        "untimed": [r | {"first": _where(r, r["first_offset"])} for r in rows(con, "untimed")],
        "view_limits": [dict(zip(("host", "limit", "observed", "threshold"), r, strict=True))
                        for r in con.execute("SELECT * FROM limits ORDER BY 1, 2").fetchall()],
        "notes": NOTES,
    }  # fmt: skip


def _version() -> str:
    from swk import __version__

    return __version__


def _where(r: dict[str, Any], offset: int | None = None) -> str:
    """An input position as swk's errors write it: `@0x00000300` for binary inputs, `line 12` for text."""
    offset = r.get("source_offset") if offset is None else offset
    if offset is None:
        return ""
    return f"line {offset}" if r.get("source_format") in TEXT_FORMATS else f"@0x{offset:08x}"


def _severity(counts: list[dict[str, Any]], min_severity: int) -> list[dict[str, Any]]:
    by: dict[Any, int] = {}
    for c in counts:
        by[c["severity"]] = by.get(c["severity"], 0) + c["n"]
    return [{"severity": s, "n": n, "hidden": s is not None and s < min_severity}
            for s, n in sorted(by.items(), key=lambda kv: -1 if kv[0] is None else kv[0], reverse=True)]  # fmt: skip


def _top(con: duckdb.DuckDBPyConnection, names: Names, p: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"actor": [], "target": []}
    for r in rows(con, "top_pids", **p):
        out[r["role"]].append(r | {"label": names(r["host"], r["pid"]), "path": names.path(r["host"], r["pid"])})
    return out


def _group(g: dict[str, Any], names: Names) -> dict[str, Any]:
    return g | {"actor": names(g["host"], g["actor_pid"]), "target": names(g["host"], g["target_pid"]),
                "first": when(g["first_ts"]), "last": when(g["last_ts"])}  # fmt: skip


def _cards(con: duckdb.DuckDBPyConnection, names: Names, p: dict[str, Any]) -> list[dict[str, Any]]:
    """One card per shown detection: header facts, the chain in time order, decoded evidence tables."""
    events = {r["event_id"]: r for r in rows(con, "evidence_rows")}
    kept: dict[int, list[int]] = {}
    totals: dict[int, int] = {}
    for r in con.execute("SELECT detection_id, event_id, total FROM report_evidence WHERE kept "
                         "ORDER BY detection_id, step").fetchall():  # fmt: skip
        kept.setdefault(r[0], []).append(r[1])
        totals[r[0]] = r[2]
    dropped: dict[int, list[dict[str, Any]]] = {}
    for r in rows(con, "evidence_dropped"):
        dropped.setdefault(r["detection_id"], []).append(r)
    cited: dict[int, list[int]] = {}
    for detection, event in con.execute("SELECT detection_id, event_id FROM report_cited ORDER BY 1, 2").fetchall():
        cited.setdefault(detection, []).append(event)
    shown = [d | {"evidence": cited.get(d["id"], [])} for d in rows(con, "shown_cards")]
    cards = []
    for d in shown:
        chain = [events[i] for i in kept.get(d["id"], []) if i in events]
        marks = step_marks(con, d) if d["rule"] else {}  # {} for rules without a mark chain
        cards.append(_card(d, chain, totals.get(d["id"], 0), dropped.get(d["id"], []), names, marks))
    for card in cards[:OPEN_CARDS]:
        card["open"] = True
    return cards


def _card(d: dict[str, Any], chain: list[dict[str, Any]], total: int, dropped: list[dict[str, Any]],
          names: Names, marks: dict[int, int]) -> dict[str, Any]:  # fmt: skip
    start = chain[0]["ts"] if chain and chain[0]["ts"] else d["ts"]
    steps, accumulated = [], 0
    for r in chain:
        added = marks.get(r["event_id"])
        accumulated |= added or 0
        steps.append({"event_id": r["event_id"], "family": r["family"], "when": when(r["ts"]),
                      "offset": "" if r["ts"] is None or start is None else
                      f"+{(r['ts'] - start).total_seconds():.3f} s",
                      "text": ev.step(r, names), "facts": describe(r), "trigger": r["event_id"] == d["trigger_event_id"],
                      "added": "" if added is None else ev.marks(added, d["engine"]),
                      "marks": "" if added is None else ev.marks(accumulated, d["engine"])})  # fmt: skip
    tables = []
    for family in dict.fromkeys(r["family"] for r in chain):
        cols = ev.columns(family)
        tables.append({
            "family": family,
            "headers": [h for h, _ in cols],
            "rows": [{"event_id": r["event_id"], "when": when(r["ts"]), "clock": clock(r["ts"]), "kind": r.get("kind") or "",
                      "source": f"{r.get('source_file') or ''} {_where(r)}".strip(),
                      "actor": names(r.get("host"), r.get("actor_pid")),
                      "target": names(r.get("host"), r.get("target_pid")),
                      "cells": [fn(r) for _, fn in cols]} for r in chain if r["family"] == family],
        })  # fmt: skip
    actor, actor_path = names.of(d["host"], d["actor_pid"], d["actor_image"])
    target, target_path = names.of(d["host"], d["target_pid"], d["target_image"])
    return {
        "id": d["id"], "rule": d["rule"], "name": d["name"], "severity": d["severity"], "status": d["status"],
        "confidence": d["confidence"], "derived_facts": list(d["derived_facts"] or []),
        "attack": d["attack"], "reason": d["reason"], "host": d["host"], "engine": d["engine"],
        "actor": actor, "actor_path": actor_path, "target": target, "target_path": target_path,
        "actor_pid": d["actor_pid"], "target_pid": d["target_pid"],
        "ts": d["ts"], "when": when(d["ts"]), "first_ts": d["first_ts"], "first": when(d["first_ts"]), "last": when(d["last_ts"]),
        "corr": ev.corr_text(d), "marks": ev.marks(d["marks"], d["engine"]),
        "trigger_event_id": d["trigger_event_id"], "live_event_id": d["live_event_id"],
        "steps": steps, "tables": tables, "total": total, "dropped": dropped, "open": False,
    }  # fmt: skip
