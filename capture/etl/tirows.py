"""Threat-Intelligence events of a chunk decoded together: the rows `Batch._ti` builds one event at a time, as
columns, for templates whose fields are all fixed-size (every shipped TI template but the few with strings).

A template is planned once per (event id, version, pointer size): one packed structured dtype, which field (if
any) each spec 3.11 column comes from (`ti.columns`: the first name of its list present as an integer), and a
`%` format for `fields_json` (`json.dumps` of the fields in template order: integers print alike either way).
TI events are a few hundred per chunk, too few for column-wise text building to pay, so the JSON is formatted per
event; FILETIME fields go through `fields._filetime` itself, once per distinct value. An event this path cannot
reproduce exactly (user data shorter than the template, a FILETIME past year 9999, a timestamp outside BIGINT)
is flagged for `Batch.add`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from swk.capture.etl import fields as fd
from swk.capture.etl import scan, ti, vector
from swk.capture.etl.container import Logfile
from swk.kernel.clock import FILETIME_UNIX_EPOCH
from swk.store.schema import EVENTS

# The keys of a TI row dict, in the order `Batch._ti` creates them (the dict batch's column order follows it).
KEYS = ("source_offset", "ts", "raw_clock", "clock", "family", "header_pid", "header_tid", "actor_pid", "tid",
        "provider", "event_name", "etw_event_id", "etw_version", "task", "opcode", "level", "keyword", "kind",
        "target_pid", "base_address", "region_size", "protect", "old_protect", "creation_flags", "fields_json")  # fmt: skip
_COLUMNS = {"actor_pid": ti.CALLER, "target_pid": ti.TARGET, "tid": ("TargetThreadId",), "base_address": ti.BASE,
            "region_size": ti.SIZE, "protect": ti.PROTECT, "old_protect": ti.OLD_PROTECT,
            "creation_flags": ti.CREATION_FLAGS}  # fmt: skip
_INTS = {fd.INT8: "i1", fd.UINT8: "u1", fd.INT16: "<i2", fd.UINT16: "<u2", fd.INT32: "<i4", fd.UINT32: "<u4",
         fd.INT64: "<i8", fd.UINT64: "<u8", fd.HEXINT32: "<u4", fd.HEXINT64: "<u8"}  # fmt: skip
_LOW, _HIGH = -(1 << 63) + FILETIME_UNIX_EPOCH, (1 << 63) - 1


@dataclass(frozen=True)
class Plan:
    """How to turn one fixed-size template's events into TI rows."""

    dtype: np.dtype  # packed, one field per template field
    filetimes: frozenset[str]  # fields formatted as FILETIME text
    sources: dict[str, str | None]  # case column -> the field that gives it
    json: str  # '{"A": %d, "B": %s, ...}': FILETIMEs (%s) filled with their JSON text
    filetime_at: tuple[int, ...]  # positions of the FILETIME fields


@lru_cache(maxsize=1024)  # bounded: a damaged file can name any (id, version) under the TI provider
def plan(event_id: int, version: int, pointer_size: int) -> Plan | None:
    """The plan of a template of fixed-size fields, or None (no template, or strings: `Batch._ti` decodes it)."""
    fields = ti.template_fields(event_id, version)
    if not fields:
        return None
    ptr = "<u8" if pointer_size == 8 else "<u4"
    formats = []
    for f in fields:
        if f.length_field or f.count:
            return None
        fmt = ptr if f.in_type == fd.POINTER else "<u8" if f.in_type == fd.FILETIME else _INTS.get(f.in_type)
        if fmt is None:
            return None
        formats.append(fmt)
    names = [f.name for f in fields]
    dtype = np.dtype({"names": names, "formats": formats})  # packed: offsets follow sizes, as struct "<" does
    ints = {f.name for f in fields if f.in_type != fd.FILETIME}
    sources = {col: next((n for n in wanted if n in ints), None) for col, wanted in _COLUMNS.items()}
    if len(set(names)) != len(names):
        return None  # a dict keeps the last of repeated names: left to the scalar decoder
    text = ", ".join(json.dumps(n, ensure_ascii=False).replace("%", "%%") + (": %d" if n in ints else ": %s")
                     for n in names)  # fmt: skip
    at = tuple(i for i, n in enumerate(names) if n not in ints)
    return Plan(dtype, frozenset(n for n in names if n not in ints), sources, "{" + text + "}", at)


