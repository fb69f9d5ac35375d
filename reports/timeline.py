"""SVG geometry for the timelines: one per actor/target pair, and the case-wide event-rate strip.

A pair's timeline puts its handle intents, TI alloc/write and protect rows, thread starts and detections on lanes,
with the 5 s window a thread start looks back for handle intents and the 30 s window a mark chain lives in, and
a step line of how many kinds of mark the current window has gathered: a chain reads as marks piling up inside
the window, and an intent that came too early as a dot outside it. Only coordinates are computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import duckdb

from swk.reports.sql import rows

WIDTH, LEFT, RIGHT, LANE_H = 960, 150, 20, 24
LANES = ("handle intent", "TI alloc / write", "TI protect", "thread start", "detection")
STEPS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600,
           43200, 86400, 172800, 604800)  # fmt: skip
INTENT_WINDOW = timedelta(seconds=5)
CHAIN_WINDOW = timedelta(seconds=30)
MIN_SPAN = timedelta(milliseconds=50)


def _lane(r: dict[str, Any]) -> int | None:
    if r["family"] in ("handle", "apc"):
        return 0
    if r["family"] == "ti":
        return 2 if r["task"] == 2 else 1
    return 3 if r["family"] == "thread" else None


def _intent(r: dict[str, Any]) -> str:
    """What a handle row asks for: thread context, process memory, or neither (a read or a query)."""
    mask = r["access_mask"] or 0
    if r["is_thread_object"] or r["family"] == "apc":
        return "ctx" if mask & 0x10 else "other"
    return "mem" if mask & 0x2A else "other"  # CREATE_THREAD, VM_OPERATION, VM_WRITE


class Scale:
    """Maps times in [lo, hi] to x pixels between the lane labels and the right edge."""

    def __init__(self, lo: datetime, hi: datetime, width: int = WIDTH) -> None:
        pad = max((hi - lo) * 0.03, timedelta(milliseconds=50))
        self.lo, self.hi, self.width = lo - pad, hi + pad, width
        self.span = (self.hi - self.lo).total_seconds()

    def x(self, t: datetime) -> float:
        return LEFT + (t - self.lo).total_seconds() / self.span * (self.width - LEFT - RIGHT)

    def ticks(self, origin: datetime) -> list[dict[str, Any]]:
        """About eight ticks labelled in seconds from `origin`."""
        step = next((s for s in STEPS_S if self.span / s <= 9), STEPS_S[-1])
        first = -int((origin - self.lo).total_seconds() // step)
        out = []
        for k in range(first, first + int(self.span / step) + 2):
            t = origin + timedelta(seconds=k * step)
            if self.lo <= t <= self.hi and self.x(t) <= self.width - RIGHT - 14:  # a label cut by the edge: none
                if step < 1:
                    label = f"{round(k * step * 1000):+d} ms"
                else:
                    label = f"{k * step:+g} s" if step < 60 else f"{k * step / 60:+g} min"
                out.append({"x": round(self.x(t), 1), "label": label})
        return out


def pairs(pair_rows: list[dict[str, Any]], cards: list[dict[str, Any]], names: Callable[..., str],
          limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """One timeline per (host, actor, target) that has a card, most severe first."""
    by_pair: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in pair_rows:
        by_pair.setdefault((r["host"], r["actor_pid"], r["target_pid"]), []).append(r)
    out = []
    for key, dets in _pair_cards(cards).items():
        if len(out) >= limit:
            break
        out.append(_pair(key, by_pair.get(key, []), dets, names))
    return out


def _pair_cards(cards: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for c in cards:  # cards come most severe first, so pairs do too; a process acting on itself is no pair
        if c["actor_pid"] is not None and c["target_pid"] and c["actor_pid"] != c["target_pid"] and c["ts"]:
            out.setdefault((c["host"], c["actor_pid"], c["target_pid"]), []).append(c)
    return out


def _pair(key: tuple[Any, ...], rows: list[dict[str, Any]], dets: list[dict[str, Any]],
          names: Callable[..., str]) -> dict[str, Any]:  # fmt: skip
    host, actor, target = key
    chains = [d for d in dets if "CHAIN" in d["name"]] or dets  # the mark chains' window, else the first evidence
    window = min(d["first_ts"] or d["ts"] for d in chains)
    # The axis covers the pair's rows (30 s back from its first detection) and its detections, at least 50 ms: a
    # chain of a few milliseconds stays readable, and a 5 s look-back or 30 s window longer than the axis runs off
    # its edge (and says so) rather than squash the chain into one dot.
    times = [r["ts"] for r in rows] + [d["ts"] for d in dets]
    lo = min([*times, window])
    scale = Scale(lo, max([*times, lo + MIN_SPAN]))
    y = {i: 8 + i * LANE_H + LANE_H / 2 for i in range(len(LANES))}
    dots, spans, clipped = [], [], False
    for r in rows:
        lane = _lane(r)
        if lane is None:
            continue
        kind = _intent(r) if lane == 0 else ("marked" if r["family"] == "thread" and _marked(r) else "plain")
        dots.append({"x": round(scale.x(r["ts"]), 1), "y": y[lane], "kind": kind, "event_id": r["event_id"],
                     "title": f"#{r['event_id']} {r['family']} {r['ts'].strftime('%H:%M:%S.%f')[:-3]}"})  # fmt: skip
        if r["family"] == "thread" and r["corr_flags"]:
            x0 = scale.x(max(r["ts"] - INTENT_WINDOW, scale.lo))
            spans.append({"x": round(x0, 1), "w": round(scale.x(r["ts"]) - x0, 1), "y": y[0] - LANE_H / 2 + 2,
                          "h": LANE_H - 4, "kind": "w5"})  # fmt: skip
            clipped |= r["ts"] - INTENT_WINDOW < scale.lo
    x30 = scale.x(window)
    spans.append({"x": round(x30, 1), "w": round(scale.x(min(window + CHAIN_WINDOW, scale.hi)) - x30, 1),
                  "y": 6, "h": 4 * LANE_H + 4, "kind": "w30"})  # fmt: skip
    runs_on = window + CHAIN_WINDOW > scale.hi
    diamonds = [{"x": round(scale.x(d["ts"]), 1), "y": y[4], "severity": d["severity"] or 0, "id": d["id"],
                 "title": f"#{d['id']} {d['name']} (severity {d['severity']}, {d['status']})"} for d in dets]  # fmt: skip
    base = 8 + len(LANES) * LANE_H
    return {
        "host": host, "actor": names(host, actor), "target": names(host, target), "start": window,
        "lanes": [{"label": label, "y": y[i]} for i, label in enumerate(LANES)],
        "dots": dots, "spans": spans, "diamonds": diamonds, "ticks": scale.ticks(window),
        "steps": _accumulation(rows, window, scale, base), "marks_y": base, "height": base + 58, "width": WIDTH,
        "x30": round(x30, 1), "runs_on": runs_on, "look_back_clipped": clipped, "cards": [d["id"] for d in dets],
    }  # fmt: skip


def _marked(r: dict[str, Any]) -> bool:
    non_image = r["start_region_type"] is not None and r["start_region_type"] != 0x1000000
    return bool(r["outside_main_image"] or (non_image and r["start_region_exec"]) or r["corr_flags"])


def _accumulation(rows: list[dict[str, Any]], window: datetime, scale: Scale, base: float) -> str:
    """A step path: kinds of mark (lanes 0-3) seen since the window opened; a row past 30 s opens a new window."""
    seen: set[int] = set()
    opened = None
    h = 40 / 4
    points = [(LEFT, base + 44)]
    for r in rows:
        lane = _lane(r)
        if lane is None or r["ts"] < window:
            continue
        if opened is None or r["ts"] - opened > CHAIN_WINDOW:
            opened, seen = r["ts"], set()
        seen.add(lane)
        x = scale.x(r["ts"])
        points += [(x, points[-1][1]), (x, base + 44 - len(seen) * h)]
    points.append((WIDTH - RIGHT, points[-1][1]))
    return "M " + " L ".join(f"{x:.1f} {yy:.1f}" for x, yy in points)


def rate(con: duckdb.DuckDBPyConnection, buckets: int) -> dict[str, Any]:
    """Stacked bars of events per bucket and family over the case's span, with detection ticks per bucket."""
    lo, hi = con.execute("SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM events "
                         "WHERE family <> 'reject' AND ts IS NOT NULL").fetchall()[0]  # fmt: skip
    if lo is None:
        return {"bars": [], "ticks": [], "families": [], "width": WIDTH, "height": 90, "bucket_s": 0}
    counts = rows(con, "rate", lo=lo, hi=hi, buckets=buckets)
    per: dict[int, dict[str, int]] = {}
    det: dict[int, int] = {}
    for c in counts:
        if c["what"] == "event":
            per.setdefault(c["bucket"], {})[c["label"]] = c["n"]
        else:
            det[c["bucket"]] = max(det.get(c["bucket"], 0), int(c["label"]) if c["label"] else 0)
    peak = max((sum(v.values()) for v in per.values()), default=1)
    bw = (WIDTH - LEFT - RIGHT) / buckets
    families = sorted({f for v in per.values() for f in v})
    bars = []
    for b, fams in sorted(per.items()):
        y = 80.0
        for fam in families:
            n = fams.get(fam, 0)
            if n:
                h = n / peak * 60
                y -= h
                bars.append({"x": round(LEFT + b * bw, 2), "y": round(y, 2), "w": round(max(bw - 0.5, 0.6), 2),
                             "h": round(h, 2), "family": fam, "n": n})  # fmt: skip
    ticks = [{"x": round(LEFT + (b + 0.5) * bw, 2), "severity": s} for b, s in sorted(det.items())]
    return {"bars": bars, "ticks": ticks, "families": families, "width": WIDTH, "height": 96, "peak": peak,
            "bucket_s": (hi - lo + 1) / buckets / 1e6}  # fmt: skip
