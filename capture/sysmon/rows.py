"""Windows events to case rows: a batch at a time, grouped by mapping rule, each column built in one typed array.

Readers hand over each event (the header facts of `events.Event`, and its fields) with its offset and raw fields
JSON. Each event is grouped by its rule and only the fields the rule reads are kept (the parsed event is freed at
once, while it is still in cache). At `flush` a group's columns are converted through memos, scattered into input
order, and handed to Arrow with their case types, so event ids follow the file.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture.sysmon import calltrace
from swk.capture.sysmon import normalize as nz
from swk.capture.sysmon.mapping import (
    CALLTRACE,
    GUID,
    IMAGE,
    INT,
    MODULE,
    OPERATION,
    REGISTRY_DEFAULT,
    REGISTRY_OPERATIONS,
    REGPATH,
    TEXT,
    THREAD_OBJECT,
    VALUE_OPERATIONS,
    Rule,
    rule_for,
    source_of,
)
from swk.kernel.catalogue import HIGH_VALUE_REGISTRY_NEEDLES
from swk.store.schema import EVENTS

BATCH_EVENTS = 8192
BATCH_JSON_BYTES = 256 << 20  # and never more raw fields than this in one batch (a string column holds < 2 GiB)
SKEW_SECONDS = 300  # a system time further than this from UtcTime is not clock jitter but a different clock
_NEEDLES = tuple(needle for needle, _technique in HIGH_VALUE_REGISTRY_NEEDLES)


@dataclass
class Stats:
    """What the conversions noticed over a whole input, for warnings at its end."""

    garbled: Counter[str] = field(default_factory=Counter)  # "<kind> <column>" -> values left NULL
    bad_utc: int = 0
    bad_system_time: int = 0
    skewed: int = 0
    compared: int = 0
    skews: Counter[int] = field(default_factory=Counter)  # skew rounded to 15 minutes -> events

    def merge(self, other: Stats) -> None:
        """Add another unit of work's counts to these."""
        self.garbled.update(other.garbled)
        self.skews.update(other.skews)
        self.bad_utc += other.bad_utc
        self.bad_system_time += other.bad_system_time
        self.skewed += other.skewed
        self.compared += other.compared

    def warnings(self, system_time: str) -> list[str]:
        """One line per thing an analyst should know about this input's values."""
        out = [f"{n} {what} values garbled: left NULL (raw value in fields_json)"
               for what, n in sorted(self.garbled.items())]  # fmt: skip
        if self.bad_utc:
            out.append(f"{self.bad_utc} UtcTime values unreadable: those rows use the {system_time}")
        if self.bad_system_time:
            out.append(f"{self.bad_system_time} {system_time} values unreadable or without a zone: left NULL")
        if self.skewed * 2 > self.compared:  # a systematic difference, not a few late-written events
            minutes = self.skews.most_common(1)[0][0] * 15
            out.append(f"the {system_time} differs from Sysmon's UtcTime by more than {SKEW_SECONDS // 60} minutes "
                       f"in {self.skewed} of {self.compared} events (mostly {minutes // 60:+d}h{abs(minutes) % 60:02d}m): "
                       "rows without UtcTime keep it as written")  # fmt: skip
        return out


