"""Windows event logs exported as JSON lines: one event object per line, plain, gzipped, or in a zip (one or more
members), as the OTRF Security-Datasets ship them.

Accepted shapes (`events.from_flat`): OTRF/NXLog flat objects (`Channel`, `EventID`, `Hostname`, EventData fields at
top level), Winlogbeat (`winlog.event_data`), and `evtx_dump -o jsonl` (`{"Event": ...}`). A line that is JSON but not
a Windows event (no event id, or no channel/provider) is skipped and counted; a line that is not JSON is a reject
with its line number. Line numbers count within a zip member; the member's name goes into the reject reason, into
the manifest (`info.zip_members`), and, when the zip has several members, into each row's `fields_json` as
`swk_member`. Otherwise `fields_json` is the line itself: the exporter's raw values, untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from swk.capture.base import ReadContext, Reject, line_blocks
from swk.capture.sysmon.containers import DAMAGE, GZIP, ZIP, members, read_up_to
from swk.capture.sysmon.events import from_flat
from swk.capture.sysmon.parallel import Part, ordered
from swk.capture.sysmon.rows import Rows, Stats
from swk.errors import WrongFormat

NAME = "winlog-jsonl"
DESCRIPTION = "Windows event logs as JSON lines (OTRF, NXLog, Winlogbeat, evtx_dump): plain, .gz or .zip members"
BLOCK = 8 << 20  # lines per unit of work (~4,000 OTRF events): a batch per unit, so not much smaller
SNIFF_LINES = 20
SNIFF_BYTES = 1 << 20
# Lines read without finding one Windows event before the input is judged to be something else.
FIRST_EVENT_WITHIN = 10_000
PARALLEL_BYTES = 16 << 20  # from 16 MiB of text on (two blocks or more), blocks are decoded in worker processes
_scan = json.JSONDecoder().scan_once


def sniff(head: bytes, path: Path) -> bool:
    """A Windows event among the first lines (of the first zip member, or of the gzip stream)."""
    try:
        data, whole = _head(head, path)
    except (OSError, RuntimeError, *DAMAGE):
        return False
    lines = data.split(b"\n")
    if not whole:
        lines.pop()  # cut short by the sniff window: not a line to judge
    for line in lines[:SNIFF_LINES]:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            return False
        if isinstance(obj, dict):
            if obj.get("source") == "sleepwalker-client":  # Sleepwalker's own client JSONL has its own reader
                return False
            if from_flat(obj) is not None:
                return True
    return False


def _head(head: bytes, path: Path) -> tuple[bytes, bool]:
    """The first bytes of the text inside the container (up to SNIFF_BYTES, or up to damage), and whether that is
    all of it."""
    if head[:4] == ZIP or head[:2] == GZIP:
        for member in members(path, ReadContext()):  # the first member that looks like JSON lines
            return read_up_to(member.stream, SNIFF_BYTES)
        return b"", True
    if b"\n" not in head:  # one long first line: look further than ingest's sniff window
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    return head, len(head) == path.stat().st_size


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Every line of every member, in order: events become rows, damaged lines rejects."""
    stats = Stats()
    held: list[pa.RecordBatch | Reject] = []  # rejects before the first event: kept only if an event follows
    accepted = False
    seen = 0  # non-event lines before the first event
    damaged: Reject | None = None  # the last damage met before the first event
    for member in members(path, ctx):
        damage: list[Reject] = []
        blocks = _blocks(member.stream, member.name, member.several, damage)
        for part in ordered(decode_lines, blocks, parallel=member.size >= PARALLEL_BYTES):
            ctx.skip(part.skipped)
            for message in part.warnings:
                ctx.warn(message)
            stats.merge(part.stats)
            if not accepted:
                if seen + len(part.leading) >= FIRST_EVENT_WITHIN:
                    line = part.leading[FIRST_EVENT_WITHIN - seen - 1]
                    raise WrongFormat(path, line, f"no Windows event in the first {FIRST_EVENT_WITHIN} lines",
                                      line=True)  # fmt: skip
                seen += len(part.leading)
                held.extend(part.items)
                if not part.accepted:
                    continue
                accepted = True
                yield from held
                held.clear()
                continue
            yield from part.items
        for reject in damage:
            ctx.warn(reject.reason)
            if accepted:
                yield reject
            else:
                held.append(reject)
                damaged = reject
    if not accepted:
        if damaged is not None:
            raise WrongFormat(path, damaged.offset, f"no Windows event before the damage: {damaged.reason}",
                              line=True)  # fmt: skip
        raise WrongFormat(path, None, "no Windows event (an object with an EventID and a Channel or provider) in it")
    for message in stats.warnings("exporter's time (TimeCreated/@timestamp)"):
        ctx.warn(message)


