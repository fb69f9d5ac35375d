"""Windows event log files (.evtx): Sysmon, Security and any other channel, through pyevtx-rs.

Each 64 KiB chunk is handed to pyevtx-rs on its own (behind a copy of the file header that announces one chunk),
so every record it returns is known to come from that chunk, and the chunk walk (`evtx_chunks`) says which records
it did not return and why: each of those is a reject at its byte offset, with the parser's own message when it gave
one. A damaged record header no longer costs the rest of its chunk, and a chunk cut short by the end of the file
still yields its complete records. `records_json()` is used rather than XML: parsing its JSON with `json.loads` is
as fast as any XML route measured here, and it keeps numbers as numbers.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.sysmon.events import from_evtx_json
from swk.capture.sysmon.evtx_chunks import (
    FILE_HEADER_SIZE,
    FILE_MAGIC,
    Chunk,
    iter_chunks,
    patched,
    single_chunk_header,
)  # fmt: skip
from swk.capture.sysmon.rows import BATCH_EVENTS, Rows
from swk.errors import WrongFormat

NAME = "evtx"
DESCRIPTION = "Windows event logs (.evtx): Sysmon, Security and other channels, mapped to the case's families"
_RECORD_NUMBER = re.compile(r"record number (\d+)")


def sniff(head: bytes, path: Path) -> bool:
    """The EVTX file header magic."""
    return head[:8] == FILE_MAGIC


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Every record of every chunk, in file order; records the parser cannot return are rejects."""
    size = path.stat().st_size
    rows = Rows(unescape=False, system_clock="event-time")
    with path.open("rb") as fh:
        header = fh.read(FILE_HEADER_SIZE)
        if header[:8] != FILE_MAGIC:
            raise WrongFormat(path, 0, f"file header magic {header[:8].hex(' ')}: not an EVTX file (ElfFile)")
        if len(header) < FILE_HEADER_SIZE:
            yield Reject(0, f"EVTX file header: the file ends after {len(header)} of 4096 bytes", header)
            return
        one_chunk = single_chunk_header(header)
        last_id = None
        zeroed: list[Chunk] = []
        for chunk in iter_chunks(fh, size):
            if chunk.state == "empty":
                zeroed.append(chunk)
                continue
            if zeroed and last_id is not None and chunk.first_id not in (0, last_id + 1):
                ctx.warn(f"chunks {zeroed[0].index}..{zeroed[-1].index} are all zero and record ids "
                         f"{last_id + 1}..{chunk.first_id - 1} are not in the file")  # fmt: skip
            zeroed = []
            rejects = _chunk(chunk, one_chunk, rows, ctx)
            last_id = chunk.last_id or last_id
            if rejects or len(rows) >= BATCH_EVENTS:
                batch = rows.flush()  # rows queued so far go first, so event ids follow the file
                if batch is not None:
                    yield batch
                yield from rejects
            ctx.advance(chunk.offset + len(chunk.data))
    batch = rows.flush()
    if batch is not None:
        yield batch
    for message in rows.stats.warnings("event log's TimeCreated"):
        ctx.warn(message)


def _chunk(chunk: Chunk, one_chunk: bytes, rows: Rows, ctx: ReadContext) -> list[Reject]:
    """Queue the chunk's records as rows; return rejects for what could not be read."""
    where = f"chunk {chunk.index}"
    if chunk.state == "bad":
        return [Reject(chunk.offset, f"{where}: {chunk.reason}; no record can be read from it", chunk.data[:64],
                       len(chunk.data))]  # fmt: skip
    returned, messages = _parse(one_chunk + patched(chunk))
    pending: dict[int, list[int]] = {}  # record id -> walk indexes not yet matched (ids repeat in dirty files)
    for i, record in enumerate(chunk.records):
        pending.setdefault(record.record_id, []).append(i)
    matched = [False] * len(chunk.records)
    rejects: list[Reject] = [Reject(g.offset, g.reason, chunk.data[g.offset - chunk.offset:][:64], g.length)
                             for g in chunk.gaps]  # fmt: skip
    for record_id, data in returned:
        slots = pending.get(record_id)
        if not slots:
            if record_id == 0:  # the stand-in record of a patched gap: already rejected as that gap
                continue
            offset = chunk.offset
            ctx.warn(f"{where}: the parser returned record {record_id}, which the chunk walk did not find")
        else:
            index = slots.pop(0)
            matched[index] = True
            offset = chunk.records[index].offset
        try:
            element = json.loads(data).get("Event")
        except (ValueError, AttributeError) as exc:
            element, problem = None, f"its JSON does not parse ({exc})"
        else:
            problem = "no System/EventID in it"
        event = from_evtx_json(element)
        if event is None:
            rejects.append(Reject(offset, f"{where}: record {record_id}: {problem}", data.encode()[:64]))
            continue
        rows.add(event, offset, _fields_json(data, element).encode())  # type: ignore[arg-type]
    for record, done in zip(chunk.records, matched, strict=True):
        if not done:
            why = messages.get(record.record_id, "the EVTX parser did not return it")
            raw = chunk.data[record.offset - chunk.offset :][:64]
            rejects.append(Reject(record.offset, f"{where}: record {record.record_id}: {why}", raw, record.size))
    return sorted(rejects, key=lambda r: r.offset)


def _fields_json(data: str, event: dict[str, object]) -> str:
    """The event's data element (EventData, UserData, ...) as pyevtx-rs wrote it, sliced out of the record's JSON:
    it is the last element of `Event`, and its key's first occurrence is its own (System holds no such key)."""
    last = next(reversed(event), None)
    if last not in (None, "System", "#attributes") and data.endswith("}}"):
        at = data.find(f'"{last}":')
        if at > 0:
            return data[at + len(last) + 3 : -2]
    return "{}"


def _parse(one_chunk_file: bytes) -> tuple[list[tuple[int, str]], dict[int, str]]:
    """pyevtx-rs over a one-chunk file: (record id, JSON text) pairs, and its message per failed record id."""
    from evtx import PyEvtxParser

    parser = PyEvtxParser(io.BytesIO(one_chunk_file), number_of_threads=1, indent=False, skip_errors=True)
    messages: dict[int, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out: list[tuple[int, str]] = []
        try:
            for record in parser.records_json():
                out.append((record["event_record_id"], record["data"]))
        except RuntimeError as exc:  # skip_errors turns record errors into warnings; anything else ends the chunk
            caught.append(warnings.WarningMessage(str(exc), RuntimeWarning, "", 0))
    for warning in caught:
        text = str(warning.message).removeprefix("Skipping EVTX data: RuntimeError: ")
        found = _RECORD_NUMBER.search(text)
        if found:
            messages[int(found.group(1))] = text
    return out, messages
