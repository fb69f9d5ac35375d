"""Sleepwalker IOCTL event records: `SLEEPWALKER_EVENT_RECORD`s as `GET_EVENT` returns them, concatenated.

The file is read a chunk at a time into one reused buffer (so memory stays flat whatever the file size) and viewed
as a numpy structured array whose dtype comes straight from the ctypes
declaration in `swk.kernel.abi`, then decoded with array operations (no per-record Python loop). The record size is read from the first record's `Header.Size` (768, or 1496 for the later build of
spec 1.8), so the reader follows what the data says. A first record that is neither is `WrongFormat`; a damaged
record later on is rejected with its offset and decoding goes on at the next record boundary; a trailing partial
record is rejected with its offset and length.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture import columns as col
from swk.capture.base import ReadContext, Reject
from swk.errors import InputError, WrongFormat
from swk.kernel.abi import (
    MAX_DEEP_SAMPLE_BYTES,
    MAX_EVENT_FRAMES,
    MAX_FULL_EVENT_FRAMES,
    MAX_STACK_SNAPSHOT_BYTES,
    RECORD_LAYOUTS,
    REGISTER_NAMES,
    SLEEPWALKER_EVENT_RECORD,
    SLEEPWALKER_EVENT_RECORD_V2,
    SLEEPWALKER_THREAD_EVENT,
    CaptureFlag,
    EventType,
    FileOperation,
    HandleFlag,
    ThreadFlag,
    offsetof,
    sizeof,
)
from swk.kernel.clock import qpc_to_ns, to_ns
from swk.store.schema import EVENTS, REGISTERS

NAME = "ioctl"
DESCRIPTION = "Sleepwalker IOCTL event records (768- or 1496-byte SLEEPWALKER_EVENT_RECORDs, concatenated)"
CHUNK_RECORDS = 32_768

_HEADER = struct.Struct("<IIII")
_THREAD_END = offsetof(SLEEPWALKER_EVENT_RECORD, "Data") + sizeof(SLEEPWALKER_THREAD_EVENT)  # 144
_HANDLE_PADDING = (68, 148)  # absolute offsets of the two 4-byte paddings of SLEEPWALKER_HANDLE_EVENT
_FAMILY = pa.array(["handle", "thread", "file"])
_KIND = pa.array(["sleepwalker:ioctl:handle", "sleepwalker:ioctl:thread", "sleepwalker:ioctl:file"])
_FILE_OPERATIONS = pa.array([op.name for op in FileOperation])


def sniff(head: bytes, path: Path) -> bool:
    """A first record header with a known record size and event type."""
    if len(head) < _HEADER.size:
        return False
    size, type_, stream, _ = _HEADER.unpack_from(head)
    return size in RECORD_LAYOUTS and type_ in (1, 2, 3) and 0 < stream <= 0xF


def layout_of(head: bytes, path: Path) -> type:
    """The record layout the first header announces, or `WrongFormat` naming the field that says otherwise."""
    if len(head) < _HEADER.size:
        raise WrongFormat(path, 0, f"{len(head)} bytes is too short for a SLEEPWALKER_EVENT_HEADER (24)")
    size, type_, _, _ = _HEADER.unpack_from(head)
    if size not in RECORD_LAYOUTS:
        known = " or ".join(str(s) for s in RECORD_LAYOUTS)
        raise WrongFormat(path, 0, f"EVENT_HEADER.Size={size}, expected {known}: not a Sleepwalker record file")
    if type_ not in (EventType.HANDLE, EventType.THREAD) and not (size == 1496 and type_ == EventType.FILESYSTEM):
        raise WrongFormat(path, 4, f"EVENT_HEADER.Type={type_} is not a Sleepwalker event type")
    return RECORD_LAYOUTS[size]


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Decode every record of `path`, in file order, a chunk at a time through one reused buffer."""
    total = path.stat().st_size
    if total == 0:
        return  # no record (a client subscribed to processes that did nothing); a short head is WrongFormat
    with path.open("rb", buffering=0) as fh:
        layout = layout_of(fh.read(_HEADER.size), path)
        stride = sizeof(layout)
        dtype = np.dtype(layout)
        ctx.info["record_size"] = stride
        count, tail = divmod(total, stride)
        boot_ns = to_ns(ctx.boot_time) if ctx.boot_time else 0
        buffer = np.empty(min(count, CHUNK_RECORDS) * stride, dtype=np.uint8)
        fh.seek(0)
        for start in range(0, count, CHUNK_RECORDS):
            want = min(CHUNK_RECORDS, count - start) * stride
            view = memoryview(buffer)[:want]
            got = 0
            while got < want:
                n = fh.readinto(view[got:])
                if not n:
                    raise InputError(path, start * stride + got, "file shrank while it was being read")
                got += n
            chunk = np.frombuffer(buffer, dtype=dtype, count=want // stride)
            yield from _decode(chunk, start * stride, stride, boot_ns, ctx.qpc_frequency)
            ctx.advance(start * stride + want)
        if tail:
            raw = fh.read(tail)
            yield Reject(count * stride, f"truncated record: {tail} of {stride} bytes at end of file", raw, tail)
            ctx.advance(total)


def decode(data: bytes | bytearray | memoryview, base: int, stride: int, *, boot_ns: int = 0,
           frequency: int = 10_000_000) -> list[pa.RecordBatch | Reject]:  # fmt: skip
    """Rejects and one batch for whole records already in memory (the live capture), decoded as a file chunk is."""
    return _decode(np.frombuffer(data, dtype=np.dtype(RECORD_LAYOUTS[stride])), base, stride, boot_ns, frequency)


def _decode(recs: np.ndarray, base: int, stride: int, boot_ns: int, frequency: int) -> list:
    """Rejects and one batch for a chunk of records."""
    reasons = _validate(recs, stride)
    bad = np.flatnonzero(reasons)
    out: list[pa.RecordBatch | Reject] = []
    raw = recs.view(np.uint8).reshape(len(recs), stride)
    for i in bad:
        out.append(Reject(base + int(i) * stride, _reason(recs[i], int(reasons[i]), stride), raw[i].tobytes(), stride))
    index = np.arange(len(recs))
    if len(bad):
        keep = reasons == 0
        recs, index = recs[keep], index[keep]
    if len(recs):
        out.append(_batch(recs, base + index * stride, stride, boot_ns, frequency))
    return out


# Validation codes, checked in this order; 0 = the record is sound.
_CHECKS = (
    "size", "type", "handle.frames", "handle.class", "handle.sample", "handle.stream", "handle.padding",
    "handle.path", "thread.frames", "thread.stream", "thread.tail", "v2.full_frames", "v2.snapshot",
    "file.stream", "file.path",
)  # fmt: skip


def _validate(recs: np.ndarray, stride: int) -> np.ndarray:
    n = len(recs)
    hdr = recs["Header"]
    typ, smask = hdr["Type"], hdr["StreamMask"]
    h, t = recs["Data"]["Handle"], recs["Data"]["Thread"]
    v2 = stride == sizeof(SLEEPWALKER_EVENT_RECORD_V2)
    is_h, is_t = typ == EventType.HANDLE, typ == EventType.THREAD
    is_f = (typ == EventType.FILESYSTEM) if v2 else np.zeros(n, dtype=bool)
    words = recs.view(np.uint64).reshape(n, stride // 8)
    reasons = np.zeros(n, dtype=np.int8)

    def fail(mask: np.ndarray, check: str) -> None:
        reasons[(reasons == 0) & mask] = _CHECKS.index(check) + 1

    fail(hdr["Size"] != stride, "size")
    fail(~(is_h | is_t | is_f), "type")
    fail(is_h & (h["FrameCount"] > MAX_EVENT_FRAMES), "handle.frames")
    fail(is_h & (h["ClassId"] > 2), "handle.class")
    fail(is_h & (h["DeepSampleSize"] > MAX_DEEP_SAMPLE_BYTES), "handle.sample")
    fail(is_h & (smask != 1) & (smask != 3), "handle.stream")
    padding = np.zeros(n, dtype=bool)
    for off in _HANDLE_PADDING:
        padding |= (words[:, off // 8] >> np.uint64(32)) != 0
    fail(is_h & padding, "handle.padding")
    fail(is_h & col.unterminated(h["OriginPath"]), "handle.path")
    fail(is_t & (t["FrameCount"] > MAX_EVENT_FRAMES), "thread.frames")
    fail(is_t & (smask != 4), "thread.stream")
    tail = np.zeros(n, dtype=bool)
    tail[is_t] = words[is_t, _THREAD_END // 8 :].any(axis=1)
    fail(tail, "thread.tail")
    if v2:
        fail(is_h & (h["FullFrameCount"] > MAX_FULL_EVENT_FRAMES), "v2.full_frames")
        fail(is_h & (h["StackSnapshotSize"] > MAX_STACK_SNAPSHOT_BYTES), "v2.snapshot")
        f = recs["Data"]["File"]
        fail(is_f & (smask != 8), "file.stream")
        fail(is_f & col.unterminated(f["Path"]), "file.path")
    return reasons


def _reason(rec: np.void, code: int, stride: int) -> str:
    """The one-line reason for a rejected record, naming the struct and field."""
    hdr, h, t = rec["Header"], rec["Data"]["Handle"], rec["Data"]["Thread"]
    check = _CHECKS[code - 1]
    return {
        "size": lambda: f"EVENT_HEADER.Size={hdr['Size']} differs from this file's record size {stride}",
        "type": lambda: f"EVENT_HEADER.Type={hdr['Type']} is not a Sleepwalker event type",
        "handle.frames": lambda: f"HANDLE_EVENT.FrameCount={h['FrameCount']} > {MAX_EVENT_FRAMES}",
        "handle.class": lambda: f"HANDLE_EVENT.ClassId={h['ClassId']} > 2",
        "handle.sample": lambda: f"HANDLE_EVENT.DeepSampleSize={h['DeepSampleSize']} > {MAX_DEEP_SAMPLE_BYTES}",
        "handle.stream": lambda: f"EVENT_HEADER.StreamMask=0x{hdr['StreamMask']:x} is not 0x1 or 0x3 for a HANDLE record",
        "handle.padding": lambda: "HANDLE_EVENT padding bytes are not zero",
        "handle.path": lambda: "HANDLE_EVENT.OriginPath has no NUL terminator",
        "thread.frames": lambda: f"THREAD_EVENT.FrameCount={t['FrameCount']} > {MAX_EVENT_FRAMES}",
        "thread.stream": lambda: f"EVENT_HEADER.StreamMask=0x{hdr['StreamMask']:x} is not 0x4 for a THREAD record",
        "thread.tail": lambda: f"THREAD record bytes {_THREAD_END}..{stride - 1} are not zero",
        "v2.full_frames": lambda: f"HANDLE_EVENT.FullFrameCount={h['FullFrameCount']} > {MAX_FULL_EVENT_FRAMES}",
        "v2.snapshot": lambda: f"HANDLE_EVENT.StackSnapshotSize={h['StackSnapshotSize']} > {MAX_STACK_SNAPSHOT_BYTES}",
        "file.stream": lambda: f"EVENT_HEADER.StreamMask=0x{hdr['StreamMask']:x} is not 0x8 for a FILESYSTEM record",
        "file.path": lambda: "FILE_EVENT.Path has no NUL terminator",
    }[check]()  # fmt: skip


def _bits(flags: np.ndarray, bit: int) -> np.ndarray:
    return (flags & bit) != 0


def _batch(recs: np.ndarray, offsets: np.ndarray, stride: int, boot_ns: int, frequency: int) -> pa.RecordBatch:
    """The case columns of sound records (handle, thread and file rows interleaved in file order)."""
    n = len(recs)
    hdr, data = recs["Header"], recs["Data"]
    h, t = data["Handle"], data["Thread"]
    typ = hdr["Type"]
    is_h, is_t = typ == EventType.HANDLE, typ == EventType.THREAD
    v2 = stride == sizeof(SLEEPWALKER_EVENT_RECORD_V2)
    is_f = typ == EventType.FILESYSTEM
    f = data["File"] if v2 else None
    kind = np.where(is_h, 0, np.where(is_t, 1, 2))
    hflags = h["Flags"].astype(np.int64)
    tflags = t["Flags"].astype(np.int64)
    flags = np.where(is_h, hflags, tflags)
    actor = np.where(is_h, h["CallerPid"], t["CreatorPid"])
    target = np.where(is_h, h["TargetPid"], t["ProcessId"])
    tid = t["ThreadId"]
    if f is not None:
        flags = np.where(is_f, f["Flags"].astype(np.int64), flags)
        actor = np.where(is_f, f["ProcessId"], actor)
        target = np.where(is_f, f["ProcessId"], target)
        tid = np.where(is_f, f["ThreadId"], tid)
    qpc = hdr["TimestampQpc"].astype(np.int64)
    origin_path, _ = col.utf16_fixed(h["OriginPath"], is_h)
    ht = is_h | is_t
    corr = (_bits(tflags, ThreadFlag.CORR_MEMORY) * 1 | _bits(tflags, ThreadFlag.CORR_THREAD_CTX) * 2
            | _bits(tflags, ThreadFlag.CORR_DUP_HANDLE) * 4)  # fmt: skip
    I64, I32, B = pa.int64(), pa.int32(), pa.bool_()  # noqa: N806
    cols: dict[str, pa.Array] = {
        "ts": pa.array(qpc_to_ns(qpc, frequency, boot_ns) // 1000, type=EVENTS.field("ts").type),
        "raw_clock": pa.array(qpc),
        "clock": col.constant("qpc", n, pa.string()),
        "family": _FAMILY.take(pa.array(kind)),
        "kind": _KIND.take(pa.array(kind)),
        "source_offset": pa.array(offsets.astype(np.int64)),
        "sequence": pa.array(hdr["Sequence"].astype(np.int64)),
        "actor_pid": pa.array(col.as_i64(actor)),
        "target_pid": pa.array(col.as_i64(target)),
        "tid": col.column(col.as_i64(tid), ~is_h, I64),
        "access_mask": col.column(h["DesiredAccess"].astype(np.int64), is_h, I64),
        "class_id": col.column(h["ClassId"].astype(np.int32), is_h, I32),
        "flags": pa.array(flags),
        "stream_mask": pa.array(hdr["StreamMask"].astype(np.int64)),
        "origin_address": col.column(col.as_i64(h["OriginAddress"]), is_h, I64),
        "origin_protect": col.column(h["OriginProtect"].astype(np.int64), is_h, I64),
        "origin_path": origin_path,
        "exec_protect": col.column(_bits(hflags, HandleFlag.EXEC_PROTECT), is_h, B),
        "from_ntdll": col.column(_bits(hflags, HandleFlag.FROM_NTDLL), is_h, B),
        "from_exe": col.column(_bits(hflags, HandleFlag.FROM_EXE), is_h, B),
        "is_thread_object": col.column(_bits(hflags, HandleFlag.THREAD_OBJECT), is_h, B),
        "is_duplicate": col.column(_bits(hflags, HandleFlag.DUPLICATE_OPERATION), is_h, B),
        "frame_count": col.column(np.where(is_h, h["FrameCount"], t["FrameCount"]).astype(np.int32), ht, I32),
        "frames": col.frames(np.where(is_h[:, None], h["Frames"], t["Frames"]),
                             np.where(is_h, h["FrameCount"], t["FrameCount"]), ht),
        "status_open_process": col.column(h["StatusOpenProcess"], is_h, I32),
        "status_basic_info": col.column(h["StatusBasicInfo"], is_h, I32),
        "status_section_name": col.column(h["StatusSectionName"], is_h, I32),
        "deep_alloc_base": col.column(col.as_i64(h["DeepAllocationBase"]), is_h, I64),
        "deep_region_size": col.column(col.as_i64(h["DeepRegionSize"]), is_h, I64),
        "deep_region_protect": col.column(h["DeepRegionProtect"].astype(np.int64), is_h, I64),
        "deep_region_state": col.column(h["DeepRegionState"].astype(np.int64), is_h, I64),
        "deep_region_type": col.column(h["DeepRegionType"].astype(np.int64), is_h, I64),
        "deep_sample_size": col.column(h["DeepSampleSize"].astype(np.int32), is_h, I32),
        "deep_sample": col.counted_binary(h["DeepSample"], h["DeepSampleSize"], is_h),
        "start_address": col.column(col.as_i64(t["StartAddress"]), is_t, I64),
        "image_base": col.column(col.as_i64(t["ImageBase"]), is_t, I64),
        "image_size": col.column(col.as_i64(t["ImageSize"]), is_t, I64),
        "got_start": col.column(_bits(tflags, ThreadFlag.GOT_START), is_t, B),
        "got_range": col.column(_bits(tflags, ThreadFlag.GOT_RANGE), is_t, B),
        "is_remote": col.column(_bits(tflags, ThreadFlag.REMOTE_CREATOR), is_t, B),
        "outside_main_image": col.column(_bits(tflags, ThreadFlag.OUTSIDE_MAIN_IMG), is_t, B),
        "corr_flags": col.column(corr.astype(np.int64), is_t, I64),
        "start_region_exec": col.column(_bits(tflags, ThreadFlag.START_REGION_EXEC), is_t, B),
    }  # fmt: skip
    if v2:
        cols.update(_v2_columns(h, f, is_h, is_f))
    return pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))


def _v2_columns(h: np.ndarray, f: np.ndarray, is_h: np.ndarray, is_f: np.ndarray) -> dict[str, pa.Array]:
    """Columns only the 1496-byte layout carries: full frames, registers, stack snapshot, file events."""
    I64, I32 = pa.int64(), pa.int32()  # noqa: N806
    capture = h["CaptureFlags"].astype(np.int64)
    has_context = is_h & _bits(capture, CaptureFlag.CONTEXT_VALID)
    registers = pa.StructArray.from_arrays(
        [pa.array(col.as_i64(h[f"Reg{name}"])) for name in REGISTER_NAMES], fields=list(REGISTERS),
        mask=pa.array(~has_context))  # fmt: skip
    file_path, _ = col.utf16_fixed(f["Path"], is_f)
    op = np.minimum(f["Operation"], len(FileOperation) - 1).astype(np.int64)
    return {
        "capture_flags": col.column(capture, is_h, I64),
        "full_frames": col.frames(h["FullFrames"], h["FullFrameCount"], is_h),
        "registers": registers,
        "stack_snapshot_address": col.column(col.as_i64(h["StackSnapshotAddress"]), is_h, I64),
        "stack_snapshot": col.counted_binary(h["StackSnapshot"], h["StackSnapshotSize"], is_h),
        "access_mask": col.column(np.where(is_f, f["DesiredAccess"], h["DesiredAccess"]).astype(np.int64),
                                  is_h | is_f, I64),
        "operation": pc.if_else(pa.array(is_f), _FILE_OPERATIONS.take(pa.array(op)),
                                        pa.scalar(None, pa.string())),
        "file_object": col.column(col.as_i64(f["FileObject"]), is_f, I64),
        "file_id": col.column(col.as_i64(f["FileId"]), is_f, I64),
        "byte_offset": col.column(col.as_i64(f["ByteOffset"]), is_f, I64),
        "length": col.column(col.as_i64(f["Length"]), is_f, I64),
        "io_status": col.column(col.as_i64(f["Status"]), is_f, I64),
        "information": col.column(col.as_i64(f["Information"]), is_f, I64),
        "major_code": col.column(f["MajorCode"].astype(np.int32), is_f, I32),
        "minor_code": col.column(f["MinorCode"].astype(np.int32), is_f, I32),
        "irp_flags": col.column(f["IrpFlags"].astype(np.int64), is_f, I64),
        "create_options": col.column(f["CreateOptions"].astype(np.int64), is_f, I64),
        "create_disposition": col.column(f["CreateDisposition"].astype(np.int64), is_f, I64),
        "share_access": col.column(f["ShareAccess"].astype(np.int64), is_f, I64),
        "file_path": file_path,
    }  # fmt: skip
