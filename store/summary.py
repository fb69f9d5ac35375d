"""`swk info`: what a case holds, computed from its rows and its manifest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.compute as pc

from swk.kernel.clock import iso
from swk.store.reader import Case

_PID_MAX = 0xFFFFFFFF


def summarize(case: Case) -> dict[str, Any]:
    """Inputs (hash, size, counts), rows per family, time span, hosts and pids seen."""
    families: dict[str, int] = {}
    hosts: dict[str, int] = {}
    pids: set[int] = set()
    first = last = None
    scanner = case.dataset().scanner(columns=["family", "ts", "host", "actor_pid", "target_pid"])
    for batch in scanner.to_batches():
        if batch.num_rows == 0:
            continue
        for key, counts in (("family", families), ("host", hosts)):
            for value, count in zip(*pc.value_counts(batch.column(key)).flatten(), strict=True):
                counts[value.as_py()] = counts.get(value.as_py(), 0) + count.as_py()
        events = batch.filter(pc.not_equal(batch.column("family"), "reject"))
        lo, hi = pc.min_max(events.column("ts").cast("int64")).values()
        if lo.is_valid:
            first = lo.as_py() if first is None else min(first, lo.as_py())
            last = hi.as_py() if last is None else max(last, hi.as_py())
        for name in ("actor_pid", "target_pid"):
            values = events.column(name).drop_null().to_numpy()
            pids.update(np.unique(values[(values > 0) & (values <= _PID_MAX)]).tolist())
    manifest = case.manifest
    return {
        "case": str(case.path),
        "files": len(case.files),
        "partitioned": case.partitioned,
        "schema_version": manifest.get("schema_version"),
        "inputs": manifest.get("inputs", []),
        "rows": sum(families.values()),
        "events": sum(v for k, v in families.items() if k != "reject"),
        "rejects": families.get("reject", 0),
        "families": dict(sorted(families.items(), key=lambda kv: (-kv[1], kv[0]))),
        "time_span": {
            "first": iso(first * 1000) if first is not None else None,
            "last": iso(last * 1000) if last is not None else None,
        },
        "hosts": dict(sorted(hosts.items())),
        "pids_seen": len(pids),
        "clock": manifest.get("clock"),
        "runs": manifest.get("runs", []),
    }


def render(summary: dict[str, Any]) -> str:
    """The summary as terminal text (every captured string made terminal-safe)."""
    from swk.output import table
    from swk.safe import for_terminal

    lines = [f"case        {for_terminal(summary['case'])}  ({summary['files']} file"
             f"{'s' if summary['files'] != 1 else ''}{', hive-partitioned' if summary['partitioned'] else ''},"
             f" schema v{summary['schema_version']})",
             f"events      {summary['events']:,}   rejects {summary['rejects']:,}",
             f"time span   {summary['time_span']['first'] or '-'}  ..  {summary['time_span']['last'] or '-'}",
             f"hosts       {', '.join(f'{for_terminal(h)} ({n:,})' for h, n in summary['hosts'].items()) or '-'}",
             f"pids seen   {summary['pids_seen']:,}"]  # fmt: skip
    clock = summary.get("clock") or {}
    if clock.get("qpc_frequency") and any(i.get("format") == "ioctl" for i in summary["inputs"]):
        basis = clock.get("boot_time") or "unknown: IOCTL times are uptime since 1970-01-01 (pass --boot-time)"
        lines.append(f"qpc clock   {clock['qpc_frequency']:,} Hz, boot {basis}")
    lines += ["", "rows per family", table(list(summary["families"].items()), ["family", "rows"]), "", "inputs"]
    rows = [[i["path"], i["format"], i.get("size"), (i.get("sha256") or "")[:16], i["read"], i["written"],
             i["rejected"], i.get("skipped", 0)] for i in summary["inputs"]]  # fmt: skip
    lines.append(table(rows, ["path", "format", "bytes", "sha256", "read", "written", "rejected", "skipped"]))
    return "\n".join(lines)
