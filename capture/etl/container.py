"""The .etl container: the logfile header, buffers, and the records inside each buffer.

Buffers are read one at a time (memory stays flat whatever the file size). Each record is handed on as a plain
tuple (the decoders run per record, so objects would cost more than the decoding). Damage is contained: a buffer
whose header does not add up is rejected with its offset and the walk goes on at the next buffer boundary (the
logfile's buffer size); a record that runs past its buffer is rejected and the rest of that buffer is skipped,
because record boundaries after it cannot be trusted. A file cut inside a buffer gives one reject at the cut.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from swk.capture.etl import layout
from swk.capture.etl.lz77 import DecompressError, decompress
from swk.errors import WrongFormat
from swk.kernel.clock import FILETIME_UNIX_EPOCH
from swk.store.reject import Reject

MAX_BUFFER_SIZE = 64 << 20  # ETW caps buffers at 1 MB (16 MB on newer builds); anything far above is damage
HEADER_GROUP = 0  # EVENT_TRACE_GROUP_HEADER: the logfile header is its event type 0
HEADER_RECORD_OFFSET = layout.BUFFER_HEADER_SIZE  # the logfile header is the first record of the first buffer
POINTER64 = layout.POINTER64_TYPES

READ_BLOCK = 16 << 20  # bytes read at once: buffers are sliced out of blocks, not read one by one
BLOCK_TAIL = 1024  # zero bytes after each block's data (`scan` reads fixed-width windows near a buffer's end)
SEEN_LIMIT = 4096  # distinct extended-data regions remembered per file
_CONSTANT_EXT = frozenset({11, 12, 14})  # schema, traits, control GUID: the same for every event of a schema

# Record kinds handed on by `walk`.
EVENT, SYSTEM, FULL, MESSAGE = "event", "system", "full", "message"


@dataclass
class Logfile:
    """What TRACE_LOGFILE_HEADER says about the trace: its clock, sizes, the writer's pointer size and times."""

    buffer_size: int
    version: int
    os_build: int
    processors: int
    end_time: int  # FILETIME
    timer_resolution: int  # 100 ns units
    log_file_mode: int
    buffers_written: int
    pointer_size: int
    events_lost: int
    cpu_mhz: int
    boot_time: int  # FILETIME
    perf_freq: int
    start_time: int  # FILETIME
    clock_type: int
    buffers_lost: int
    header_ts: int  # the header record's own timestamp, taken at start_time in the trace's clock
    logger_name: str = ""
    log_file_name: str = ""
    warnings: list[str] = field(default_factory=list)

    def filetime(self, ts: int) -> int:
        """FILETIME (UTC) of a record timestamp in this trace's clock."""
        if self.clock_type == layout.ClockType.QPC and self.perf_freq > 0:
            return self.start_time + (ts - self.header_ts) * 10_000_000 // self.perf_freq
        if self.clock_type == layout.ClockType.CPU_CYCLES and self.cpu_mhz > 0:
            return self.start_time + (ts - self.header_ts) * 10 // self.cpu_mhz
        return ts  # system time: already a FILETIME

    def info(self) -> dict[str, object]:
        """The facts worth keeping in the case manifest."""
        clock = {1: "qpc", 2: "system-time", 3: "cpu-cycles"}.get(self.clock_type, f"unknown ({self.clock_type})")
        return {
            "etl_clock": clock, "etl_perf_freq": self.perf_freq, "etl_timer_resolution_100ns": self.timer_resolution,
            "etl_pointer_size": self.pointer_size, "etl_buffer_size": self.buffer_size,
            "etl_os_build": f"{self.version & 0xFF}.{(self.version >> 8) & 0xFF}.{self.os_build & 0xFFFF}",
            "etl_processors": self.processors, "etl_start_time": _iso(self.start_time),
            "etl_end_time": _iso(self.end_time), "etl_boot_time": _iso(self.boot_time),
            "etl_logger_name": self.logger_name, "etl_log_file_mode": f"0x{self.log_file_mode:08x}",
            "etl_buffers_written": self.buffers_written, "etl_events_lost": self.events_lost,
            "etl_buffers_lost": self.buffers_lost,
        }  # fmt: skip


def _iso(filetime: int) -> str | None:
    from swk.kernel.clock import iso

    return iso((filetime - FILETIME_UNIX_EPOCH) * 100) if filetime > FILETIME_UNIX_EPOCH else None


