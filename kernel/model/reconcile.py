"""Reconciliation of reconstructed and live detections, and the detections table (docs/detections.md 10-11).

Within a group (host, name, actor, target) the detections of one time form a run, on each side. A run of
reconstructed detections and a run of live rows match when each is the other's nearest in time (a tie in distance:
the earlier run) and they are at most 2000 ms apart (floor-ms of the absolute difference); matched runs pair their
members off in order (detection ids with event ids), and what one run has over the other stays unmatched.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from swk.kernel.catalogue import rule_for
from swk.kernel.model.detection import RULE_ORDER, UNKNOWN_RULE_ORDER, Detection, Raised
from swk.kernel.model.engine import LiveRow
from swk.kernel.model.timing import RECONCILE_MS


def _runs(times: Sequence[int]) -> list[tuple[int, int, int]]:
    """The runs of equal times in ascending `times`: (time, start, end) with `times[start:end]` the run."""
    out = []
    start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] != times[start]:
            out.append((times[start], start, i))
            start = i
    return out


def _nearest(times: Sequence[int], ts: int) -> int | None:
    """Index of the time nearest to `ts` in strictly ascending `times`; a tie in distance goes to the earlier one."""
    if not times:
        return None
    i = bisect.bisect_left(times, ts)
    if i == len(times) or (i > 0 and ts - times[i - 1] <= times[i] - ts):
        return i - 1
    return i


def _match(raised: list[Raised], live: list[LiveRow]) -> dict[int, LiveRow]:
    """Pairs of one group: index into `raised` -> live row.

    Runs of equal times are the units: a run of each side is matched with its mutual nearest run of the other, and
    two matched runs pair their members off in id order, so two detections at one time confirm two live rows at one
    time (the JSONL's millisecond times make such runs common).
    """
    live_sorted = sorted(live, key=lambda r: (r.ts, r.event_id))
    raised_runs = _runs([r.ts for r in raised])  # `raised` is in id order, so ascending ts, ties by detection id
    live_runs = _runs([r.ts for r in live_sorted])
    raised_times = [t for t, _, _ in raised_runs]
    live_times = [t for t, _, _ in live_runs]
    pairs = {}
    for a, (ts, start, end) in enumerate(raised_runs):
        b = _nearest(live_times, ts)
        if b is None or _nearest(raised_times, live_times[b]) != a or abs(live_times[b] - ts) // 1000 > RECONCILE_MS:
            continue
        _, live_start, live_end = live_runs[b]
        pairs.update(zip(range(start, end), live_sorted[live_start:live_end], strict=False))
    return pairs


def _live_only(row: LiveRow, host: str | None) -> tuple[tuple, dict]:
    entry = rule_for(row.name, row.reason)
    rule = entry.rule if entry else None
    order = RULE_ORDER[rule] if rule else UNKNOWN_RULE_ORDER
    fields = {
        "host": host,
        "rule": rule,
        "name": row.name,
        "severity": row.severity,
        "reason": row.reason,
        "actor_pid": row.actor,
        "target_pid": row.target,
        "ts": row.ts,
        "first_ts": row.ts,
        "last_ts": row.ts,
        "corr_flags": row.corr[0],
        "corr_access_mask": row.corr[1],
        "corr_age_ms": row.corr[2],
        "marks": row.marks,
        "attack": entry.attack if entry else None,
        "evidence": (row.event_id,),
        "trigger_event_id": row.event_id,
        "status": "live-only",
        "live_event_id": row.event_id,
        "engine": entry.emitter if entry else "kernel",
    }
    return (row.ts, row.event_id, order, host or "", row.actor or 0, row.target or 0), fields


def detections_table(hosts: list[tuple[str | None, list[Raised], list[LiveRow]]]) -> list[Detection]:
    """The detections table over every host: reconstructed (reconciled) and live-only rows, numbered 1.. in order.

    `hosts` is emptied as it is read, and each detection is dropped as its row is made, so a large table is not
    held twice.
    """
    pending: list[Any] = []
    hosts.reverse()
    while hosts:
        host, raised_, live = hosts.pop()
        keyed = sorted([(r.order(), r) for r in raised_], key=itemgetter(0))  # stable: ties keep raise order
        del raised_
        if not live:
            pending += [(key, r, "reconstructed", None) for key, r in keyed]
            continue
        raised = [r for _, r in keyed]
        groups_r: dict[tuple, list[int]] = defaultdict(list)
        for i, r in enumerate(raised):
            groups_r[(r.name, r.actor, r.target)].append(i)
        groups_l: dict[tuple, list[LiveRow]] = defaultdict(list)
        for row in live:
            groups_l[(row.name, row.actor, row.target)].append(row)
        matched: dict[int, LiveRow] = {}
        used: set[int] = set()
        for key, indexes in groups_r.items():
            rows = groups_l.get(key)
            # SQL equality: a NULL pid matches no live row
            if rows and key[1] is not None and key[2] is not None:
                for local, row in _match([raised[i] for i in indexes], rows).items():
                    matched[indexes[local]] = row
                    used.add(row.event_id)
        for i, (key, r) in enumerate(keyed):
            row = matched.get(i)
            pending.append((key, r, "confirmed" if row else "reconstructed-only", row.event_id if row else None))
        for row in live:
            if row.event_id not in used:
                order, fields = _live_only(row, host)
                pending.append((order, fields, "live-only", row.event_id))
        del raised, keyed, live, matched, groups_r, groups_l
    pending.sort(key=itemgetter(0))
    out = []
    for i, (_, item, status, live_id) in enumerate(pending):
        pending[i] = None  # the Raised goes as its row comes
        if isinstance(item, Raised):
            out.append(item.to_detection(i + 1, status, live_id))
        else:
            out.append(Detection(id=i + 1, **item))  # type: ignore[arg-type]
    return out
