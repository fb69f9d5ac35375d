"""Output `etl`: a real .etl from case rows, the events the driver (and the TI provider) would have logged.

Rows with `kind` `sleepwalker:etw:<Event>` of the seven families become Sleepwalker.Kernel TraceLogging events
exactly as spec 2.1/2.2 has the driver write them (level 4, keyword 0, id/task/opcode/version 0, channel 11, the
field list and in-types of `swk.kernel.etw`, header pid/tid from `header_pid`/`header_tid`); controller detections
(`sleepwalker:controller:detection`) are not kernel events and are left out. `ti` rows become
Microsoft-Windows-Threat-Intelligence manifest events through the shipped template of their (event id, version),
from `fields_json` when the row has it, else from the row's columns. A TI row without a shipped template is written
as the stock event of its task (so it is named by that event when read back: an .etl names manifest events only by
their descriptor); one with no stock task either (the simulator's CREATEPROCESS of spec 3.11 [AMB], task 0) is left
out, since any descriptor we chose would name another event.
The trace uses the QPC clock of `OutputContext` (boot time and frequency), as the controller's session does.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from swk.capture.etl import encode, ti
from swk.capture.etl import fields as fd
from swk.kernel.clock import FILETIME_UNIX_EPOCH
from swk.kernel.etw import FAMILIES, LEVEL, PROVIDER_GUID, PROVIDER_NAME, Family, TlType

if TYPE_CHECKING:
    from swk.capture.outputs import OutputContext

EVENT_OF_FAMILY = {fam.family: fam for fam in FAMILIES.values()}
ANSI_DEFAULT = "UNKNOWN"  # spec 2.1: missing ANSI strings are written as UNKNOWN
_GUID = PROVIDER_GUID.bytes_le
_FMT = {TlType.UINT8: "B", TlType.INT32: "i", TlType.UINT32: "I", TlType.HEXINT32: "I", TlType.BOOL32: "I",
        TlType.UINT64: "Q", TlType.HEXINT64: "Q"}  # fmt: skip
_MASK = {"B": 0xFF, "i": None, "I": 0xFFFFFFFF, "Q": 0xFFFFFFFFFFFFFFFF}


def write(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """Write the Sleepwalker and TI events of `batches` to `path` (atomically); returns the events written."""
    from swk.capture.outputs import atomic_output

    freq = ctx.qpc_frequency
    boot_ft = ctx.boot_ns // 100 + FILETIME_UNIX_EPOCH
    info = encode.LogfileInfo(start_time=boot_ft, end_time=boot_ft, boot_time=boot_ft, perf_freq=freq)
    first = True

    def records() -> Iterator[tuple[bytes, int]]:
        nonlocal first
        for filetime, build in _events(batches):
            qpc = _ceil_div((filetime - boot_ft) * freq, 10_000_000)
            if first:  # the trace starts with its first event (rows come sorted by time)
                info.start_time, info.start_qpc, first = filetime, qpc, False
            info.end_time = max(info.end_time, filetime)
            yield build(qpc), qpc

    with atomic_output(Path(path)) as fh:
        return encode.write_file(fh, info, records())


def _ceil_div(a: int, b: int) -> int:
    # Ceiling so the reader's floor conversion lands back on the same 100 ns tick (exact for freq >= 10 MHz).
    return -(-a // b)


def _filetime(row: dict[str, Any]) -> int:
    if row.get("clock") == "filetime" and row.get("raw_clock") is not None:
        return int(row["raw_clock"])
    ts: datetime | None = row.get("ts")
    if ts is None:
        return FILETIME_UNIX_EPOCH
    return (int(ts.timestamp()) * 1_000_000 + ts.microsecond) * 10 + FILETIME_UNIX_EPOCH


_NEEDED = sorted({f.column for fam in FAMILIES.values() for f in fam.fields if not f.column.startswith("frames[")}
                 | {"frames", "family", "kind", "ts", "raw_clock", "clock", "header_pid", "header_tid", "fields_json",
                    "etw_event_id", "etw_version", "event_name", "task", "opcode", "level", "keyword", "base_address",
                    "region_size", "protect", "old_protect", "actor_pid", "target_pid", "tid"})  # fmt: skip


def _events(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[int, Any]]:
    for batch in batches:
        names = set(batch.schema.names)
        if "family" not in names or "kind" not in names:
            continue
        for row in batch.select([c for c in _NEEDED if c in names]).to_pylist():
            kind = row.get("kind") or ""
            family = row.get("family")
            if family == "ti":
                event = _ti_event(row)
                if event is not None:
                    yield _filetime(row), _ti_builder(row, *event)
            elif kind.startswith("sleepwalker:etw:") and family in EVENT_OF_FAMILY:
                fam = EVENT_OF_FAMILY[family]
                if kind != f"sleepwalker:etw:{fam.event_name}":
                    continue
                yield _filetime(row), _sleepwalker_builder(fam, row)


@cache
def _ext(fam: Family) -> bytes:
    meta = encode.tl_metadata(fam.event_name, [(f.name, int(f.type)) for f in fam.fields])
    return encode.ext_items([(12, encode.prov_traits(PROVIDER_NAME)), (11, meta)])


def _value(fam: Family, field_name: str, column: str, row: dict[str, Any]) -> Any:
    if column.startswith("frames["):
        frames = row.get("frames") or []
        k = int(column[7:-1])
        return frames[k]["address"] if k < len(frames) and frames[k].get("address") is not None else 0
    if fam.event_name == "ProcessTelemetry" and column == "target_pid":
        return row.get("target_pid")
    if fam.event_name == "ImageTelemetry" and column == "target_pid":
        return row.get("target_pid") if row.get("target_pid") is not None else row.get("actor_pid")
    if column == "frame_count" and row.get("frame_count") is None:
        return len(row.get("frames") or [])
    return row.get(column)


def payload(fam: Family, row: dict[str, Any]) -> bytes:
    """The TraceLogging user data of one Sleepwalker event row (spec 2.2 order, no padding)."""
    out = bytearray()
    for f in fam.fields:
        value = _value(fam, f.name, f.column, row)
        if f.type == TlType.ANSISTRING:
            text = value if value is not None else ANSI_DEFAULT
            out += text.encode("utf-8") + b"\0"
        elif f.type == TlType.UNICODESTRING:
            out += (value or "").encode("utf-16-le", "surrogatepass") + b"\0\0"
        elif f.type == TlType.BINARY:
            data = value or b""
            out += struct.pack("<H", len(data)) + data
        else:
            fmt = _FMT[f.type]
            number = int(bool(value)) if f.type == TlType.BOOL32 else int(value or 0)
            out += struct.pack("<" + fmt, number & _MASK[fmt])
    return bytes(out)


def _sleepwalker_builder(fam: Family, row: dict[str, Any]) -> Any:
    user = payload(fam, row)
    pid, tid = row.get("header_pid") or 0, row.get("header_tid") or 0
    ext = _ext(fam)

    def build(qpc: int) -> bytes:
        return encode.event_record(provider=_GUID, timestamp=qpc, pid=pid, tid=tid, user=user, ext=ext,
                                   channel=encode.TL_CHANNEL, level=LEVEL)  # fmt: skip

    return build


def _ti_builder(row: dict[str, Any], event_id: int, version: int) -> Any:
    entry = ti.templates()[event_id, version]
    values = json.loads(row["fields_json"]) if row.get("fields_json") else _ti_values_from_columns(row, entry)
    user = ti_payload(event_id, version, values)
    pid, tid = row.get("header_pid") or 0, row.get("header_tid") or 0
    keyword = row.get("keyword") or 0

    def build(qpc: int) -> bytes:
        return encode.event_record(provider=ti.GUID_BYTES, timestamp=qpc, pid=pid, tid=tid, user=user,
                                   event_id=event_id, version=version, channel=16, level=row.get("level") or LEVEL,
                                   opcode=row.get("opcode") or 0, task=entry["task"], keyword=keyword)  # fmt: skip

    return build


# Event chosen for a TI row without an event id: the remote variant of its task (version 1, the 18990 manifest).
_TASK_EVENT = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 13, 7: 14, 8: 15, 9: 17, 10: 29}
_NAMED_TASK = {name: task for task, name in ti.TASK_NAMES.items()}


def _ti_event(row: dict[str, Any]) -> tuple[int, int] | None:
    """(event id, version) a TI row is written as; None for an event the stock manifest does not have."""
    event_id, version = row.get("etw_event_id"), row.get("etw_version")
    if event_id is not None and (event_id, version or 0) in ti.templates():
        return event_id, version or 0
    task = row.get("task") if row.get("task") is not None else _NAMED_TASK.get(row.get("event_name") or "")
    return (_TASK_EVENT[task], 1) if task in _TASK_EVENT else None


def _ti_values_from_columns(row: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    names = {f[0] for f in entry["fields"]}
    known = {"CallingProcessId": row.get("actor_pid"), "TargetProcessId": row.get("target_pid"),
             "TargetThreadId": row.get("tid"), "BaseAddress": row.get("base_address"),
             "RegionSize": row.get("region_size"), "ViewSize": row.get("region_size"),
             "BytesCopied": row.get("region_size"),
             "ProtectionMask": row.get("protect"), "LastProtectionMask": row.get("old_protect")}  # fmt: skip
    return {k: v for k, v in known.items() if k in names and v is not None}


def ti_payload(event_id: int, version: int, values: dict[str, Any]) -> bytes:
    """The user data of a TI event from its field values (missing fields are zero / empty)."""
    out = bytearray()
    for f in ti.template_fields(event_id, version) or ():
        value = values.get(f.name)
        t = f.in_type
        if t == fd.UNICODESTRING:
            text = (value or "").encode("utf-16-le", "surrogatepass")
            out += text if f.length_field else text + b"\0\0"
        elif t == fd.FILETIME:
            out += struct.pack("<Q", _parse_filetime(value))
        elif t == fd.POINTER:
            out += struct.pack("<Q", int(value or 0) & 0xFFFFFFFFFFFFFFFF)
        else:
            fmt = {fd.UINT8: "B", fd.UINT16: "H", fd.UINT32: "I", fd.UINT64: "Q"}[t]
            number = value if isinstance(value, int) else 0
            if f.name in {g.length_field for g in ti.template_fields(event_id, version) or () if g.length_field}:
                number = len(values.get(_length_target(event_id, version, f.name)) or "")
            out += struct.pack("<" + fmt, number & {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}.get(fmt, (1 << 64) - 1))
    return bytes(out)


def _length_target(event_id: int, version: int, length_name: str) -> str:
    return next(f.name for f in ti.template_fields(event_id, version) or () if f.length_field == length_name)


def _parse_filetime(value: Any) -> int:
    if isinstance(value, int):
        return value
    if not value:
        return 0
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    seconds = int(when.timestamp())
    return (seconds * 1_000_000 + when.microsecond) * 10 + FILETIME_UNIX_EPOCH