def sniff(head: bytes) -> bool:
    """A first buffer whose first record is the logfile header (SYSTEM header, group 0, type 0)."""
    if len(head) < layout.BUFFER_HEADER_SIZE + layout.SYSTEM_HEADER_SIZE:
        return False
    size, saved = struct.unpack_from("<II", head)
    _version, htype, flags, rsize, typ, group = struct.unpack_from("<HBBHBB", head, layout.BUFFER_HEADER_SIZE)
    return (layout.BUFFER_HEADER_SIZE < saved <= size and size % 8 == 0 and flags == layout.MARKER_FLAGS
            and htype in (layout.HeaderType.SYSTEM32, layout.HeaderType.SYSTEM64) and group == HEADER_GROUP and typ == 0
            and rsize >= layout.SYSTEM_HEADER_SIZE + layout.LOGFILE_HEAD.size)  # fmt: skip


def read_logfile(head: bytes, path: Path) -> Logfile:
    """Parse the first buffer's logfile header, or say why this is not an .etl file (`WrongFormat`)."""
    if not sniff(head):
        raise WrongFormat(path, 0, "no WMI_BUFFER_HEADER followed by a TRACE_LOGFILE_HEADER record: not an ETW trace")
    at = layout.BUFFER_HEADER_SIZE
    htype = head[at + 2]
    rsize = struct.unpack_from("<H", head, at + 4)[0]
    header_ts = struct.unpack_from("<q", head, at + 16)[0]
    payload = head[at + layout.SYSTEM_HEADER_SIZE : at + rsize]
    (buffer_size, version, os_build, processors, end_time, timer_res, _max_mb, mode, written, _start_buffers,
     pointer_size, lost, mhz) = layout.LOGFILE_HEAD.unpack_from(payload)  # fmt: skip
    if pointer_size not in (4, 8):
        pointer_size = 8 if htype == layout.HeaderType.SYSTEM64 else 4
    tail = layout.LOGFILE_TAIL_OFFSET[pointer_size]
    if len(payload) < tail + layout.LOGFILE_TAIL.size:
        raise WrongFormat(path, at, f"TRACE_LOGFILE_HEADER is {len(payload)} bytes, expected {tail + 32}")
    boot, freq, start, clock, buffers_lost = layout.LOGFILE_TAIL.unpack_from(payload, tail)
    log = Logfile(buffer_size, version, os_build, processors, end_time, timer_res, mode, written, pointer_size,
                  lost, mhz, boot, freq, start, clock, buffers_lost, header_ts)  # fmt: skip
    names = payload[layout.LOGFILE_SIZE[pointer_size] :]
    log.logger_name, rest = _wide_z(names)
    log.log_file_name, _ = _wide_z(rest)
    if clock not in (1, 2, 3):
        log.warnings.append(f"unknown clock type {clock} in TRACE_LOGFILE_HEADER: times are taken as FILETIMEs")
    elif clock == layout.ClockType.QPC and freq <= 0:
        log.warnings.append("QPC clock with PerfFreq 0: times are taken as FILETIMEs")
    return log


def _wide_z(data: bytes) -> tuple[str, bytes]:
    for i in range(0, len(data) - 1, 2):
        if data[i] == 0 and data[i + 1] == 0:
            return data[:i].decode("utf-16-le", "replace"), data[i + 2 :]
    return data.decode("utf-16-le", "replace"), b""