class Rows:
    """Accumulates events and turns them into one RecordBatch of case rows."""

    def __init__(self, *, unescape: bool, system_clock: str) -> None:
        self.system_clock = system_clock  # what a non-UtcTime time is: event-time (EVTX) or export-time (JSON)
        self.stats = Stats()
        self.memos = _memos(unescape)
        self.json_prefix: bytes | None = None  # members added to every fields_json object, e.g. `"swk_member":"x",`
        self._rules: dict[tuple[object, object, int], Rule] = {}
        # The inputs whose events are queued: (input, what the conversions notice in it, its first row). One, -1
        # with `stats`, unless several inputs share the rows (`begin_input`).
        self._spans: list[tuple[int, Stats, int]] = [(-1, self.stats, 0)]
        self.flushed: list[tuple[int, int, int]] = []  # the last batch's inputs: (input, first row, rows)
        self._clear()

    def begin_input(self, key: int) -> Stats:
        """Queue the next events as input `key`'s: several small inputs make one batch (cut back apart with
        `flushed`), each with its own counts, so its warnings are its own. Returns those counts."""
        stats = Stats()
        if self._spans[0][0] == -1 and not self.common:  # the first input: nothing is queued before it
            self._spans = []
        self._spans.append((key, stats, len(self.common)))
        return stats

    def _clear(self) -> None:
        self.groups: dict[Rule, list[Any]] = {}  # rule -> [positions, values of the fields it reads, those fields]
        self._slots: dict[tuple[object, ...], list[Any]] = {}  # (channel, provider, event id) -> its group
        self.common: list[tuple[object, ...]] = []  # each event's header facts (Event without its fields)
        self.utcs: list[object] = []
        self.offsets: list[int] = []
        self.jsons: list[bytes | str] = []
        self.json_bytes = 0

    def __len__(self) -> int:
        return len(self.common)

    @property
    def full(self) -> bool:
        """Time to flush: enough events, or enough raw fields text."""
        return len(self.common) >= BATCH_EVENTS or self.json_bytes >= BATCH_JSON_BYTES

    def add(self, head: tuple[object, ...], fields: dict[str, object], offset: int, fields_json: bytes | str) -> None:
        """Queue one event at `offset`: its header facts (`Event` without its fields), its fields, and its raw fields
        as one JSON object (UTF-8 bytes or text; one kind per batch). Only the fields its rule reads are kept, so the
        parsed event can be freed while it is still hot."""
        key = head[:3]  # channel, provider, event id
        group = self._slots.get(key)
        if group is None:
            group = self._slot(key, fields)
        group[0].append(len(self.common))
        group[1].append(tuple(map(fields.get, group[2])))
        self.common.append(head)
        self.utcs.append(fields.get("UtcTime"))
        self.offsets.append(offset)
        self.jsons.append(fields_json)
        self.json_bytes += len(fields_json)

    def _slot(self, key: tuple[object, ...], fields: dict[str, object]) -> list[Any]:
        """The group an event of `key` joins: [positions, values, fields read]; remembered for the batch unless the
        rule is chosen by a field's value."""
        rule = self._rules.get(key)
        if rule is None:
            channel, provider, event_id = key
            rule = rule_for(source_of(channel, provider), channel, event_id, fields)  # type: ignore[arg-type]
            if not rule.by_fields:
                self._rules[key] = rule
        group = self.groups.get(rule)
        if group is None:
            group = self.groups[rule] = [[], [], rule.reads]
        if not rule.by_fields:
            self._slots[key] = group
        return group

    def flush(self) -> pa.RecordBatch | None:
        """The queued events as one batch in input order (None when nothing is queued)."""
        n = len(self)
        if not n:
            return None
        # Each group's values are scattered into full-length object arrays, then one typed Arrow array per
        # column: cheaper than a table per group plus concat and take, and rows stay in input order.
        scattered: dict[str, np.ndarray] = {}
        arrays: dict[str, pa.Array] = {}
        for rule, (positions, rows, _reads) in self.groups.items():
            index = np.asarray(positions, dtype=np.int64)
            for name, values in self._group(rule, rows, arrays, index, n).items():
                target = scattered.get(name)
                if target is None:
                    target = scattered[name] = np.full(n, None, dtype=object)
                target[index] = values
        cols = {name: pa.array(values, type=EVENTS.field(name).type) for name, values in scattered.items()}
        cols.update(arrays)
        _channel, provider, _event_id, host, sequence, hpid, htid, system_time = zip(*self.common, strict=True)
        ints, texts = self.memos[INT], self.memos[TEXT]
        header_pid = nz.int_array(hpid, ints)
        cols.update(source_offset=pa.array(self.offsets, type=nz.I64), host=_str(texts.map(host)),
                    sequence=nz.int_array(sequence, ints), header_pid=header_pid,
                    header_tid=nz.int_array(htid, ints), provider=_str(texts.map(provider)),
                    fields_json=utf8_objects(self.jsons, self.json_prefix))  # fmt: skip
        cols.update(self._times(self.utcs, system_time))
        if "actor_pid" in cols and any(rule.family == "generic" for rule in self.groups):
            # generic rows: the log header's process when the event names none
            generic = pc.equal(cols["family"], pa.scalar("generic", nz.STR))
            cols["actor_pid"] = pc.if_else(generic, pc.coalesce(cols["actor_pid"], header_pid), cols["actor_pid"])
        ends = [start for _key, _stats, start in self._spans[1:]] + [n]
        self.flushed = [(key, start, end - start) for (key, _stats, start), end in zip(self._spans, ends, strict=True)]
        self._spans = [(*self._spans[-1][:2], 0)]  # the last input goes on in the next batch
        self._clear()
        return pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))

    def _owners(self, rows: np.ndarray) -> list[tuple[Stats, np.ndarray]]:
        """The counts of the input each of `rows` (row numbers, ascending) belongs to, with the indices into `rows`
        of that input's."""
        if len(self._spans) == 1:
            return [(self._spans[0][1], np.arange(len(rows)))]
        starts = np.array([start for _key, _stats, start in self._spans], dtype=np.int64)
        owner = np.searchsorted(starts, rows, side="right") - 1
        return [(self._spans[k][1], np.flatnonzero(owner == k)) for k in np.unique(owner).tolist()]

    def _times(self, utcs: Sequence[object], systimes: Sequence[object]) -> dict[str, pa.Array]:
        """ts from UtcTime, else the log's own time; combined in numpy (this runs once per batch, and a batch of a
        small log is a few rows: Arrow kernel calls would cost more than the work)."""
        utc, bad_utc = nz.utc_times(utcs)
        system, bad_system = nz.zoned_times(systimes)
        has_utc, has_system = _valid(utc), _valid(system)
        if len(self._spans) == 1:  # one input's rows: its counts (the reader's own, or one of `begin_input`'s)
            stats = self._spans[0][1]
            stats.bad_utc += bad_utc
            stats.bad_system_time += bad_system
        else:  # the same counts per input: a value given (not None) that did not convert
            if bad_utc:
                for stats, at in self._owners(np.flatnonzero(~has_utc & _given(utcs))):
                    stats.bad_utc += len(at)
            if bad_system:
                for stats, at in self._owners(np.flatnonzero(~has_system & _given(systimes))):
                    stats.bad_system_time += len(at)
        utc_us, system_us = _micros(utc), _micros(system)
        both = has_utc & has_system
        if both.any():
            skew = system_us[both] - utc_us[both]
            far = np.abs(skew) > SKEW_SECONDS * 1_000_000
            for stats, at in self._owners(np.flatnonzero(both)):
                stats.compared += len(at)
                mine = far[at]
                stats.skewed += int(mine.sum())
                if mine.any():
                    quarters, counts = np.unique(np.round(skew[at][mine] / 900e6).astype(np.int64), return_counts=True)
                    stats.skews.update(dict(zip(quarters.tolist(), counts.tolist(), strict=True)))
        micros = np.where(has_utc, utc_us, system_us)
        missing = ~(has_utc | has_system)
        raw_clock = pa.array(micros, type=nz.I64, mask=missing if missing.any() else None)
        clock = np.where(has_utc, "sysmon-utc", np.where(has_system, self.system_clock, None))
        return {"ts": raw_clock.cast(nz.TS), "raw_clock": raw_clock, "clock": pa.array(clock, type=nz.STR)}

    def _group(self, rule: Rule, rows: list[tuple[object, ...]], arrays: dict[str, pa.Array], index: np.ndarray,
               n: int) -> dict[str, object]:  # fmt: skip
        """A group's column values (lists, or a constant); Arrow-only columns (frames) go into `arrays`."""
        by_field = dict(zip(rule.reads, zip(*rows, strict=True), strict=True))
        values: dict[str, object] = {"family": rule.family, "kind": rule.kind, "event_name": rule.event_name,
                                     **rule.const}  # fmt: skip
        for col in rule.cols:
            raw = by_field[col.fields[0]]
            for other in col.fields[1:]:  # another spelling of the same field
                raw = [v if v is not None else w for v, w in zip(raw, by_field[other], strict=True)]
            if col.conv == CALLTRACE:  # Arrow columns already: placed by index, not scattered as objects
                where = np.full(n, -1, dtype=np.int64)
                where[index] = np.arange(len(index))
                place = pa.array(where, mask=where < 0)
                for name, arr in calltrace.columns(self.memos[CALLTRACE].map(raw)).items():
                    arrays[name] = arr.take(place)  # one rule carries a CallTrace
                continue
            if col.conv == OPERATION:
                default = REGISTRY_DEFAULT.get(rule.kind)
                out = [REGISTRY_OPERATIONS.get(v, default) if isinstance(v, str) else default for v in raw]
            elif col.conv == REGPATH:
                out, values["value_name"] = _split_registry(self.memos[TEXT].map(raw), values.get("operation"))
            elif col.conv == THREAD_OBJECT:
                out = [None if v is None else v == "Thread" for v in raw]
            else:
                out = self.memos[col.conv].map(raw)
                if col.conv == IMAGE and None in out:
                    bad = nz.garbled_at(raw, out)
                    for stats, at in self._owners(index[bad]) if bad else ():
                        stats.garbled[f"{rule.kind} {col.column}"] += len(at)
            values[col.column] = out
        for name in rule.derive:
            values[name] = _DERIVE[name](values)
        return values


