"""Windows event log files (.evtx): Sysmon, Security and any other channel, through pyevtx-rs.

Each 64 KiB chunk is handed to pyevtx-rs on its own (behind a copy of the file header that announces one chunk),
so every record it returns is known to come from that chunk, and the chunk walk (`evtx_chunks`) says which records
it did not return and why: each of those is a reject at its byte offset, with the parser's own message when it gave
one. A damaged record header no longer costs the rest of its chunk, and a chunk cut short by the end of the file
still yields its complete records. `records_json()` is used rather than `records()`: its JSON parses about three
times faster than the XML does with ElementTree (bench/ingest_evtx.py), keeps numbers as numbers, and 20 records of
EVTX-ATTACK-SAMPLES come out of `records()` as XML that is not well-formed.
"""

from __future__ import annotations

import io
import operator
import re
import struct
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
from evtx import PyEvtxParser

from swk.capture.base import ReadContext, Reject
from swk.capture.sysmon.evtx_chunks import (
    CHUNK_MAGIC,
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    FILE_MAGIC,
    RECORD_MIN_SIZE,
    Chunk,
    inspect,
    patched,
    single_chunk_header,
)
from swk.capture.sysmon.evtx_json import decode
from swk.capture.sysmon.parallel import Part, available, ordered
from swk.capture.sysmon.rows import BATCH_EVENTS, Rows, Stats
from swk.errors import SwkError, WrongFormat

NAME = "evtx"
DESCRIPTION = "Windows event logs (.evtx): Sysmon, Security and other channels, mapped to the case's families"
_RECORD_NUMBER = re.compile(r"record number (\d+)")
_ID_AND_JSON = operator.itemgetter("event_record_id", "data")
CHUNKS_PER_TASK = 128  # 8 MiB of log (~3,000 events) per unit of work: a batch per unit, so not smaller
PARALLEL_CHUNKS = 256  # from 16 MiB on (two units or more), chunks are decoded in worker processes
PARALLEL_RECORDS = 32_768  # and small files from this many records on (`read_many`)
MANY_UP_TO = FILE_HEADER_SIZE + CHUNKS_PER_TASK * CHUNK_SIZE  # files of one unit or less: `read_many` takes them


