"""The EVTX container, walked by us so every record is accounted for (pyevtx-rs does the BinXML).

An EVTX file is a 4 KiB file header and 64 KiB chunks; a chunk is a 512-byte header (magic `ElfChnk\\0`, the ids
of the records it holds, the free-space offset) then records: `2a 2a 00 00`, size, record id, FILETIME, BinXML,
and the size again. pyevtx-rs with `skip_errors` skips a record whose BinXML is damaged with a warning, but drops the
rest of a chunk after a damaged record *header*, and silently ignores a chunk cut short by the end of the file.
Walking the headers here says where every record is, so each one the parser does not return becomes a reject with
its offset, and a damaged stretch is stepped over to the next sound record instead of losing the chunk's tail.

Layout: libevtx's "Windows XML Event Log (EVTX)" format documentation (file header, chunk header, event record).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = 0x00002A2A
RECORD_HEADER = struct.Struct("<IIQQ")  # magic, size, record id, written FILETIME
RECORD_MIN_SIZE = 28  # header + the trailing size copy: pyevtx-rs refuses smaller
_SIZE = struct.Struct("<I")
_CHUNK_IDS = struct.Struct("<QQ")  # first/last event record id (@24)
_FREE_SPACE_AT = 48
_CHUNK_COUNT_AT = 42  # file header: u16 number of chunks


class Record(NamedTuple):  # one per record: a NamedTuple is several times cheaper to make than a dataclass
    """A sound record header found in a chunk."""

    offset: int  # in the file
    size: int
    record_id: int


@dataclass(frozen=True)
class Gap:
    """A damaged stretch of a chunk: no record can be delimited in it."""

    offset: int  # in the file
    length: int
    reason: str
    resumes: bool  # a sound record follows it in the same chunk


@dataclass
class Chunk:
    """One 64 KiB chunk slot and what its headers say."""

    index: int
    offset: int  # in the file
    data: bytes
    state: str  # ok, empty (all zero), bad (no usable chunk header)
    reason: str = ""
    first_id: int = 0
    last_id: int = 0
    records: list[Record] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


def single_chunk_header(header: bytes) -> bytes:
    """The file header rewritten to announce one chunk, so one chunk parses on its own without warnings."""
    out = bytearray(header)
    struct.pack_into("<H", out, _CHUNK_COUNT_AT, 1)
    return bytes(out)


def iter_chunks(fh: BinaryIO, size: int) -> Iterator[Chunk]:
    """Every chunk slot after the file header, in file order, read one at a time (a short last one included)."""
    index, offset = 0, FILE_HEADER_SIZE
    while offset < size:
        fh.seek(offset)
        data = fh.read(CHUNK_SIZE)
        if not data:
            return
        yield inspect(index, offset, data)
        index, offset = index + 1, offset + CHUNK_SIZE


def inspect(index: int, offset: int, data: bytes) -> Chunk:
    """What a chunk's header and record headers say."""
    if data[:8] != CHUNK_MAGIC and data == bytes(len(data)):
        return Chunk(index, offset, data, "empty")
    if len(data) < CHUNK_HEADER_SIZE:
        return Chunk(index, offset, data, "bad", f"the file ends {len(data)} bytes into the chunk header")
    if data[:8] != CHUNK_MAGIC:
        return Chunk(index, offset, data, "bad", f"chunk header magic {data[:8].hex(' ')}, expected ElfChnk")
    first_id, last_id = _CHUNK_IDS.unpack_from(data, 24)
    (free,) = _SIZE.unpack_from(data, _FREE_SPACE_AT)
    chunk = Chunk(index, offset, data, "ok", first_id=first_id, last_id=last_id)
    _walk(chunk, CHUNK_HEADER_SIZE, free if CHUNK_HEADER_SIZE <= free <= CHUNK_SIZE else CHUNK_SIZE)
    return chunk


def _walk(chunk: Chunk, at: int, end: int) -> None:
    """Record headers from `at` to the free-space offset; a damaged stretch becomes a gap and the walk resyncs."""
    data = chunk.data
    while at + RECORD_HEADER.size <= end:
        if at + RECORD_HEADER.size > len(data):
            break
        magic, size, rid, _ = RECORD_HEADER.unpack_from(data, at)
        if magic == RECORD_MAGIC and size >= RECORD_MIN_SIZE and at + size <= CHUNK_SIZE:
            if at + size > len(data):
                _gap(chunk, at, len(data), f"the file ends inside record {rid}", False)
                return
            chunk.records.append(Record(chunk.offset + at, size, rid))
            at += size
            continue
        what = f"record header magic {magic:#010x}" if magic != RECORD_MAGIC else f"record size {size} out of bounds"
        resume = _resync(chunk, at + 8, end)
        _gap(chunk, at, resume if resume is not None else min(end, len(data)), f"damaged record header ({what})",
             resume is not None)  # fmt: skip
        if resume is None:
            return
        at = resume
    if len(data) < CHUNK_SIZE and at < end:
        _gap(chunk, at, len(data), "the file ends inside the chunk", False)


def _gap(chunk: Chunk, start: int, stop: int, reason: str, resumes: bool) -> None:
    before = chunk.records[-1].record_id if chunk.records else chunk.first_id - 1
    lost = f"; record ids after {before} are missing" if not resumes else ""
    chunk.gaps.append(Gap(chunk.offset + start, max(stop - start, 0), f"chunk {chunk.index}: {reason}{lost}", resumes))


def _resync(chunk: Chunk, at: int, end: int) -> int | None:
    """Chunk-relative offset of the next sound record header (8-byte aligned, size echoed at its end), if any."""
    data = chunk.data
    at += -at % 8
    limit = min(end, len(data))
    while at + RECORD_HEADER.size <= limit:
        magic, size, rid, _ = RECORD_HEADER.unpack_from(data, at)
        if (magic == RECORD_MAGIC and size >= RECORD_MIN_SIZE and at + size <= limit
                and chunk.first_id <= rid <= chunk.last_id and _SIZE.unpack_from(data, at + size - 4)[0] == size):  # fmt: skip
            return at
        at += 8
    return None


def patched(chunk: Chunk) -> bytes:
    """The chunk as the parser should see it: 64 KiB; every gap a sound record follows turned into one record with
    an invalid BinXML token, so the parser rejects that stretch and goes on to the next record; and a gap nothing
    follows ended, so the parser cannot make an event of a record cut short (the zero padding would let it)."""
    if not chunk.gaps and len(chunk.data) == CHUNK_SIZE:
        return chunk.data  # nearly every chunk: nothing to patch, and no copy
    data = bytearray(chunk.data.ljust(CHUNK_SIZE, b"\x00"))
    for gap in chunk.gaps:
        start = gap.offset - chunk.offset
        if gap.resumes and gap.length >= RECORD_MIN_SIZE:
            RECORD_HEADER.pack_into(data, start, RECORD_MAGIC, gap.length, 0, 0)
            data[start + RECORD_HEADER.size] = 0xFF
            _SIZE.pack_into(data, start + gap.length - 4, gap.length)
        elif not gap.resumes and start + 4 <= CHUNK_SIZE:
            data[start : start + 4] = b"\x00\x00\x00\x00"
    return bytes(data)
