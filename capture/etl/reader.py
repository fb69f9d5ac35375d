"""Input format `etl`: ETW trace files (logman, tracelog, WPR, xperf), from the Sleepwalker.Kernel provider or any other.

Sleepwalker TraceLogging events land in their families (spec 2.2, `swk.kernel.etw`), Threat-Intelligence events in
`ti`, NT Kernel Logger process/thread/image events in `process`/`thread`/`image`, and every other record as a
`generic` row (provider, event name where known, descriptor, decoded fields or a hex preview in `fields_json`).
Times are the logfile's clock converted to UTC with the logfile header (QPC via PerfFreq from StartTime, or system
time), so rows match what a real-time consumer sees (FILETIME, `clock='filetime'`).

Buffers are read a chunk at a time (memory stays flat whatever the file size) and decoded by `chunk.run`: the
Sleepwalker families with numpy over the whole chunk, everything else record by record. `read_records` is the
same reader one record at a time: the reference the chunked reader must equal item for item (tests, benchmark).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.etl import chunk, container
from swk.capture.etl.rows import Batch

NAME = "etl"
DESCRIPTION = "ETW trace files (.etl): Sleepwalker.Kernel TraceLogging, Threat-Intelligence, NT Kernel Logger, others"
BATCH_RECORDS = chunk.BATCH_RECORDS
CHUNK_BYTES = 16 << 20  # buffers decoded together: enough events per family for numpy to pay, little memory
HEAD_BYTES = 4096


def sniff(head: bytes, path: Path) -> bool:
    """A WMI_BUFFER_HEADER whose first record is the TRACE_LOGFILE_HEADER."""
    return container.sniff(head)


def _start(fh: BinaryIO, path: Path, ctx: ReadContext) -> tuple[container.Logfile, Batch]:
    """The logfile header (its warnings and facts reported to `ctx`) and an empty batch over it."""
    log = container.read_logfile(fh.read(HEAD_BYTES), path)
    for warning in log.warnings:
        ctx.warn(warning)
    ctx.info.update(log.info())
    return log, Batch(log, ctx.warn)


def read(path: Path, ctx: ReadContext, *, chunk_bytes: int = CHUNK_BYTES,
         batch_records: int = BATCH_RECORDS) -> Iterator[pa.RecordBatch | Reject]:  # fmt: skip
    """Every record of every buffer, in file order, a batch of rows at a time; rejects where the file is damaged."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        log, batch = _start(fh, path, ctx)
        seen: dict[bytes, list[bytes]] = {}
        known = chunk.Known()
        pending: list[tuple[int, bytes | memoryview]] = []
        size, block = 0, None
        for item in container.buffers(fh, total, log, views=True):
            if isinstance(item, Reject):  # between buffers: everything before it is decoded first
                yield from chunk.run(pending, batch, seen, known, ctx.advance, batch_records)
                pending, size = [], 0
                yield item
                continue
            owner = item[1].obj if isinstance(item[1], memoryview) else None
            if pending and owner is not block:  # a chunk stays within one block, to be decoded where it lies
                yield from chunk.run(pending, batch, seen, known, ctx.advance, batch_records)
                pending, size = [], 0
            pending.append(item)
            size, block = size + len(item[1]), owner
            if size >= chunk_bytes:
                yield from chunk.run(pending, batch, seen, known, ctx.advance, batch_records)
                pending, size = [], 0
        yield from chunk.run(pending, batch, seen, known, ctx.advance, batch_records)
        yield from batch.build()
        ctx.advance(total)


def read_records(path: Path, ctx: ReadContext, *,
                 batch_records: int = BATCH_RECORDS) -> Iterator[pa.RecordBatch | Reject]:  # fmt: skip
    """`read`, decoding every record on its own (`Batch.add`): slower, and the definition of what `read` gives."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        log, batch = _start(fh, path, ctx)
        seen: dict[bytes, list[bytes]] = {}
        for item in container.buffers(fh, total, log):
            if isinstance(item, Reject):
                yield item
                continue
            offset, data = item
            yield from batch.add_walked(*container.walk(data, offset, seen))  # type: ignore[arg-type]
            if batch.size >= batch_records:
                yield from batch.build()
                ctx.advance(offset + len(data))
        yield from batch.build()
        ctx.advance(total)
