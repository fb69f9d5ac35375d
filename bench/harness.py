"""Shared benchmark harness: each measure runs in its own subprocess (so its peak RSS is its own), several times;
the median is reported with a baseline measured in the same run and the ratio between them.

A benchmark module defines `MEASURES`: a list of `Measure`s, each naming a function `module:function` that takes
keyword arguments and returns the number of items it processed. `bench/run.py` runs every module's measures and
prints one table: measure, value, baseline, ratio, peak RSS.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"


@dataclass
class Measure:
    """One thing to measure: items per second of `target`, against `baseline` run the same way."""

    name: str
    target: str  # "module:function", called with **kwargs; returns items processed
    kwargs: dict[str, Any] = field(default_factory=dict)
    baseline: str | None = None  # "module:function" measured in the same run
    baseline_kwargs: dict[str, Any] | None = None
    unit: str = "items/s"
    runs: int = 3
    prepare: str | None = None  # "module:function" run once (unmeasured) before the runs, e.g. to build inputs


def _child(target: str, kwargs: dict[str, Any]) -> dict[str, float]:
    """Run `target` in a fresh interpreter: items, seconds, peak RSS (MiB)."""
    code = (
        "import json, resource, sys, time, importlib\n"
        f"sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
        "mod, fn = sys.argv[1].split(':')\n"
        "f = getattr(importlib.import_module(mod), fn)\n"
        "kw = json.loads(sys.argv[2])\n"
        "t = time.perf_counter(); n = f(**kw); dt = time.perf_counter() - t\n"
        "n = n if isinstance(n, int) else 0\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "import harness; kids = harness.children_peak_rss_mib()\n"
        "print(json.dumps({'items': n, 'seconds': dt, 'rss_mib': rss, 'children_rss_mib': kids}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, target, json.dumps(kwargs)], check=True,
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"})  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def children_peak_rss_mib() -> float:
    """Peak RSS (VmHWM) of this process's descendants still running, e.g. the JVM pyspark starts (Linux only)."""
    parents, peak = {os.getpid()}, 0.0
    stats = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            stats.append((int(entry.name), int(stat[stat.rindex(")") + 2 :].split()[1])))
        except (OSError, ValueError):
            continue
    changed = True
    while changed:  # descendants, not only children: pyspark's JVM runs under a spark-submit shell
        changed = False
        for pid, ppid in stats:
            if ppid in parents and pid not in parents:
                parents.add(pid)
                changed = True
    for pid in parents - {os.getpid()}:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
        except OSError:
            continue
    return peak


def measure(m: Measure) -> dict[str, Any]:
    """Median rate of `m` (and of its baseline), with the peak RSS of the runs."""
    if m.prepare:
        _child(m.prepare, m.kwargs)
    runs = [_child(m.target, m.kwargs) for _ in range(m.runs)]
    rate = statistics.median(r["items"] / r["seconds"] for r in runs)
    row: dict[str, Any] = {
        "measure": m.name,
        "value": rate,
        "unit": m.unit,
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mib": max(r["rss_mib"] for r in runs),
        "children_rss_mib": max(r.get("children_rss_mib", 0.0) for r in runs),
        "baseline": None,
        "ratio": None,
    }
    if m.baseline:
        kwargs = m.kwargs if m.baseline_kwargs is None else m.baseline_kwargs  # {} means no arguments, not "the same"
        base = [_child(m.baseline, kwargs) for _ in range(m.runs)]
        base_rate = statistics.median(r["items"] / r["seconds"] for r in base)
        row["baseline"] = base_rate
        row["ratio"] = rate / base_rate if base_rate else None
        row["baseline_rss_mib"] = max(r["rss_mib"] for r in base)
        row["baseline_children_rss_mib"] = max(r.get("children_rss_mib", 0.0) for r in base)
    return row


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call `fn` and return (result, seconds)."""
    t = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The one table `make bench` prints."""
    width = max([44, *(len(r["measure"]) for r in rows)])
    head = f"{'measure':<{width}} {'value':>14} {'baseline':>14} {'ratio':>8} {'peak RSS':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        base = f"{r['baseline']:>14,.0f}" if r.get("baseline") else f"{'-':>14}"
        ratio = f"{r['ratio']:>7.2f}x" if r.get("ratio") else f"{'-':>8}"
        lines.append(f"{r['measure']:<{width}} {r['value']:>14,.0f} {base} {ratio} {r['peak_rss_mib']:>7,.0f} MiB")
        kids = f"{'':>35}+ {r['children_rss_mib']:,.0f} MiB in child processes" if r.get("children_rss_mib") else ""
        lines.append(f"{'':<{width}} {r['unit']:>14}{kids}")
    return "\n".join(lines)
