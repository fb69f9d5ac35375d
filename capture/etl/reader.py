"""Input format `etl`: ETW trace files (logman, tracelog, WPR, xperf), from the Sleepwalker.Kernel provider or any other.

Sleepwalker TraceLogging events land in their families (spec 2.2, `swk.kernel.etw`), Threat-Intelligence events in
`ti`, NT Kernel Logger process/thread/image events in `process`/`thread`/`image`, and every other record as a
`generic` row (provider, event name where known, descriptor, decoded fields or a hex preview in `fields_json`).
Times are the logfile's clock converted to UTC with the logfile header (QPC via PerfFreq from StartTime, or system
time), so rows match what a real-time consumer sees (FILETIME, `clock='filetime'`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.etl import container
from swk.capture.etl.rows import Batch

NAME = "etl"
DESCRIPTION = "ETW trace files (.etl): Sleepwalker.Kernel TraceLogging, Threat-Intelligence, NT Kernel Logger, others"
BATCH_RECORDS = 65_536
HEAD_BYTES = 4096


def sniff(head: bytes, path: Path) -> bool:
    """A WMI_BUFFER_HEADER whose first record is the TRACE_LOGFILE_HEADER."""
    return container.sniff(head)


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Every record of every buffer, in file order, a batch of rows at a time; rejects where the file is damaged."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        log = container.read_logfile(fh.read(HEAD_BYTES), path)
        for warning in log.warnings:
            ctx.warn(warning)
        ctx.info.update(log.info())
        batch = Batch(log, ctx.warn)
        seen: dict[bytes, list[bytes]] = {}
        for item in container.buffers(fh, total, log):
            if isinstance(item, Reject):
                yield item
                continue
            offset, data = item
            records, broken = container.walk(data, offset, seen)
            for rec in records:
                rejected = batch.add(rec)
                if rejected is not None:
                    yield rejected
            if broken is not None:
                yield broken
            if batch.size >= BATCH_RECORDS:
                yield from batch.build()
                ctx.advance(offset + len(data))
        yield from batch.build()
        ctx.advance(total)