def decode(ch: scan.Chunk, rows: np.ndarray, log: Logfile, plan_: Plan, event_id: int, version: int,
           task: int) -> tuple[np.ndarray, dict[str, pa.Array], np.ndarray]:  # fmt: skip
    """(rows that decoded, their TI columns by KEYS, rows flagged for `Batch.add`) of events of one template."""
    ok = ch.stop[rows] - ch.user[rows] >= plan_.dtype.itemsize
    pos = ch.pos[rows]
    filetimes = [log.filetime(t) for t in ch.words[(pos + 16) >> 3].view(np.int64).tolist()]
    ok &= np.array([_LOW <= f <= _HIGH for f in filetimes], dtype=bool)  # ts and raw_clock exact in int64
    values = vector.gather(ch.u8, ch.user[rows], plan_.dtype.itemsize).view(plan_.dtype).reshape(-1)
    texts = _json(plan_, values, ok)
    good = rows[ok]
    values, pos = values[ok], pos[ok]
    n = len(good)
    stamps = np.array([f for f, keep in zip(filetimes, ok.tolist(), strict=True) if keep], dtype=np.int64)
    ids = ch.words[(pos + 8) >> 3]
    desc = ch.words[(pos + 40) >> 3]  # EVENT_DESCRIPTOR: Id, Version, Channel, Level, Opcode, Task
    name = ti.event_name(event_id, version, task)
    cols: dict[str, pa.Array] = {
        "source_offset": pa.array(ch.file_offset(pos, ch.buffer[good])),
        "ts": pa.array((stamps - FILETIME_UNIX_EPOCH) // 10, type=EVENTS.field("ts").type),
        "raw_clock": pa.array(stamps),
        "clock": _constant("filetime", n),
        "family": _constant("ti", n),
        "header_pid": pa.array((ids >> 32).astype(np.int64)),
        "header_tid": pa.array((ids & 0xFFFFFFFF).astype(np.int64)),
        "provider": _constant(ti.PROVIDER, n),
        "event_name": _constant(name, n),
        "etw_event_id": pa.array((desc & 0xFFFF).astype(np.int32)),
        "etw_version": pa.array(((desc >> 16) & 0xFF).astype(np.int32)),
        "task": pa.array((desc >> 48).astype(np.int32)),
        "opcode": pa.array(((desc >> 40) & 0xFF).astype(np.int32)),
        "level": pa.array(((desc >> 32) & 0xFF).astype(np.int32)),
        "keyword": pa.array(ch.words[(pos + 48) >> 3].view(np.int64)),
        "kind": _constant(f"ti:etw:{name}", n),
    }
    ints = {col: None if field is None else values[field].astype(np.uint64).view(np.int64)
            for col, field in plan_.sources.items()}  # fmt: skip
    caller, target = ints["actor_pid"], ints["target_pid"]
    if target is not None:  # ti.columns: a target of 0 is the caller (or nothing, without a caller field)
        zero = target == 0
        target = np.where(zero, caller if caller is not None else 0, target)
        ints["target_pid"] = target if caller is not None or not zero.any() else np.ma.masked_array(target, zero)
    for col in ("actor_pid", "tid", "target_pid", "base_address", "region_size", "protect", "old_protect",
                "creation_flags"):  # fmt: skip
        arr = ints[col]
        if arr is None:
            cols[col] = pa.nulls(n, pa.int64())
        elif isinstance(arr, np.ma.MaskedArray):
            cols[col] = pa.array(arr.data, mask=arr.mask, type=pa.int64())
        else:
            cols[col] = pa.array(arr, type=pa.int64())
    cols["fields_json"] = pa.array(texts, type=pa.string())
    return good, {k: cols[k] for k in KEYS}, rows[~ok]


def _constant(value: str, n: int) -> pa.Array:
    return pa.array([value], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def _json(plan_: Plan, values: np.ndarray, ok: np.ndarray) -> list[str]:
    """`json.dumps` of the fields of each event still `ok`; clears `ok` where a FILETIME cannot be dated."""
    out = []
    if not plan_.filetime_at:
        return [plan_.json % row for row, keep in zip(values.tolist(), ok.tolist(), strict=True) if keep]
    for i, (row, keep) in enumerate(zip(values.tolist(), ok.tolist(), strict=True)):
        if not keep:
            continue
        row = list(row)
        try:
            for at in plan_.filetime_at:
                row[at] = _filetime_json(row[at])
        except (OverflowError, ValueError):
            ok[i] = False
            continue
        out.append(plan_.json % tuple(row))
    return out


@lru_cache(maxsize=4096)  # bounded: create times differ per process, and a file may hold millions
def _filetime_json(value: int) -> str:
    return json.dumps(fd._filetime(value), ensure_ascii=False)