def decode_lines(block: bytes, first: int, member: str | None, several: bool) -> Part:
    """Rows, rejects and skips of a block of whole lines numbered from `first` (a unit of work for `parallel`)."""
    rows = Rows(unescape=True, system_clock="export-time")
    if member is not None and several:  # with one member, the manifest names it (ctx.info) and rows need not
        rows.json_prefix = b'"swk_member":' + json.dumps(member).encode() + b","
    where = f"member {member} " if member is not None else ""
    part = Part()
    rejects: list[Reject] = []
    for number, line in enumerate(block.split(b"\n"), start=first):
        line = line.strip()
        if not line:
            part.skipped += 1
            continue
        obj = _loads(line)
        if isinstance(obj, UnicodeDecodeError):  # keep the event, with U+FFFD where bytes are not UTF-8
            line = line.decode("utf-8", "replace").encode()
            part.warnings.append(f"{where}line {number}: not UTF-8; undecodable bytes replaced with U+FFFD")
            obj = _loads(line)
        if isinstance(obj, ValueError):
            rejects.append(Reject(number, f"{where}line {number}: not JSON: {obj}", line[:64], len(line)))
            event = None
        else:
            event = from_flat(obj) if type(obj) is dict else None
            part.skipped += event is None
        if event is None:
            if not part.accepted and len(part.leading) < FIRST_EVENT_WITHIN:
                part.leading.append(number)
            continue
        part.accepted = True
        rows.add(event[:-1], event[-1], number, line)
        if rows.full:
            _flush(part, rows, rejects)
    _flush(part, rows, rejects)
    part.stats = rows.stats
    return part


def _blocks(stream: BinaryIO, member: str | None, several: bool,
            damage: list[Reject]) -> Iterator[tuple[bytes, int, str | None, bool]]:  # fmt: skip
    """Tasks for `decode_lines`: blocks of whole lines (no trailing newline) with their first line's number. A
    compressed stream that is damaged or cut short ends at the damage, which goes into `damage` as a reject at the
    first line not read (with the bytes of text read before it)."""
    last: tuple[bytes, int, int] = (b"", 0, 0)  # the last block handed out
    try:
        for last in line_blocks(stream, BLOCK):
            yield last[0], last[1], member, several
    except DAMAGE as exc:
        block, first, consumed = last
        line = first + block.count(b"\n") + 1 if first else 1
        where = f"member {member} " if member is not None else ""
        damage.append(Reject(line, f"{where}line {line}: the compressed text is damaged or cut short after "
                                   f"{consumed:,} bytes ({exc}); nothing after it can be read", b"", 0))  # fmt: skip


def _loads(line: bytes) -> object:
    """json.loads of a stripped line, with a parse error returned rather than raised.

    A line that is UTF-8 and one JSON value goes straight to json's C scanner (json.loads would first guess the
    encoding and skip whitespace); any other line takes json.loads itself, so its result and its error are
    json.loads's own (a BOM, UTF-16, surrogates it lets through, trailing data).
    """
    try:
        text = line.decode()
        obj, end = _scan(text, 0)
        if end == len(text):
            return obj
    except (ValueError, StopIteration):
        pass
    try:
        return json.loads(line)
    except ValueError as exc:
        return exc


def _flush(part: Part, rows: Rows, rejects: list[Reject]) -> None:
    """Rejects and rows queued so far into the part, rejects first (they are fewer and mostly earlier)."""
    part.items.extend(rejects)
    rejects.clear()
    batch = rows.flush()
    if batch is not None:
        part.items.append(batch)