@functools.cache
def _memos(unescape: bool) -> dict[str, nz.Memo]:
    """The conversions, each remembering its results; shared by every input of the process (they are pure), so a
    run over many small logs of the same hosts converts each image, GUID and call trace once."""
    # JSON exporters XML-escape text; EVTX values are exact.
    clean: Callable[[object], str | None] = (lambda v: nz.unescape_xml(nz.text(v))) if unescape else nz.text
    return {INT: nz.Memo(nz.integer), GUID: nz.Memo(nz.guid), TEXT: nz.Memo(clean),
            IMAGE: nz.Memo(lambda v: nz.image(clean(v))), MODULE: nz.Memo(lambda v: nz.module(clean(v))),
            # a trace and its frames take ~2 KB: fewer of them (code injected at fresh addresses makes every trace new)
            CALLTRACE: nz.Memo(lambda v: calltrace.parse(clean(v)), limit=10_000)}  # fmt: skip


def _split_registry(targets: list[object], operations: object) -> tuple[list[object], list[object]]:
    """key_path and value_name: value operations name `key\\value` in TargetObject; key operations the key only.

    A value name may itself hold a backslash; the split takes the last one, and fields_json keeps TargetObject.
    """
    keys: list[object] = []
    names: list[object] = []
    ops = operations if isinstance(operations, list) else [None] * len(targets)
    for target, op in zip(targets, ops, strict=True):
        key, name = target, None
        if op in VALUE_OPERATIONS and isinstance(target, str) and "\\" in target:
            key, _, name = target.rpartition("\\")
        keys.append(key)
        names.append(name)
    return keys, names