class _Blocks:
    """The file read a large block at a time; `read` hands out zero-copy views. Each block is its own bytearray (a
    view stays valid however far reading has moved on), 8-byte sized, with BLOCK_TAIL zero bytes after the data
    read, so `scan` can decode the buffers of one block where they are."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size = fh, size
        self.start = 0
        self.data = memoryview(b"")

    def read(self, offset: int, n: int) -> memoryview:
        """Up to `n` bytes at `offset` (fewer at the end of the file)."""
        if not (self.start <= offset and offset + n <= self.start + len(self.data)):
            want = max(n, self.size)
            block = bytearray(((want + 7) & ~7) + BLOCK_TAIL)
            self.fh.seek(offset)
            got, view = 0, memoryview(block)
            while got < want and (step := self.fh.readinto(view[got:want])):
                got += step
            self.data = view[:got]
            self.start = offset
        return self.data[offset - self.start : offset - self.start + n]


def buffers(fh: BinaryIO, total: int, log: Logfile, *,
            views: bool = False) -> Iterator[tuple[int, bytes | memoryview] | Reject]:  # fmt: skip
    """(file offset, record bytes) for every buffer, the records decompressed; rejects for damaged buffers.

    With `views`, uncompressed buffers come as memoryviews into blocks of the file (no copy per buffer).
    """
    stride = log.buffer_size if layout.BUFFER_HEADER_SIZE < log.buffer_size <= MAX_BUFFER_SIZE else 0
    src = _Blocks(fh, READ_BLOCK)
    out = (lambda v: v) if views else bytes
    offset = 0
    while offset < total:
        head = src.read(offset, layout.BUFFER_HEADER_SIZE)
        if len(head) < layout.BUFFER_HEADER_SIZE:
            yield Reject(offset, f"truncated WMI_BUFFER_HEADER: {len(head)} of 72 bytes at end of file", bytes(head))
            return
        size, _saved, _cur, _ref, _ts, _seq, _clk, _proc, _lid, _state, filled, flag, _typ, _pad = (
            layout.BUFFER_HEADER.unpack(head))  # fmt: skip
        problem = None
        if not (layout.BUFFER_HEADER_SIZE <= size <= MAX_BUFFER_SIZE) or size % 8:
            problem = f"WMI_BUFFER_HEADER.BufferSize={size} is not a multiple of 8 in 72..{MAX_BUFFER_SIZE}"
        elif not (layout.BUFFER_HEADER_SIZE <= filled <= size):
            problem = f"WMI_BUFFER_HEADER.Offset={filled} outside 72..BufferSize ({size})"
        if problem:
            if not stride:
                yield Reject(offset, problem + "; no buffer size to resync with, rest of file skipped", bytes(head))
                return
            yield Reject(offset, problem, bytes(head), min(stride, total - offset))
            offset += stride
            continue
        whole = src.read(offset, size)
        if len(whole) < size:
            got = len(whole)
            usable = filled <= got and not flag & layout.BufferFlag.COMPRESSED
            if usable:  # the cut is in the buffer's unused tail: its records are all there
                yield offset, out(whole[:filled])
            yield Reject(offset + got, f"file ends inside a buffer: {got} of {size} bytes", b"", 0)
            return
        if flag & layout.BufferFlag.COMPRESSED:
            try:
                records = bytes(head) + decompress(bytes(whole[layout.BUFFER_HEADER_SIZE : filled]))
            except DecompressError as exc:
                yield Reject(offset, f"compressed buffer (LZ77/Xpress) does not decompress: {exc}", bytes(head), size)
                offset += size
                continue
            yield offset, records
        else:
            yield offset, out(whole[:filled])
        offset += size


def walk(data: bytes, offset: int, seen: dict[bytes, list[bytes]]) -> tuple[list[tuple], Reject | None]:
    """Records of one buffer (`data` = header + records) as tuples, and a reject if a record broke the walk.

    EVENT:   (EVENT, file offset, EVENT_HEADER bytes, extended data region, user data)
    SYSTEM:  (SYSTEM, file offset, header type, version, type, group, tid, pid, timestamp, payload)
    FULL:    (FULL, file offset, header type, guid, type, level, version, tid, pid, timestamp, payload)
    MESSAGE: (MESSAGE, file offset, raw record)
    """
    out: list[tuple] = []
    append = out.append
    end = len(data)
    pos = layout.BUFFER_HEADER_SIZE
    unpack_head = _EVENT_HEAD.unpack_from
    unpack_ext = layout.EXT_ITEM.unpack_from
    while pos + 4 <= end:
        htype = data[pos + 2]
        mflags = data[pos + 3]
        if mflags == layout.MARKER_FLAGS and htype in _EVENT_TYPES:
            if pos + layout.EVENT_HEADER_SIZE > end:
                return out, _cut(data, pos, offset, "EVENT_HEADER")
            size, _, _, flags = unpack_head(data, pos)
            stop = pos + size
            if size < layout.EVENT_HEADER_SIZE or stop > end:
                return out, _cut(data, pos, offset, f"EVENT_HEADER.Size={size}")
            p = pos + layout.EVENT_HEADER_SIZE
            ext = b""
            if flags & 1:  # EXTENDED_INFO
                # Schema and traits repeat byte for byte for every event of a schema: the region is matched
                # against the ones seen before (no copy, and the same object, whose hash is cached, goes on).
                for known in seen.get(data[p : p + 8], ()):
                    if data.startswith(known, p) and p + len(known) <= stop:
                        ext = known
                        p += len(known)
                        break
                else:
                    start = p
                    constant = True
                    while True:
                        if p + layout.EXT_ITEM_SIZE > stop:
                            return out, _cut(data, pos, offset, "EVENT_HEADER_EXTENDED_DATA_ITEM")
                        isize, etype, link, dsize = unpack_ext(data, p)
                        if isize < layout.EXT_ITEM_SIZE + dsize or isize % 8 or p + isize > stop:
                            return out, _cut(data, pos, offset, f"EXTENDED_DATA_ITEM.Size={isize} (DataSize={dsize})")
                        constant = constant and etype in _CONSTANT_EXT
                        p += isize
                        if not link & 1:
                            break
                    ext = data[start:p]
                    if constant and len(seen) < SEEN_LIMIT:
                        seen.setdefault(ext[:8], []).append(ext)
            append((EVENT, offset + pos, data[pos : pos + layout.EVENT_HEADER_SIZE], ext, data[p:stop]))
        elif mflags == layout.MARKER_FLAGS and htype in _SYSTEM_TYPES:
            hsize = _SYSTEM_TYPES[htype]
            if pos + hsize > end:
                return out, _cut(data, pos, offset, "SYSTEM_TRACE_HEADER")
            if hsize == layout.PERFINFO_HEADER_SIZE:
                version, _, _, size, typ, group, ts = layout.PERFINFO_HEADER.unpack_from(data, pos)
                tid = pid = None
            else:
                version, _, _, size, typ, group, tid, pid, ts = layout.SYSTEM_HEADER.unpack_from(data, pos)
            stop = pos + size
            if size < hsize or stop > end:
                return out, _cut(data, pos, offset, f"SYSTEM_TRACE_HEADER.Size={size}")
            append((SYSTEM, offset + pos, htype, version, typ, group, tid, pid, ts, data[pos + hsize : stop]))
        elif mflags == layout.MARKER_FLAGS and htype in _FULL_TYPES:
            hsize = _FULL_TYPES[htype]
            if pos + hsize > end:
                return out, _cut(data, pos, offset, "EVENT_TRACE_HEADER")
            size, _, _, typ, level, version, tid, pid, ts, guid, _cpu = layout.FULL_HEADER.unpack_from(data, pos)
            stop = pos + size
            if size < hsize or stop > end:
                return out, _cut(data, pos, offset, f"EVENT_TRACE_HEADER.Size={size}")
            append((FULL, offset + pos, htype, guid, typ, level, version, tid, pid, ts, data[pos + hsize : stop]))
        elif mflags & 0xF0 == 0x90 or (mflags == layout.MARKER_FLAGS and htype == layout.HeaderType.MESSAGE):
            size = data[pos] | data[pos + 1] << 8
            stop = pos + size
            if size < 8 or stop > end:
                return out, _cut(data, pos, offset, f"MESSAGE header Size={size}")
            append((MESSAGE, offset + pos, data[pos:stop]))
        elif data[pos : pos + 4] in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"):
            break  # padding: the rest of the buffer is unused
        else:
            marker = int.from_bytes(data[pos : pos + 4], "little")
            return out, Reject(offset + pos, f"unknown record marker 0x{marker:08x}; rest of the buffer skipped",
                               data[pos : pos + 64], end - pos)  # fmt: skip
        pos = (stop + 7) & ~7
    if pos < end and data[pos:end].strip(b"\x00\xff"):
        return out, Reject(offset + pos, f"{end - pos} bytes at the end of the buffer are too short for a record",
                           data[pos:end], end - pos)  # fmt: skip
    return out, None


_EVENT_HEAD = struct.Struct("<HBBH")  # EVENT_HEADER.Size, HeaderType, MarkerFlags, Flags: all the walk needs
_EVENT_TYPES = frozenset({layout.HeaderType.EVENT_HEADER32, layout.HeaderType.EVENT_HEADER64})
_SYSTEM_TYPES = {layout.HeaderType.SYSTEM32: layout.SYSTEM_HEADER_SIZE, layout.HeaderType.SYSTEM64: layout.SYSTEM_HEADER_SIZE,
                 layout.HeaderType.COMPACT32: layout.COMPACT_HEADER_SIZE, layout.HeaderType.COMPACT64: layout.COMPACT_HEADER_SIZE,
                 layout.HeaderType.PERFINFO32: layout.PERFINFO_HEADER_SIZE, layout.HeaderType.PERFINFO64: layout.PERFINFO_HEADER_SIZE}  # fmt: skip
_FULL_TYPES = {layout.HeaderType.FULL_HEADER32: layout.FULL_HEADER_SIZE, layout.HeaderType.FULL_HEADER64: layout.FULL_HEADER_SIZE,
               layout.HeaderType.INSTANCE32: layout.INSTANCE_HEADER_SIZE, layout.HeaderType.INSTANCE64: layout.INSTANCE_HEADER_SIZE}  # fmt: skip


def ext_items(region: bytes) -> list[tuple[int, bytes]]:
    """(type, data) of the extended data items of a region `walk` already checked."""
    items = []
    p = 0
    while p + layout.EXT_ITEM_SIZE <= len(region):
        isize, etype, _link, dsize = layout.EXT_ITEM.unpack_from(region, p)
        items.append((etype, region[p + 8 : p + 8 + dsize]))
        p += isize
    return items


def _cut(data: bytes, pos: int, offset: int, what: str) -> Reject:
    """A record that does not fit its buffer: rejected, and the rest of the buffer with it."""
    return Reject(offset + pos, f"{what} runs past the end of its buffer; rest of the buffer skipped",
                  data[pos : pos + 64], len(data) - pos)  # fmt: skip