def sniff(head: bytes, path: Path) -> bool:
    """The EVTX file header magic."""
    return head[:8] == FILE_MAGIC


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Every record of every chunk, in file order; records the parser cannot return are rejects."""
    size = path.stat().st_size
    cut = _header(path, size, ctx)
    if cut is not None:
        yield cut
        return
    count = -(-(size - FILE_HEADER_SIZE) // CHUNK_SIZE)
    tasks = [(str(path), first, min(CHUNKS_PER_TASK, count - first)) for first in range(0, count, CHUNKS_PER_TASK)]
    stats = Stats()
    for done, part in enumerate(ordered(decode_chunks, tasks, parallel=count >= PARALLEL_CHUNKS), start=1):
        yield from part.items
        for message in part.warnings:
            ctx.warn(message)
        stats.merge(part.stats)
        ctx.advance(min(size, FILE_HEADER_SIZE + CHUNK_SIZE * CHUNKS_PER_TASK * done))
    for message in stats.warnings("event log's TimeCreated"):
        ctx.warn(message)


def read_many(paths: list[Path], ctxs: list[ReadContext]) -> Iterator[Many]:
    """`read` of several small files (up to `MANY_UP_TO` bytes each) into shared batches: the same rows and rejects
    as `read` gives, in order. A batch comes with the files its rows are from, as (position in `paths`, rows); a
    reject with its file's position. Each file's context is complete before an item of a later file comes.

    A small log is a few dozen events, and building a batch costs about as much for 30 rows as for 3,000 (some 40
    Arrow calls), so small files share one batch; each file keeps its own counts (`Rows.begin_input`), so the
    warnings about its values are its own.

    A collection of many small logs (a triage of a host's event logs) is decoded in worker processes, as a large
    log is: runs of consecutive files of up to a unit of work each (`CHUNKS_PER_TASK` chunks of file), once the
    files hold `PARALLEL_RECORDS` records by their headers. Small logs are mostly preallocated empty chunks, so
    their size says little: EVTX-ATTACK-SAMPLES is 575 chunks of file and 8,200 records, which one process reads
    in 0.26-0.29 s and workers in 0.53-0.57 s (their start is most of that); four copies of it, 0.91-0.96 s instead
    of 1.08-1.12 s.
    """
    sizes = [path.stat().st_size for path in paths]
    if (sum(sizes) < FILE_HEADER_SIZE + PARALLEL_CHUNKS * CHUNK_SIZE or not available()
            or sum(map(_records, paths, sizes)) < PARALLEL_RECORDS):  # fmt: skip
        yield from _read_many_here(paths, ctxs)
        return
    runs: list[tuple[int, int]] = []  # [first, end) of each unit
    first = held = 0
    for end, size in enumerate(sizes):
        if end > first and held + size > FILE_HEADER_SIZE + CHUNKS_PER_TASK * CHUNK_SIZE:
            runs.append((first, end))
            first, held = end, 0
        held += size
    runs.append((first, len(paths)))
    options = (ctxs[0].host, ctxs[0].boot_time, ctxs[0].qpc_frequency)
    tasks = [(tuple(str(path) for path in paths[a:b]), options) for a, b in runs]
    for (a, b), part in zip(runs, ordered(decode_files, tasks, parallel=True), strict=True):
        for ctx, (skipped, messages, info) in zip(ctxs[a:b], part.files, strict=True):
            ctx.skip(skipped)
            for message in messages:
                ctx.warn(message)
            ctx.info.update(info)
        for where, item in part.many:  # positions in the unit's files, made positions in `paths`
            yield (a + where if isinstance(where, int) else [(a + k, n) for k, n in where]), item  # type: ignore[misc]
        if part.error is not None:
            raise part.error
        for ctx, size in zip(ctxs[a:b], sizes[a:b], strict=True):
            ctx.advance(size)


def _records(path: Path, size: int) -> int:
    """About how many records a log holds: the file header's next record id less the first chunk's first (exact
    for a log that was closed cleanly); from its size when those say nothing sensible (~100 records a chunk)."""
    with path.open("rb", buffering=0) as fh:
        head = fh.read(FILE_HEADER_SIZE + 32)
    if len(head) == FILE_HEADER_SIZE + 32 and head[FILE_HEADER_SIZE : FILE_HEADER_SIZE + 8] == CHUNK_MAGIC:
        count = struct.unpack_from("<Q", head, 24)[0] - struct.unpack_from("<Q", head, FILE_HEADER_SIZE + 24)[0]
        if 0 <= count <= size // RECORD_MIN_SIZE:
            return count
    return max(0, size - FILE_HEADER_SIZE) // CHUNK_SIZE * 100


def decode_files(paths: tuple[str, ...], options: tuple[str | None, datetime | None, int]) -> Part:
    """`read_many` of a run of small files in this process (a unit of work): its items, and each file's context
    (complete, so it is taken before the unit's first item is handed on). An error is kept to be raised after the
    items before it, as reading them here would."""
    host, boot_time, qpc_frequency = options
    ctxs = [ReadContext(host=host, boot_time=boot_time, qpc_frequency=qpc_frequency) for _ in paths]
    part = Part()
    try:
        for item in _read_many_here([Path(path) for path in paths], ctxs):
            part.many.append(item)
    except SwkError as exc:
        part.error = exc
    part.files = [(ctx.skipped, ctx.warnings, ctx.info) for ctx in ctxs]
    return part


def _read_many_here(paths: list[Path], ctxs: list[ReadContext]) -> Iterator[Many]:
    rows = Rows(unescape=False, system_clock="event-time")
    pending: list[tuple[int, Stats]] = []  # files whose last rows may not be flushed yet, oldest first
    for position, (path, ctx) in enumerate(zip(paths, ctxs, strict=True)):
        size = path.stat().st_size
        items: list[pa.RecordBatch | Reject] = []
        spans: list[list[tuple[int, int, int]]] = []  # the files in each batch of `items`
        cut = _header(path, size, ctx)
        if cut is None:
            pending.append((position, rows.begin_input(position)))
            _decode(str(path), 0, -(-(size - FILE_HEADER_SIZE) // CHUNK_SIZE), rows, ctx, items, spans)
        else:  # after the rows queued so far, as `_decode` does for its rejects
            batch = rows.flush()
            if batch is not None:
                items.append(batch)
                spans.append(rows.flushed)
            items.append(cut)
        batch_spans = iter(spans)
        for item in items:  # a batch flushed early (before a reject, or full), or a reject
            if isinstance(item, pa.RecordBatch):
                yield _batch(item, next(batch_spans), pending, ctxs)
            else:
                _complete(pending, ctxs, position)
                yield position, item
        ctx.advance(size)
        if len(rows) >= BATCH_EVENTS // 2 or position == len(paths) - 1:
            batch = rows.flush()
            if batch is not None:
                yield _batch(batch, rows.flushed, pending, ctxs)
    _complete(pending, ctxs, None)


Many = tuple[list[tuple[int, int]], pa.RecordBatch] | tuple[int, Reject]


def _batch(batch: pa.RecordBatch, spans: list[tuple[int, int, int]], pending: list[tuple[int, Stats]],
           ctxs: list[ReadContext]) -> Many:  # fmt: skip
    """A batch of several files' rows with (file, rows) of each; the files before its last are complete."""
    files = [(key, length) for key, _start, length in spans if length]
    _complete(pending, ctxs, files[-1][0])
    return files, batch


def _complete(pending: list[tuple[int, Stats]], ctxs: list[ReadContext], current: int | None) -> None:
    """Warn of the value counts of each pending file before `current` (every one when None): all their rows are
    flushed. Runs before the next file's first item is handed on (a file's batch comes before its rejects)."""
    while pending and (current is None or pending[0][0] < current):
        position, stats = pending.pop(0)
        for message in stats.warnings("event log's TimeCreated"):
            ctxs[position].warn(message)


def _header(path: Path, size: int, ctx: ReadContext) -> Reject | None:
    """Check the file header (WrongFormat if it is not EVTX's) and warn of missing records; a header cut short is a
    reject and the end of the file."""
    with path.open("rb", buffering=0) as fh:  # whole chunks and a few header bytes at seeks: no buffer to refill
        header = fh.read(FILE_HEADER_SIZE)
        if header[:8] != FILE_MAGIC:
            raise WrongFormat(path, 0, f"file header magic {header[:8].hex(' ')}: not an EVTX file (ElfFile)")
        if len(header) < FILE_HEADER_SIZE:
            return Reject(0, f"EVTX file header: the file ends after {len(header)} of 4096 bytes", header)
        for message in _zeroed_gaps(fh, size):
            ctx.warn(message)
    return None


def decode_chunks(path: str, first: int, count: int) -> Part:
    """Rows and rejects of chunks `first`..`first + count - 1` of an EVTX file (a unit of work for `parallel`)."""
    rows = Rows(unescape=False, system_clock="event-time")
    ctx = ReadContext()
    part = Part()
    _decode(path, first, count, rows, ctx, part.items)
    batch = rows.flush()
    if batch is not None:
        part.items.append(batch)
    part.warnings, part.stats = ctx.warnings, rows.stats
    return part


def _decode(path: str, first: int, count: int, rows: Rows, ctx: ReadContext, items: list[pa.RecordBatch | Reject],
            spans: list[list[tuple[int, int, int]]] | None = None) -> None:  # fmt: skip
    """Queue the records of chunks `first`..`first + count - 1` in `rows`; a chunk's rejects go to `items` after
    the rows queued before them (flushed), as does a full batch (and, into `spans`, the inputs each batch holds)."""
    with open(path, "rb", buffering=0) as fh:
        one_chunk = single_chunk_header(fh.read(FILE_HEADER_SIZE))
        for index in range(first, first + count):
            offset = FILE_HEADER_SIZE + index * CHUNK_SIZE
            fh.seek(offset)
            chunk = inspect(index, offset, fh.read(CHUNK_SIZE))
            if chunk.state == "empty":
                continue
            rejects = _chunk(chunk, one_chunk, rows, ctx)
            if rejects or rows.full:
                batch = rows.flush()  # rows queued so far go first, so event ids follow the file
                if batch is not None:
                    items.append(batch)
                    if spans is not None:
                        spans.append(rows.flushed)
                items.extend(rejects)


def _zeroed_gaps(fh: BinaryIO, size: int) -> Iterator[str]:
    """Zeroed chunks between chunks whose record ids do not follow on: records are missing (a dirty file's
    preallocated zero chunks at the end are normal). Reads only the first 40 bytes of each chunk."""
    last_id: int | None = None
    zeroed: list[int] = []
    for index, offset in enumerate(range(FILE_HEADER_SIZE, size, CHUNK_SIZE)):
        fh.seek(offset)
        head = fh.read(40)
        if head[:8] != CHUNK_MAGIC:
            if head == bytes(len(head)):
                zeroed.append(index)
            continue
        first_id, chunk_last = struct.unpack_from("<QQ", head, 24)
        if zeroed and last_id is not None and first_id not in (0, last_id + 1):
            yield f"chunks {zeroed[0]}..{zeroed[-1]} are all zero and record ids {last_id + 1}..{first_id - 1} " \
                  "are not in the file"  # fmt: skip
        zeroed = []
        last_id = chunk_last or last_id


def _chunk(chunk: Chunk, one_chunk: bytes, rows: Rows, ctx: ReadContext) -> list[Reject]:
    """Queue the chunk's records as rows; return rejects for what could not be read."""
    where = f"chunk {chunk.index}"
    if chunk.state == "bad":
        return [Reject(chunk.offset, f"{where}: {chunk.reason}; no record can be read from it", chunk.data[:64],
                       len(chunk.data))]  # fmt: skip
    returned, messages = _parse(one_chunk + patched(chunk))
    walked = chunk.records
    ids = [r.record_id for r in walked]
    matched = [False] * len(walked)
    rejects = [Reject(g.offset, g.reason, chunk.data[g.offset - chunk.offset :][:64], g.length) for g in chunk.gaps]
    at = 0  # the parser returns records in walk order: match by a moving cursor, search only when out of step
    for record_id, data in returned:
        if at < len(ids) and ids[at] == record_id:
            index: int | None = at
        else:
            index = next((i for i, r in enumerate(ids) if r == record_id and not matched[i]), None)
        if index is not None:
            matched[index] = True
            at = index + 1
            offset = walked[index].offset
        elif record_id == 0:  # the stand-in record of a patched gap, already rejected as that gap
            continue
        else:  # cannot happen while walk and parser agree; keep the event, placed at its chunk
            ctx.warn(f"{where}: the parser returned record {record_id}, which the chunk walk did not find")
            offset = chunk.offset
        try:
            event = decode(data)
        except (ValueError, KeyError, TypeError, StopIteration) as exc:
            event, problem = None, f"its JSON does not parse ({exc!r})"
        else:
            problem = "no System/EventID in it"
        if event is None:
            rejects.append(Reject(offset, f"{where}: record {record_id}: {problem}", data.encode()[:64]))
            continue
        rows.add(event[0], event[1], offset, event[2])
    for record, done in zip(walked, matched, strict=True):
        if not done:
            why = messages.get(record.record_id, "the EVTX parser did not return it")
            raw = chunk.data[record.offset - chunk.offset :][:64]
            rejects.append(Reject(record.offset, f"{where}: record {record.record_id}: {why}", raw, record.size))
    return sorted(rejects, key=lambda r: r.offset)


def _parse(one_chunk_file: bytes) -> tuple[list[tuple[int, str]], dict[int, str]]:
    """pyevtx-rs over a one-chunk file: (record id, JSON text) pairs, and its message per failed record id."""
    parser = PyEvtxParser(io.BytesIO(one_chunk_file), number_of_threads=1, indent=False, skip_errors=True)
    messages: dict[int, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out: list[tuple[int, str]] = []
        try:  # extend keeps what came before an error
            out.extend(map(_ID_AND_JSON, parser.records_json()))
        except RuntimeError as exc:  # skip_errors turns record errors into warnings; anything else ends the chunk
            caught.append(warnings.WarningMessage(str(exc), RuntimeWarning, "", 0))
    for warning in caught:
        text = str(warning.message).removeprefix("Skipping EVTX data: RuntimeError: ")
        found = _RECORD_NUMBER.search(text)
        if found:
            messages[int(found.group(1))] = text
    return out, messages