def _high_value(values: dict[str, Any]) -> list[object]:
    """The driver's high-value registry test (spec 3.8): a case-insensitive needle in the key path."""
    return [None if not isinstance(k, str) else any(n in k.lower() for n in _NEEDLES) for k in values["key_path"]]


def _is_remote(values: dict[str, Any]) -> list[object]:
    """Sysmon 8: the source process is not the target (NULL where either pid is missing)."""
    return [None if a is None or t is None else a != t
            for a, t in zip(values["actor_pid"], values["target_pid"], strict=True)]  # fmt: skip


def _got_start(values: dict[str, Any]) -> list[object]:
    """Sysmon 8 carried a start address (Sleepwalker's GOT_START: the query for it succeeded)."""
    return [None if s is None else s != 0 for s in values["start_address"]]


_DERIVE: dict[str, Callable[[dict[str, Any]], list[object]]] = {
    "is_remote": _is_remote, "got_start": _got_start, "is_high_value": _high_value,
}  # fmt: skip


def utf8_objects(objects: list[bytes] | list[str], prefix: bytes | None) -> pa.Array:
    """A string column of JSON objects given as text, or as UTF-8 bytes with `prefix` spliced in after each `{`:
    one join into one buffer, no per-row Python string (a raw OTRF line is ~2 KB, and non-ASCII text makes
    `pa.array` re-encode)."""
    if objects and isinstance(objects[0], str):
        return pa.array(objects, type=nz.STR)
    lengths = np.fromiter(map(len, objects), dtype=np.int64, count=len(objects))
    if prefix:
        pieces: list[object] = [None] * (2 * len(objects))
        pieces[0::2] = [b"{" + prefix] * len(objects)
        pieces[1::2] = [memoryview(o)[1:] for o in objects]
        data = b"".join(pieces)  # type: ignore[arg-type]
        lengths += len(prefix)
    else:
        data = b"".join(objects)
    offsets = np.zeros(len(objects) + 1, dtype=np.int32)  # Rows.full keeps a batch's text well under 2 GiB
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(nz.STR, len(objects), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _given(values: Sequence[object]) -> np.ndarray:
    """Where values are not None, as numpy booleans."""
    return np.fromiter((v is not None for v in values), dtype=bool, count=len(values))


def _valid(arr: pa.Array) -> np.ndarray:
    """Where an array is not NULL, as numpy booleans."""
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return np.asarray(arr.is_valid())


def _micros(times: pa.Array) -> np.ndarray:
    """Microseconds of timestamps as int64 (0 where NULL: read them only through `_valid`)."""
    return np.asarray(times.cast(nz.I64).fill_null(0))


def _str(values: list[object]) -> pa.Array:
    return pa.array(values, type=nz.STR)
