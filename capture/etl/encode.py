"""Builds real .etl bytes: TraceLogging metadata, event records, buffers and the logfile header.

The writer and the tests use these instead of mocking the reader: every layout comes from `layout`, and the
record shapes copy what Windows writes (TraceLogging events carry PROV_TRAITS then EVENT_SCHEMA_TL, channel 11,
EVENT_HEADER_FLAG_EXTENDED_INFO; buffers are padded with 0xFF; the first buffer holds the logfile header).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from swk.capture.etl import layout
from swk.capture.etl.lz77 import compress

TL_CHANNEL = 11  # the channel TraceLogging events are written with


def tl_metadata(event_name: str, fields: Sequence[tuple], tag: int = 0) -> bytes:
    """EVENT_SCHEMA_TL for `fields` = (name, in_type[, out_type[, const_count | "var"]]) tuples."""
    body = bytearray()
    body += _chained(tag) + event_name.encode() + b"\0"
    for spec in fields:
        name, in_type = spec[0], spec[1]
        out_type = spec[2] if len(spec) > 2 else 0
        count = spec[3] if len(spec) > 3 else None
        flags = 0x40 if count == "var" else 0x20 if isinstance(count, int) else 0
        body += name.encode() + b"\0"
        if out_type:
            body += bytes([in_type | flags | 0x80, out_type])
        else:
            body += bytes([in_type | flags])
        if isinstance(count, int):
            body += struct.pack("<H", count)
    return struct.pack("<H", len(body) + 2) + bytes(body)


def _chained(tag: int) -> bytes:
    out = bytearray()
    while True:
        byte = tag & 0x7F
        tag >>= 7
        out.append(byte | (0x80 if tag else 0))
        if not tag:
            return bytes(out)


def prov_traits(provider: str) -> bytes:
    """PROV_TRAITS holding just the provider name."""
    name = provider.encode() + b"\0"
    return struct.pack("<H", len(name) + 2) + name


def ext_items(items: Sequence[tuple[int, bytes]]) -> bytes:
    """Extended data items as they sit in a buffer (8-aligned, Linkage bit 0 on all but the last)."""
    out = bytearray()
    for i, (etype, data) in enumerate(items):
        size = (8 + len(data) + 7) & ~7
        out += layout.EXT_ITEM.pack(size, etype, 1 if i < len(items) - 1 else 0, len(data))
        out += data + b"\0" * (size - 8 - len(data))
    return bytes(out)


def event_record(*, provider: bytes, timestamp: int, pid: int, tid: int, user: bytes, ext: bytes = b"",
                 event_id: int = 0, version: int = 0, channel: int = 0, level: int = 4, opcode: int = 0,
                 task: int = 0, keyword: int = 0, header_type: int = layout.HeaderType.EVENT_HEADER64) -> bytes:  # fmt: skip
    """One EVENT_HEADER record (not padded)."""
    size = layout.EVENT_HEADER_SIZE + len(ext) + len(user)
    if size > 0xFFFF:
        raise ValueError(f"event of {size} bytes does not fit EVENT_HEADER.Size")
    hdr = layout.EVENT_HEADER.pack(size, header_type, layout.MARKER_FLAGS, 1 if ext else 0, 0, tid & 0xFFFFFFFF,
                                   pid & 0xFFFFFFFF, timestamp, provider, event_id, version, channel, level, opcode,
                                   task, keyword & 0xFFFFFFFFFFFFFFFF, 0, b"\0" * 16)  # fmt: skip
    return hdr + ext + user


def system_record(*, group: int, typ: int, version: int, timestamp: int, payload: bytes, pid: int = 0, tid: int = 0,
                  header_type: int = layout.HeaderType.SYSTEM64) -> bytes:  # fmt: skip
    """One SYSTEM_TRACE_HEADER record (kernel MOF event; PERFINFO and COMPACT headers by `header_type`)."""
    if header_type in (layout.HeaderType.PERFINFO32, layout.HeaderType.PERFINFO64):
        size = layout.PERFINFO_HEADER_SIZE + len(payload)
        return (
            layout.PERFINFO_HEADER.pack(version, header_type, layout.MARKER_FLAGS, size, typ, group, timestamp)
            + payload
        )
    hsize = layout.COMPACT_HEADER_SIZE if header_type in (3, 4) else layout.SYSTEM_HEADER_SIZE
    size = hsize + len(payload)
    head = layout.SYSTEM_HEADER.pack(version, header_type, layout.MARKER_FLAGS, size, typ, group, tid, pid, timestamp)
    return head + b"\0" * (hsize - layout.SYSTEM_HEADER.size) + payload


@dataclass
class LogfileInfo:
    """What the writer puts in TRACE_LOGFILE_HEADER."""

    start_time: int  # FILETIME
    end_time: int
    boot_time: int
    perf_freq: int = 10_000_000
    start_qpc: int = 0
    clock_type: int = layout.ClockType.QPC
    buffer_size: int = 65_536
    buffers_written: int = 0
    logger_name: str = "SleepwlkrControllerSession"
    log_file_name: str = "sleepwalker.etl"
    os_build: int = 26100
    processors: int = 2
    log_file_mode: int = 0x00000001  # EVENT_TRACE_FILE_MODE_SEQUENTIAL
    events_lost: int = 0


def _logfile_head(info: LogfileInfo) -> bytes:
    return layout.LOGFILE_HEAD.pack(info.buffer_size, 0x0000000A, info.os_build, info.processors, info.end_time,
                                    156_250, 0, info.log_file_mode, info.buffers_written, 0, 8, info.events_lost,
                                    2_000)  # fmt: skip


def logfile_record(info: LogfileInfo) -> bytes:
    """The first record of an .etl: SYSTEM64 header, group 0 type 0, then a 64-bit TRACE_LOGFILE_HEADER."""
    payload = bytearray(layout.LOGFILE_SIZE[8])
    head = _logfile_head(info)
    payload[: len(head)] = head
    layout.LOGFILE_TAIL.pack_into(payload, layout.LOGFILE_TAIL_OFFSET[8], info.boot_time, info.perf_freq,
                                  info.start_time, info.clock_type, 0)  # fmt: skip
    payload += (info.logger_name + "\0").encode("utf-16-le") + (info.log_file_name + "\0").encode("utf-16-le")
    return system_record(group=0, typ=0, version=2, timestamp=info.start_qpc, payload=bytes(payload), pid=4)


@dataclass
class BufferWriter:
    """Packs records into fixed-size buffers and writes them; `compressed` writes LZ77 buffers (tests)."""

    fh: BinaryIO
    buffer_size: int = 65_536
    compressed: bool = False
    written: int = 0
    _records: bytearray = field(default_factory=bytearray)
    _last_ts: int = 0

    def add(self, record: bytes, timestamp: int = 0) -> None:
        """Append a record, starting a new buffer when it does not fit."""
        padded = len(record) + (-len(record) % 8)
        if layout.BUFFER_HEADER_SIZE + padded > self.buffer_size:
            raise ValueError(f"record of {len(record)} bytes does not fit a {self.buffer_size}-byte buffer")
        if layout.BUFFER_HEADER_SIZE + len(self._records) + padded > self.buffer_size:
            self.flush()
        self._records += record + b"\0" * (padded - len(record))
        self._last_ts = timestamp or self._last_ts

    def flush(self, *, header: bool = False) -> None:
        """Write the pending records as one buffer."""
        if not self._records and not header:
            return
        body = bytes(self._records)
        flag, btype = (0x21, layout.BufferType.HEADER) if header else (0x20, layout.BufferType.GENERIC)
        if self.compressed and not header:
            body = compress(body)
            flag |= layout.BufferFlag.COMPRESSED
        filled = layout.BUFFER_HEADER_SIZE + len(body)
        size = self.buffer_size if not (self.compressed and not header) else (filled + 7) & ~7
        head = layout.BUFFER_HEADER.pack(size, filled, filled, 0, self._last_ts, self.written, 0, 0, 0x1A, 3, filled,
                                         flag, btype, b"\0" * 16)  # fmt: skip
        self.fh.write(head + body + b"\xff" * (size - filled))
        self.written += 1
        self._records = bytearray()


def write_file(fh: BinaryIO, info: LogfileInfo, records: Iterable[tuple[bytes, int]], *,
               compressed: bool = False) -> int:  # fmt: skip
    """A whole .etl: header buffer, then `records` ((bytes, timestamp) pairs) packed; returns records written.

    `info` may be completed while `records` is consumed (start and end time); the header buffer is written again
    with the final values at the end, so the records can stream.
    """
    start = fh.tell()
    fh.write(b"\0" * info.buffer_size)  # the header buffer, rewritten below
    writer = BufferWriter(fh, info.buffer_size, compressed, written=1)
    count = 0
    for record, ts in records:
        writer.add(record, ts)
        count += 1
    writer.flush()
    info.buffers_written = writer.written
    end = fh.tell()
    fh.seek(start)
    header = BufferWriter(fh, info.buffer_size)
    header.add(logfile_record(info))
    header.flush(header=True)
    fh.seek(end)
    return count
