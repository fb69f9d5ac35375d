"""The simulated driver's records as case rows (docs/case-rows.md, "Simulated cases"), in bounded batches.

One row per event the driver recorded, holding every field it knew: a handle operation's row carries the
HandleTelemetry fields and its IOCTL record's Flags, ClassId and Sequence. `raw_clock` is the host's QPC value and
`ts` its wall-clock time. Rows are kept compact per family (a handle row refers to its stack's classification,
which is expanded into ~20 columns only when a batch is built) and handed over in event-id order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.kernel.abi import HandleFlag, Stream
from swk.kernel.catalogue import BY_RULE
from swk.kernel.etw import PROVIDER_NAME, REGISTRY_NOTIFY_CLASS, THREAT_INTEL_PROVIDER_NAME
from swk.kernel.model.classify import Classification
from swk.kernel.model.detection import Raised
from swk.kernel.model.driver import ThreadRecord
from swk.store.schema import EVENTS, FRAME

CONTROLLER_PROVIDER = "SleepwlkrController"
BATCH_ROWS = 65_536
_SIGN = 1 << 63


def signed(value: int) -> int:
    """A u64 as the schema's BIGINT (same bits)."""
    return value - (1 << 64) if value >= _SIGN else value


@functools.lru_cache(maxsize=4096)  # most thread rows share the worker's stack: one list, only read by pa.array
def _frames(addresses: tuple[int, ...]) -> list[dict[str, Any]]:
    return [{"address": signed(a), "module": None, "offset": None} for a in addresses]


# Per family: the columns its rows fill, after the common ones (event_id, ts, header_pid, header_tid).
LAYOUT = {
    "apc": ("actor_pid", "target_pid", "access_mask", "class_name", "is_duplicate", "corr_flags", "corr_access_mask",
            "corr_age_ms"),
    "thread": ("actor_pid", "target_pid", "tid", "start_address", "image_base", "image_size", "got_start", "got_range",
               "is_remote", "outside_main_image", "corr_flags", "corr_access_mask", "corr_age_ms",
               "start_region_protect", "start_region_state", "start_region_type", "start_region_status",
               "start_region_exec", "frame_count", "frames", "flags", "stream_mask", "sequence"),
    "image": ("actor_pid", "target_pid", "image_base", "image_size", "is_system_mode", "is_signature_level_known",
              "signature_level", "signature_type", "image_path"),
    "registry": ("actor_pid", "session_id", "operation", "notify_class", "data_type", "data_size", "is_high_value",
                 "key_path", "value_name"),
    "process": ("actor_pid", "target_pid", "is_create", "create_status", "parent_pid", "creator_pid", "creator_tid",
                "process_start_key", "session_id", "image_path", "command_line"),
    "detection": ("actor_pid", "target_pid", "detection_name", "severity", "reason", "corr_flags", "corr_access_mask",
                  "corr_age_ms"),
    "controller": ("actor_pid", "target_pid", "detection_name", "severity", "marks"),
    "ti": ("actor_pid", "target_pid", "tid", "event_name", "task", "etw_event_id", "etw_version", "opcode", "keyword",
           "base_address", "region_size", "protect", "old_protect", "creation_flags", "fields_json"),
}  # fmt: skip
EVENT_OF = {"apc": "ApcTelemetry", "thread": "ThreadTelemetry", "image": "ImageTelemetry",
            "registry": "RegistryTelemetry", "process": "ProcessTelemetry", "detection": "DetectionTelemetry"}  # fmt: skip
_THREAD_STREAM = int(Stream.THREAD)


