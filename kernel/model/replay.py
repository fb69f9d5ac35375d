"""`analyze()`: case rows in, the detections table out (docs/detections.md), with either chain-table semantics.

Rows are plain mappings keyed by case column names with `ts` as int microseconds since the Unix epoch (an aware
`datetime` is accepted too). A list (any sequence) is sorted here by (host, ts, event_id); any other iterable is
consumed as a stream, in bounded memory, and must already be in (ts, event_id) order within each host (hosts may
interleave), which is how `swk.capture.simulate.case_rows` reads a case. Rows with `family = 'reject'` or no `ts`
are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from swk.kernel.model.detection import Detection
from swk.kernel.model.engine import ETW_THREAD_KIND, HostEngine, LiveRow
from swk.kernel.model.reconcile import detections_table

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The case columns the model reads, per family (every row also needs event_id, ts, family and host).
FAMILY_COLUMNS: dict[str, tuple[str, ...]] = {
    "handle": ("actor_pid", "target_pid", "access_mask", "class_id", "flags", "is_thread_object"),
    "thread": ("kind", "actor_pid", "target_pid", "got_start", "start_region_exec", "start_region_status",
               "start_region_type", "start_region_protect", "outside_main_image", "corr_flags", "corr_access_mask",
               "corr_age_ms", "image_base", "image_size", "start_address"),
    "registry": ("actor_pid", "key_path"),
    "image": ("target_pid", "image_path", "is_system_mode"),
    "apc": ("actor_pid", "target_pid", "access_mask", "class_name"),
    "ti": ("actor_pid", "target_pid", "event_name", "task", "creation_flags", "region_size", "protect",
           "old_protect"),
    "detection": ("kind", "detection_name", "severity", "reason", "actor_pid", "target_pid", "corr_flags",
                  "corr_access_mask", "corr_age_ms", "marks"),
}  # fmt: skip
BASE_COLUMNS = ("event_id", "ts", "family", "host")
# Every case column the model reads: a reader may fetch only these.
COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(BASE_COLUMNS + sum(FAMILY_COLUMNS.values(), ())))


class OrderError(ValueError):
    """A streamed host's rows are not in (ts, event_id) order."""


def to_us(ts: Any) -> int:
    """Microseconds since the Unix epoch of an int or an aware datetime."""
    if type(ts) is int:
        return ts
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("naive datetime ts: give UTC-aware times or int microseconds")
        delta = ts - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(ts)


def _usable(rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], int]]:
    for row in rows:
        ts = row.get("ts")
        if ts is not None and row.get("family") != "reject":
            yield row, to_us(ts)


def ordered(rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], int]]:
    """(row, ts µs) in (host, ts, event_id) order per host: sorted for a sequence, checked for a stream."""
    if isinstance(rows, Sequence):
        items = list(_usable(rows))
        items.sort(key=lambda p: (p[0].get("host") or "", p[1], p[0]["event_id"]))
        yield from items
        return
    last: dict[Any, tuple[int, int]] = {}
    for row, ts in _usable(rows):
        host = row.get("host")
        key = (ts, row["event_id"])
        previous = last.get(host)
        if previous is not None and key < previous:
            raise OrderError(f"host {host!r}: event {key[1]} (ts {ts}) comes after event {previous[1]} "
                             f"(ts {previous[0]}): pass a list, or rows sorted by (ts, event_id) per host")  # fmt: skip
        last[host] = key
        yield row, ts


def feed(engine: HostEngine, row: Mapping[str, Any], ts: int) -> None:
    """Give one case row to its host's engine (families tested in the order of their usual share of a case)."""
    g = row.get
    family = g("family")
    eid = row["event_id"]
    if family == "registry":
        engine.registry(eid, ts, g("actor_pid"), g("key_path"))
    elif family == "handle":
        engine.handle(eid, ts, g("actor_pid"), g("target_pid"), g("access_mask"), g("class_id"), g("flags"),
                      g("is_thread_object"))  # fmt: skip
    elif family == "image":
        engine.image(eid, ts, g("target_pid"), g("image_path"), g("is_system_mode"))
    elif family == "thread":
        engine.thread(eid, ts, g("actor_pid"), g("target_pid"), g("kind") == ETW_THREAD_KIND, g("got_start"),
                      g("start_region_exec"), g("start_region_status"), g("start_region_type"),
                      g("start_region_protect"), g("outside_main_image"), g("corr_flags"), g("corr_access_mask"),
                      g("corr_age_ms"), g("image_base"), g("image_size"), g("start_address"))  # fmt: skip
    elif family == "detection":
        if g("detection_name"):
            engine.live_row(LiveRow(eid, ts, g("detection_name"), g("severity"), g("reason"), g("actor_pid"),
                                    g("target_pid"), (g("corr_flags"), g("corr_access_mask"), g("corr_age_ms")),
                                    g("marks"), g("kind")))  # fmt: skip
    elif family == "apc":
        engine.apc_row(eid, ts, g("actor_pid"), g("target_pid"), g("access_mask"), g("class_name"))
    elif family == "ti":
        engine.ti(eid, ts, g("actor_pid"), g("target_pid"), g("event_name"), g("task"), g("creation_flags"),
                  g("region_size"), g("protect"), g("old_protect"))  # fmt: skip


def analyze(rows: Iterable[Mapping[str, Any]], *, table: str = "per-key") -> list[Detection]:
    """The detections table of a case's rows (every host), with `per-key` or `driver` chain tables."""
    if table not in ("per-key", "driver"):
        raise ValueError(f"table must be 'per-key' or 'driver', not {table!r}")
    engines: dict[Any, HostEngine] = {}
    if isinstance(rows, Sequence):
        for row, ts in ordered(rows):
            host = row.get("host")
            engine = engines.get(host)
            if engine is None:
                engine = engines[host] = HostEngine(host, table=table)
            feed(engine, row, ts)
    else:
        # The stream's loop inlines `ordered` (skip, check order, feed): a few generator layers per row cost as
        # much as the detections themselves.
        last: dict[Any, tuple[int, int]] = {}
        for row in rows:
            ts = row.get("ts")
            if ts is None or row.get("family") == "reject":
                continue
            if type(ts) is not int:
                ts = to_us(ts)
            host = row.get("host")
            key = (ts, row["event_id"])
            engine = engines.get(host)
            if engine is None:
                engine = engines[host] = HostEngine(host, table=table)
            elif key < last[host]:
                raise OrderError(f"host {host!r}: event {key[1]} (ts {ts}) comes after event {last[host][1]} "
                                 f"(ts {last[host][0]}): pass a list, or rows sorted by (ts, event_id) per host")  # fmt: skip
            last[host] = key
            feed(engine, row, ts)
    return detections_table([(host, engine.finish(), engine.live) for host, engine in engines.items()])
