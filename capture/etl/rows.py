"""Records into case rows: Sleepwalker families by the batch, TI, kernel MOF and everything else row by row.

`Batch` collects the records of a stretch of the file and `build()`s one RecordBatch in file order. Sleepwalker
events (the volume) go through their compiled schema decoder into per-family tuple lists, turned into columns by
`sleepwalker.columns`; Threat-Intelligence, kernel process/thread/image and generic rows are dicts (few, and they
need per-event JSON anyway). A record whose payload does not decode is returned as a `Reject`; nothing is dropped.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture.columns import constant
from swk.capture.etl import container, layout, mof, sleepwalker, ti, tracelogging
from swk.capture.etl import fields as fd
from swk.capture.etl.fields import TruncatedError
from swk.kernel.clock import FILETIME_UNIX_EPOCH
from swk.store.reject import Reject
from swk.store.schema import EVENTS

HEX_PREVIEW = 512  # bytes of an undecoded payload kept as hex in fields_json
DECODE_ERRORS = (TruncatedError, struct.error, IndexError, ValueError, OverflowError)
_TS = EVENTS.field("ts").type
_EVENT_HEADER = layout.EVENT_HEADER.unpack
# The EVENT_HEADER fields the batch path reads, as a numpy view of the collected header bytes.
_HEADER_DTYPE = np.dtype(
    {
        "names": ["tid", "pid", "ts"],
        "formats": ["<u4", "<u4", "<i8"],
        "offsets": [8, 12, 16],
        "itemsize": layout.EVENT_HEADER_SIZE,
    }
)


def guid_text(raw: bytes) -> str:
    """{xxxxxxxx-...} text of a little-endian GUID."""
    return "{" + str(uuid.UUID(bytes_le=raw)) + "}"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


def to_json(values: dict[str, Any]) -> str:
    """fields_json text: binary as hex, everything else as JSON has it."""
    return json.dumps(values, default=_json_default, ensure_ascii=False)


@dataclass(frozen=True)
class Slice:
    """Rows `start:stop` of columns decoded for many events at once (`vector`), kept in a family's row list."""

    columns: dict[str, pa.Array]  # family columns plus ts, raw_clock, header_pid, header_tid, source_offset
    start: int
    stop: int