class CaseSink:
    """The driver's `Sink`: assigns event ids in emission order and hands out case batches."""

    def __init__(self, host: str, boot_us: int, qpc_frequency: int, deliver: Callable[[pa.RecordBatch], None], *,
                 first_event_id: int = 1, batch_rows: int = BATCH_ROWS) -> None:  # fmt: skip
        self.host = host
        self.boot_us = boot_us
        self.freq = qpc_frequency
        self.deliver = deliver
        self.next_id = first_event_id
        self.batch_rows = batch_rows
        self.pending = 0
        self.rows = 0
        self.last_ts = 0
        self._handles: list[tuple] = []
        self._classes: dict[Classification, int] = {}
        self._class_list: list[Classification] = []
        self._rows: dict[str, list[tuple]] = {family: [] for family in LAYOUT}
        self.producers: list[Any] = []  # build their own rows at flush (`tables(sink)`), ids taken with `take`
        self.on_flush: Callable[[], None] | None = None  # called after every flush
        self._worker: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None

    def take(self, rows: int) -> None:
        """`rows` event ids are used by a producer's rows (it numbered them from `next_id`)."""
        self.next_id += rows
        self.pending += rows
        if self.pending >= self.batch_rows:
            self.flush()

    def qpc(self, ts: int) -> int:
        """The host's QPC value at `ts` (µs)."""
        return (ts - self.boot_us) * self.freq // 1_000_000

    def check_time(self, ts: int) -> None:
        """Refuse a record older than the last one (the replay's order is (ts, event_id))."""
        if ts < self.last_ts:
            raise AssertionError(f"record at {ts} after one at {self.last_ts}")
        self.last_ts = ts

    def _add(self, family: str, ts: int, header: tuple[int, int], values: tuple) -> int:
        self.check_time(ts)
        eid = self.next_id
        self.next_id += 1
        self._rows[family].append((eid, ts, header[0], header[1], *values))
        self.pending += 1
        if self.pending >= self.batch_rows:
            self.flush()
        return eid

    # -- the driver's Sink ------------------------------------------------------------------------------------------

    def handle(self, ts: int, header: tuple[int, int], caller: int, target: int, access: int, cls: Classification,
               flags: int, sample: bytes, is_thread: bool, is_duplicate: bool, sequence: int) -> int:  # fmt: skip
        """A HandleTelemetry row that is also IOCTL record `sequence`."""
        self.check_time(ts)
        index = self._classes.get(cls)
        if index is None:
            index = self._classes[cls] = len(self._class_list)
            self._class_list.append(cls)
        eid = self.next_id
        self.next_id += 1
        self._handles.append((eid, ts, header[0], header[1], caller, target, access, flags, sequence, is_thread,
                              is_duplicate, index, sample))  # fmt: skip
        self.pending += 1
        if self.pending >= self.batch_rows:
            self.flush()
        return eid

    def apc(self, ts: int, header: tuple[int, int], caller: int, target: int, access: int, class_name: str,
            is_duplicate: bool) -> int:  # fmt: skip
        """An ApcTelemetry row (written in the pre-callback: header = the caller)."""
        return self._add("apc", ts, header, (caller, target, access, class_name, is_duplicate, 0, 0, 0))

    def thread(self, ts: int, header: tuple[int, int], rec: ThreadRecord, sequence: int) -> int:
        """A ThreadTelemetry row that is also IOCTL record `sequence`."""
        return self._add("thread", ts, header, (
            rec.actor, rec.pid, rec.tid, signed(rec.start), signed(rec.image_base), rec.image_size, rec.got_start,
            rec.got_range, rec.remote, rec.outside, rec.corr_flags, rec.corr_mask, rec.corr_age, rec.start_protect,
            rec.start_state, rec.start_type, rec.start_status, rec.start_exec, len(rec.frames), _frames(rec.frames),
            rec.flags, _THREAD_STREAM, sequence))  # fmt: skip

    def image(self, ts: int, header: tuple[int, int], pid: int, base: int, size: int, path: str,
              system_mode: bool, signature: tuple[int, int]) -> int:  # fmt: skip
        """An ImageTelemetry row."""
        return self._add("image", ts, header, (pid, pid, signed(base), size, system_mode, True, signature[0],
                                               signature[1], path))  # fmt: skip

    def registry(self, ts: int, header: tuple[int, int], pid: int, session: int, operation: str, key_path: str,
                 value_name: str, data: tuple[int, int] | None, high_value: bool) -> int:  # fmt: skip
        """A RegistryTelemetry row (data type and size only for set-value, 0 otherwise, as on the wire)."""
        data_type, data_size = data if data is not None else (0, 0)
        return self._add("registry", ts, header, (pid, session, operation, REGISTRY_NOTIFY_CLASS[operation], data_type,
                                                  data_size, high_value, key_path, value_name))  # fmt: skip

    def process(self, ts: int, header: tuple[int, int], fields: dict) -> int:
        """A ProcessTelemetry row (create or exit)."""
        return self._add("process", ts, header, tuple(fields[c] for c in LAYOUT["process"]))

    def ti(self, ts: int, header: tuple[int, int], fields: dict) -> int:
        """A Threat-Intelligence row (the controller's session also enables that provider)."""
        return self._add("ti", ts, header, tuple(fields.get(c) for c in LAYOUT["ti"]))

    def detection(self, ts: int, header: tuple[int, int], raised: Raised) -> int:
        """A live detection: DetectionTelemetry of the kernel, or the controller's synthetic detection."""
        severity = BY_RULE[raised.rule].severity
        if raised.engine == "controller":
            actor = raised.actor or raised.target
            return self._add("controller", ts, (actor, 0), (raised.actor, raised.target, raised.name, severity,
                                                            raised.marks))  # fmt: skip
        flags, mask, age = raised.corr
        return self._add("detection", ts, header, (raised.actor, raised.target, raised.name, severity,
                                                   raised.reason or "", flags, mask, age))  # fmt: skip

    # -- batches -----------------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand the pending rows over in event-id order.

        The rows are built here; ordering them and `deliver` run on the sink's own thread (Arrow's work, without
        the GIL), one flush behind the simulation: the next flush, or `close`, waits for it and raises its error.
        """
        if not self.pending:
            return
        tables = self._tables()
        self.rows += sum(t.num_rows for t in tables)
        self._handles = []
        self._rows = {family: [] for family in LAYOUT}
        self._classes, self._class_list = {}, []
        self.pending = 0
        self.wait()
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="swk-case-sink")
        self._in_flight = self._worker.submit(self._deliver, tables)
        if self.on_flush is not None:
            self.on_flush()

    def _tables(self) -> list[pa.Table]:
        """The pending rows as Arrow tables: one per family, and each producer's own (not yet in event-id order)."""
        tables = [self._handle_table()] if self._handles else []
        tables += [self._family_table(family, rows) for family, rows in self._rows.items() if rows]
        return tables + [table for producer in self.producers for table in producer.tables(self)]

    def _deliver(self, tables: list[pa.Table]) -> None:
        for batch in in_id_order(tables).to_batches():
            self.deliver(batch)

    def wait(self) -> None:
        """Wait until every flushed row is delivered (raises what delivering raised)."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def close(self) -> None:
        """`wait`, then stop the sink's thread."""
        try:
            self.wait()
        finally:
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None

    def _qpc(self, ts: pa.Array) -> pa.Array:
        since_boot = pc.subtract(ts, self.boot_us)
        if self.freq % 1_000_000 == 0:  # exact, and no overflow of us * frequency after a long uptime
            return pc.multiply(since_boot, self.freq // 1_000_000)
        return pa.array([self.qpc(v) for v in ts.to_pylist()], type=pa.int64())

    def common(self, cols: list, n: int, family: str, kind: str, provider: str, event: str | None) -> dict:
        """The common columns of `n` rows of one kind: cols = (event ids, ts, header pids, header tids)."""
        ts = pa.array(cols[1], type=pa.int64())
        return {"event_id": pa.array(cols[0], type=pa.int64()), "ts": ts.cast(EVENTS.field("ts").type),
                "raw_clock": self._qpc(ts),
                "clock": _repeat("qpc", n), "family": _repeat(family, n), "kind": _repeat(kind, n),
                "provider": _repeat(provider, n), "event_name": _repeat(event, n),
                "header_pid": pa.array(cols[2], type=pa.int64()), "header_tid": pa.array(cols[3], type=pa.int64())}  # fmt: skip

    def _family_table(self, family: str, rows: list[tuple]) -> pa.Table:
        cols = list(zip(*rows, strict=True))
        n = len(rows)
        if family == "controller":
            out = self.common(cols, n, "detection", "sleepwalker:controller:detection", CONTROLLER_PROVIDER,
                               "DetectionTelemetry")  # fmt: skip
        elif family == "ti":
            out = self.common(cols, n, "ti", "", THREAT_INTEL_PROVIDER_NAME, None)
            names = cols[4 + LAYOUT["ti"].index("event_name")]
            out["kind"] = pa.array(["ti:etw:" + name for name in names])
            out["level"] = _repeat(4, n, pa.int32())
        else:
            event = EVENT_OF[family]
            out = self.common(cols, n, family, f"sleepwalker:etw:{event}", PROVIDER_NAME, event)
        for name, values in zip(LAYOUT[family], cols[4:], strict=True):
            out[name] = pa.array(values, type=EVENTS.field(name).type)
        return pa.table(out)

    def _handle_table(self) -> pa.Table:
        rows = self._handles
        n = len(rows)
        cols = list(zip(*rows, strict=True))
        i64, boolean = pa.int64(), pa.bool_()
        flags = pa.array(cols[7], type=i64)
        captured = [bool(f & _CAPTURED) for f in cols[7]]
        out = self.common(cols, n, "handle", "sleepwalker:etw:HandleTelemetry", PROVIDER_NAME, "HandleTelemetry")
        out.update({
            "actor_pid": pa.array(cols[4], type=i64), "target_pid": pa.array(cols[5], type=i64),
            "access_mask": pa.array(cols[6], type=i64), "flags": flags, "stream_mask": stream_mask(flags),
            "sequence": pa.array(cols[8], type=i64), "is_thread_object": pa.array(cols[9], type=boolean),
            "is_duplicate": pa.array(cols[10], type=boolean),
            **classification_columns(self._class_list, pa.array(cols[11], type=pa.int32())),
            "deep_sample_size": pa.array([64 if c else 0 for c in captured], type=pa.int32()),
            "deep_sample": pa.array([s if c else b"" for s, c in zip(cols[12], captured, strict=True)],
                                    type=pa.binary()),
        })  # fmt: skip
        return pa.table(out)


def in_id_order(tables: list[pa.Table]) -> pa.Table:
    """The rows of `tables` as one single-chunk table in event-id order; columns in order of first appearance, NULL
    in the rows of a table that lacks them.

    One concatenation and one take for the whole table, not one per column: this runs on the sink's thread beside
    the simulation, and every Arrow call gives up the GIL, which the simulation then holds for up to the switch
    interval (5 ms by default, when this was measured; a run now sets 1 ms) before the sink gets it back; ~120
    columns x 3 calls made each flush wait ~0.5 s."""
    table = pa.concat_tables(tables, promote_options="default")
    order = np.argsort(np.concatenate([t.column("event_id").to_numpy() for t in tables]), kind="stable")
    return table.take(pa.array(order)).combine_chunks()


def stream_mask(flags: pa.Array) -> pa.Array:
    """Header.StreamMask of handle records: HANDLE, plus MEMORY when MEMORY_RELATED is set."""
    return pc.if_else(pc.not_equal(pc.bit_wise_and(flags, _MEMORY_RELATED), 0), _HANDLE_MEMORY, _HANDLE_ONLY)


def classification_columns(classes: list[Classification], index: pa.Array) -> dict[str, pa.Array]:
    """The handle columns that come from the stack's classification, for rows pointing into `classes`."""
    return {name: column.take(index) for name, column in class_table(classes).items()}


def class_table(classes: list[Classification]) -> dict[str, pa.Array]:
    """One row per classification: the columns a handle row takes from its stack's classification."""
    i64, i32, boolean, text = pa.int64(), pa.int32(), pa.bool_(), pa.string()

    def per_class(values: list, type_: pa.DataType) -> pa.Array:
        return pa.array(values, type=type_)

    cl = classes
    return {
        "class_id": per_class([c.class_id for c in cl], i32),
        "class_name": per_class([c.class_name for c in cl], text),
        "origin_address": per_class([signed(c.origin_address) for c in cl], i64),
        "origin_protect": per_class([c.origin_protect for c in cl], i64),
        "origin_path": per_class([c.origin_path for c in cl], text),
        "exec_protect": per_class([bool(c.flags & _EXEC) for c in cl], boolean),
        "from_ntdll": per_class([bool(c.flags & _NTDLL) for c in cl], boolean),
        "from_exe": per_class([bool(c.flags & _EXE) for c in cl], boolean),
        "frame_count": per_class([len(c.frames) for c in cl], i32),
        "frames": per_class([_frames(c.frames) for c in cl], pa.list_(FRAME)),
        "status_open_process": per_class([c.status_open for c in cl], i32),
        "status_basic_info": per_class([c.status_basic for c in cl], i32),
        "status_section_name": per_class([c.status_section for c in cl], i32),
        "deep_alloc_base": per_class([signed(c.deep_alloc_base) for c in cl], i64),
        "deep_region_size": per_class([c.deep_region_size for c in cl], i64),
        "deep_region_protect": per_class([c.origin_protect for c in cl], i64),
        "deep_region_state": per_class([c.deep_region_state for c in cl], i64),
        "deep_region_type": per_class([c.deep_region_type for c in cl], i64),
    }


_REPEATED: dict[tuple[object, pa.DataType | None], pa.Array] = {}


def _repeat(value: object, n: int, type_: pa.DataType | None = None) -> pa.Array:
    """`n` times `value`: a slice of one long array per value (a few dozen values, each repeated in every flush)."""
    key = (value, type_)
    repeated = _REPEATED.get(key)
    if repeated is None or len(repeated) < n:
        repeated = _REPEATED[key] = pa.repeat(pa.scalar(value, type=type_), max(n, BATCH_ROWS))
    return repeated.slice(0, n)


_CAPTURED, _MEMORY_RELATED = int(HandleFlag.DEEP_PATH_CAPTURED), int(HandleFlag.MEMORY_RELATED)
_EXEC, _NTDLL, _EXE = int(HandleFlag.EXEC_PROTECT), int(HandleFlag.FROM_NTDLL), int(HandleFlag.FROM_EXE)
_HANDLE_MEMORY, _HANDLE_ONLY = int(Stream.HANDLE | Stream.MEMORY), int(Stream.HANDLE)