class Batch:
    """The rows of a stretch of records, built into one RecordBatch in file order."""

    def __init__(self, log: container.Logfile, warn: Any = None) -> None:
        self.log = log
        self.warn = warn or (lambda _m: None)
        # Per family, in file order: (offset, header, values) tuples of events decoded one by one, and Slices.
        self.families: dict[str, list[tuple | Slice]] = {}
        self.dicts: list[dict[str, Any] | Slice] = []  # every other row, in file order (Slices: `tirows`)
        self.size = 0
        self._targets: dict[bytes, list] = {}
        self._slow_targets: dict[tuple[bytes, bytes, int], list] = {}
        self._segments: dict[str, fd.Segments | None] = {}

    # -- records ---------------------------------------------------------------------------------------------------

    def add(self, rec: tuple) -> Reject | None:
        """Decode one record from `container.walk`; a Reject when its payload does not decode."""
        kind = rec[0]
        try:
            if kind == container.EVENT:
                self._event(rec)
            elif kind == container.SYSTEM:
                self._system(rec)
            elif kind == container.FULL:
                self._full(rec)
            else:
                self._message(rec)
        except DECODE_ERRORS as exc:
            return Reject(rec[1], f"{_what(rec)}: {exc}", _raw(rec), None)
        self.size += 1
        return None

    def add_walked(self, records: list[tuple], broken: Reject | None) -> Iterator[Reject]:
        """Decode a buffer's records from `container.walk`, one by one; its rejects, then where its walk broke off."""
        for rec in records:
            rejected = self.add(rec)
            if rejected is not None:
                yield rejected
        if broken is not None:
            yield broken

    def _event(self, rec: tuple) -> None:
        _, offset, raw, ext, user = rec
        if ext:
            target = self._targets.get(ext)
            if target is None or raw[2] != target[5] or not raw.startswith(target[4], 24):
                target = self.target(ext, raw[24:40], raw[2])
            if target[7] is not None:  # said once, by the first record that uses the target
                self.warn(target[7])
                target[7] = None
            if target[6] is not None:  # a Sleepwalker family: raw header and segments now, columns per batch
                target[3].append((offset, raw, target[6](user)))
                return
        hdr = _EVENT_HEADER(raw)
        if ext and target[1] is not None:
            values = target[1].decode(user)
            schema, provider = target[1], target[2]
            fields = dict(zip((f.name for f in schema.fields), values, strict=True))
            row = self._header_row(offset, hdr, provider, schema.name, "generic")
            row["kind"] = f"etw:{provider}:{schema.name}"
            row["fields_json"] = to_json(fields)
            self.dicts.append(row)
            return
        ptr = 8 if hdr[1] == 0x13 else 4
        if hdr[8] == ti.GUID_BYTES:
            self._ti(offset, hdr, user, ptr)
            return
        row = self._header_row(offset, hdr, guid_text(hdr[8]), None, "generic")
        row["kind"] = f"etw:{row['provider']}:{hdr[9]}"
        row["fields_json"] = to_json({"user_data_size": len(user), "user_data_hex": user[:HEX_PREVIEW]})
        self.dicts.append(row)

    def target(self, ext: bytes, guid: bytes, htype: int) -> list:
        """[family, schema, provider, rows, provider guid, header type, segment decoder, warning not yet given] for
        an extended data region, provider GUID and header type (cached); raises when the schema does not parse.

        A Sleepwalker family's row list is registered here, so the order families are first resolved in is the order
        their rows are built in; the reader resolves each chunk's regions in file order before decoding it.
        """
        key = (ext, guid, htype)
        target = self._slow_targets.get(key)
        if target is not None:
            return target
        items = dict(container.ext_items(ext))
        blob, traits = items.get(11), items.get(12)
        fam = schema = warning = None
        provider = (tracelogging.provider_name(traits) if traits else None) or guid_text(guid)
        if blob is not None:
            schema = tracelogging.schema(blob, 8 if htype == 0x13 else 4)
            fam = sleepwalker.family_for(provider, schema.name, schema.fields)
            if fam is None and provider == sleepwalker.PROVIDER_NAME:
                warning = f"Sleepwalker.Kernel event {schema.name!r} does not have the fields of spec 2.2: kept generic"
        segments = fd.compile_segments(schema.fields, 8 if htype == 0x13 else 4) if fam is not None else None
        if segments is None:
            fam = None
        rows = self.families.setdefault(fam.event_name, []) if fam is not None else None
        self._segments[fam.event_name if fam else ""] = segments
        target = [fam, schema, provider, rows, guid, htype, segments.decode if segments else None, warning]
        if len(self._slow_targets) < container.SEEN_LIMIT:
            self._slow_targets[key] = target
            self._targets[ext] = target
        return target

    def _ti(self, offset: int, hdr: tuple, user: bytes, ptr: int) -> None:
        event_id, version, task = hdr[9], hdr[10], hdr[14]
        name = ti.event_name(event_id, version, task)
        row = self._header_row(offset, hdr, ti.PROVIDER, name, "ti")
        row["kind"] = f"ti:etw:{name}"
        decode = ti.decoder(event_id, version, ptr)
        if decode is None:
            self.warn(f"Threat-Intelligence event {event_id} version {version} has no template: kept as hex")
            row["fields_json"] = to_json({"user_data_size": len(user), "user_data_hex": user[:HEX_PREVIEW]})
        else:
            names = [f.name for f in ti.template_fields(event_id, version) or ()]
            fields = dict(zip(names, decode(user), strict=True))
            row.update(ti.columns(fields))
            row["fields_json"] = to_json(fields)
        self.dicts.append(row)

    def _header_row(self, offset: int, hdr: tuple, provider: str, name: str | None, family: str) -> dict[str, Any]:
        filetime = self.log.filetime(hdr[7])
        return {"source_offset": offset, "ts": _micros(filetime), "raw_clock": filetime, "clock": "filetime",
                "family": family, "header_pid": hdr[6], "header_tid": hdr[5], "actor_pid": hdr[6] if family ==
                "generic" else None, "tid": hdr[5] if family == "generic" else None, "provider": provider,
                "event_name": name, "etw_event_id": hdr[9], "etw_version": hdr[10], "task": hdr[14],
                "opcode": hdr[13], "level": hdr[12], "keyword": _i64(hdr[15])}  # fmt: skip

    def _system(self, rec: tuple) -> None:
        _, offset, htype, version, typ, group, tid, pid, ts, payload = rec
        name = mof.event_name(group, typ)
        filetime = self.log.filetime(ts)
        row: dict[str, Any] = {"source_offset": offset, "ts": _micros(filetime), "raw_clock": filetime,
                               "clock": "filetime", "header_pid": pid, "header_tid": tid, "provider": mof.PROVIDER,
                               "event_name": name, "kind": f"etw:{mof.PROVIDER}:{name}", "etw_version": version,
                               "opcode": typ, "task": group}  # fmt: skip
        if group == container.HEADER_GROUP and typ == 0 and offset == container.HEADER_RECORD_OFFSET:
            row.update(family="generic", actor_pid=pid, tid=tid, fields_json=to_json(self.log.info()))
            self.dicts.append(row)
            return
        found = mof.decoder(group, version, typ, 8 if htype in container.POINTER64 else 4)
        if found is None:
            row.update(family="generic", actor_pid=pid, tid=tid, fields_json=to_json(
                {"group": group, "type": typ, "version": version, "payload_size": len(payload),
                 "payload_hex": payload[:HEX_PREVIEW]}))  # fmt: skip
            self.dicts.append(row)
            return
        family, fields, decode = found
        values = dict(zip((f.name for f in fields), decode(payload), strict=True))
        row["family"] = family
        row["fields_json"] = to_json(values)
        row.update(_mof_columns(family, typ, values))
        self.dicts.append(row)

    def _full(self, rec: tuple) -> None:
        _, offset, _htype, guid, typ, level, version, tid, pid, ts, payload = rec
        filetime = self.log.filetime(ts)
        provider = guid_text(guid)
        self.dicts.append({"source_offset": offset, "ts": _micros(filetime), "raw_clock": filetime,
                           "clock": "filetime", "family": "generic", "header_pid": pid, "header_tid": tid,
                           "actor_pid": pid, "tid": tid, "provider": provider, "kind": f"etw:{provider}:{typ}",
                           "etw_version": version, "opcode": typ, "level": level,
                           "fields_json": to_json({"payload_size": len(payload),
                                                   "payload_hex": payload[:HEX_PREVIEW]})})  # fmt: skip

    def _message(self, rec: tuple) -> None:
        _, offset, raw = rec
        self.dicts.append({"source_offset": offset, "family": "generic", "kind": "etw:wpp:message",
                           "fields_json": to_json({"message_id": raw[4] | raw[5] << 8, "size": len(raw),
                                                   "hex": raw[:HEX_PREVIEW]})})  # fmt: skip

    # -- building --------------------------------------------------------------------------------------------------

    def build(self) -> list[pa.RecordBatch]:
        """RecordBatches of everything collected (one per Sleepwalker family, one for the rest); then empties.

        Rows are grouped by kind within a batch rather than interleaved (`source_offset` keeps the file order),
        unless two kinds share a microsecond in the other order: then the rows come in file order, because the
        replay orders rows by (ts, event_id) and event ids follow the rows (an ApcTelemetry and the HandleTelemetry
        of its operation can share a microsecond, and route A's evidence is the handle row *after* the apc row).
        """
        out: list[pa.RecordBatch] = []
        for event_name, rows in self.families.items():
            if not rows:
                continue
            fam = sleepwalker.FAMILIES[event_name]
            parts = self._parts(fam, rows)
            rows.clear()  # the same list keeps collecting (cached targets hold it)
            if len(parts) == 1:
                data = parts[0]
            else:
                data = {name: pa.concat_arrays([p[name] for p in parts]) for name in parts[0]}
            n = len(data["source_offset"])
            cols = {name: value for name, value in data.items() if name not in _HEADER_COLUMNS}
            cols.update({
                "ts": data["ts"],
                "raw_clock": data["raw_clock"],
                "clock": constant("filetime", n, pa.string()),
                "family": constant(fam.family, n, pa.string()),
                "kind": constant(f"sleepwalker:etw:{event_name}", n, pa.string()),
                "provider": constant(sleepwalker.PROVIDER_NAME, n, pa.string()),
                "event_name": constant(event_name, n, pa.string()),
                "header_pid": data["header_pid"],
                "header_tid": data["header_tid"],
                "source_offset": data["source_offset"],
            })  # fmt: skip
            out.append(pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols)))
        if self.dicts:
            cols = _dict_columns(self.dicts)
            out.append(pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols)))
        self.dicts, self.size = [], 0
        if len(out) > 1 and _out_of_order(out):
            table = pa.concat_tables([pa.Table.from_batches([b]) for b in out], promote_options="default")
            out = table.take(pc.sort_indices(table["source_offset"])).combine_chunks().to_batches()
        return out

    def _parts(self, fam: sleepwalker.Family, rows: list[tuple | Slice]) -> list[dict[str, pa.Array]]:
        """A family's rows as runs of columns in file order: events decoded one by one, and adjacent Slices joined."""
        parts: list[dict[str, pa.Array]] = []
        run: list[tuple] = []
        joined: Slice | None = None
        for item in rows:
            if isinstance(item, Slice):
                if joined is not None and joined.columns is item.columns and joined.stop == item.start:
                    joined = Slice(item.columns, joined.start, item.stop)
                    continue
                if run:
                    parts.append(self._decoded(fam, run))
                    run = []
                if joined is not None:
                    parts.append(_sliced(joined))
                joined = item
            else:
                if joined is not None:
                    parts.append(_sliced(joined))
                    joined = None
                run.append(item)
        if run:
            parts.append(self._decoded(fam, run))
        if joined is not None:
            parts.append(_sliced(joined))
        return parts

    def _decoded(self, fam: sleepwalker.Family, rows: list[tuple]) -> dict[str, pa.Array]:
        """Columns of events decoded one by one: (offset, header bytes, segment values) tuples."""
        offsets, headers, values = zip(*rows, strict=True)
        n = len(values)
        segments = self._segments[fam.event_name]
        cols = sleepwalker.columns(fam, sleepwalker.raw_values(segments, values), n)  # type: ignore[arg-type]
        head = np.frombuffer(b"".join(headers), dtype=_HEADER_DTYPE)
        cols.update(self.header_columns(head["ts"], head["pid"], head["tid"],
                                        np.fromiter(offsets, dtype=np.int64, count=n)))  # fmt: skip
        return cols

    def header_columns(self, stamps: np.ndarray, pid: np.ndarray, tid: np.ndarray,
                       offsets: np.ndarray) -> dict[str, pa.Array]:  # fmt: skip
        """ts, raw_clock, header pid/tid and source_offset of events from their EVENT_HEADER fields."""
        filetimes = self.log_filetimes(stamps)
        return {"ts": pa.array((filetimes - FILETIME_UNIX_EPOCH) // 10, type=_TS), "raw_clock": pa.array(filetimes),
                "header_pid": pa.array(pid.astype(np.int64)), "header_tid": pa.array(tid.astype(np.int64)),
                "source_offset": pa.array(offsets)}  # fmt: skip

    def segments(self, event_name: str) -> fd.Segments:
        """The segment layout of a family resolved by `target`."""
        found = self._segments.get(event_name)
        if found is None:
            raise KeyError(f"{event_name} has not been resolved to a Sleepwalker family")
        return found

    def log_filetimes(self, stamps: np.ndarray) -> np.ndarray:
        """FILETIMEs of a column of record timestamps (the vectorised `Logfile.filetime`)."""
        log = self.log
        if log.clock_type == 1 and log.perf_freq > 0:
            delta = stamps - log.header_ts
            seconds, rest = np.divmod(delta, log.perf_freq)
            return log.start_time + seconds * 10_000_000 + rest * 10_000_000 // log.perf_freq
        if log.clock_type == 3 and log.cpu_mhz > 0:
            return log.start_time + (stamps - log.header_ts) * 10 // log.cpu_mhz
        return stamps


_HEADER_COLUMNS = frozenset({"ts", "raw_clock", "header_pid", "header_tid", "source_offset"})


def _out_of_order(batches: list[pa.RecordBatch]) -> bool:
    """Whether rows of two batches share a `ts` in an order other than the file's (cheap next to interleaving)."""
    ts = np.concatenate([pc.fill_null(b.column("ts").cast(pa.int64()), 0).to_numpy() for b in batches])
    offsets = np.concatenate([b.column("source_offset").to_numpy() for b in batches])
    order = np.argsort(ts, kind="stable")  # within one `ts`, rows keep their batch order
    ts, offsets = ts[order], offsets[order]
    return bool(((ts[1:] == ts[:-1]) & (offsets[1:] < offsets[:-1])).any())


def _sliced(part: Slice) -> dict[str, pa.Array]:
    if part.start == 0 and part.stop == len(part.columns["source_offset"]):
        return part.columns
    return {name: arr.slice(part.start, part.stop - part.start) for name, arr in part.columns.items()}


def _mof_columns(family: str, typ: int, v: dict[str, Any]) -> dict[str, Any]:
    """Case columns of a kernel process/thread/image event (rundowns are neither creates nor exits)."""
    if family == "process":
        create = {1: True, 2: False}.get(typ)
        return {"target_pid": v["ProcessId"], "actor_pid": v["ParentId"] if create else v["ProcessId"],
                "parent_pid": v["ParentId"], "session_id": v["SessionId"], "is_create": create,
                "image_path": v["ImageFileName"], "command_line": v["CommandLine"]}  # fmt: skip
    if family == "thread":
        return {"target_pid": v["ProcessId"], "tid": v["TThreadId"], "start_address": _i64(v["Win32StartAddr"])}
    return {"actor_pid": v["ProcessId"], "target_pid": v["ProcessId"], "image_base": _i64(v["ImageBase"]),
            "image_size": _i64(v["ImageSize"]), "image_path": v["FileName"],
            "signature_level": v.get("SignatureLevel"), "signature_type": v.get("SignatureType")}  # fmt: skip


def _i64(value: int | None) -> int | None:
    """A u64 as the schema's BIGINT (same bits)."""
    return value - (1 << 64) if value is not None and value >= 1 << 63 else value


def _micros(filetime: int) -> int:
    return (filetime - FILETIME_UNIX_EPOCH) // 10


def _dict_columns(rows: list[dict[str, Any] | Slice]) -> dict[str, pa.Array]:
    """Columns of dict rows (keys in order of first use, values typed by the schema) and of Slices among them."""
    names: dict[str, None] = {}
    runs: list[list[dict[str, Any]] | Slice] = []
    for row in rows:
        if isinstance(row, Slice):
            names.update(dict.fromkeys(row.columns))
            last = runs[-1] if runs else None
            if isinstance(last, Slice) and last.columns is row.columns and last.stop == row.start:
                runs[-1] = Slice(row.columns, last.start, row.stop)
            else:
                runs.append(row)
            continue
        names.update(dict.fromkeys(row))
        if runs and isinstance(runs[-1], list):
            runs[-1].append(row)
        else:
            runs.append([row])
    cut = [run if isinstance(run, list) else _sliced(run) for run in runs]
    out = {}
    for name in names:
        type_ = EVENTS.field(name).type
        parts = []
        for run in cut:
            if isinstance(run, list):
                parts.append(pa.array([row.get(name) for row in run], type=type_))
            else:
                found = run.get(name)
                parts.append(found if found is not None else pa.nulls(len(run["source_offset"]), type_))
        out[name] = parts[0] if len(parts) == 1 else pa.concat_arrays(parts)
    return out


def _what(rec: tuple) -> str:
    kind = rec[0]
    if kind == container.EVENT:
        hdr = _EVENT_HEADER(rec[2])
        return f"EVENT_HEADER event {hdr[9]} of {guid_text(hdr[8])} (user data {len(rec[4])} bytes)"
    if kind == container.SYSTEM:
        return f"kernel event {mof.event_name(rec[5], rec[4])} v{rec[3]} ({len(rec[9])} bytes)"
    return f"{kind} record"


def _raw(rec: tuple) -> bytes:
    return rec[4] if rec[0] == container.EVENT else rec[-1] if isinstance(rec[-1], bytes) else b""
