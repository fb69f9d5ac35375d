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

import gzip
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.sysmon.events import from_flat
from swk.capture.sysmon.rows import BATCH_EVENTS, Rows
from swk.errors import WrongFormat

NAME = "winlog-jsonl"
DESCRIPTION = "Windows event logs as JSON lines (OTRF, NXLog, Winlogbeat, evtx_dump): plain, .gz or .zip members"
BLOCK = 4 << 20
SNIFF_LINES = 20
SNIFF_BYTES = 1 << 20
# Lines read without finding one Windows event before the input is judged to be something else.
FIRST_EVENT_WITHIN = 10_000
_ZIP, _GZIP = b"PK\x03\x04", b"\x1f\x8b"


def sniff(head: bytes, path: Path) -> bool:
    """A Windows event among the first lines (of the first zip member, or of the gzip stream)."""
    try:
        data = _head(head, path)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError):
        return False
    for line in data.split(b"\n")[:SNIFF_LINES]:
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


def _head(head: bytes, path: Path) -> bytes:
    """The first bytes of the text inside the container."""
    if head[:4] == _ZIP:
        with zipfile.ZipFile(path) as zf:
            member = next((i for i in zf.infolist() if not i.is_dir()), None)
            if member is None:
                return b""
            with zf.open(member) as fh:
                return fh.read(SNIFF_BYTES)
    if head[:2] == _GZIP:
        return zlib.decompressobj(wbits=31).decompress(head, SNIFF_BYTES)
    return head


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Every line of every member, in order: events become rows, damaged lines rejects."""
    rows = Rows(unescape=True, system_clock="export-time")
    rejects: list[Reject] = []
    accepted = False
    seen = 0  # lines read before the first event
    for member, stream, several in _members(path, ctx):
        yield from _flush(rows, rejects)  # fields_json's member prefix is per batch
        if member is not None and several:  # with one member, the manifest names it (ctx.info) and rows need not
            rows.json_prefix = b'"swk_member":' + json.dumps(member).encode() + b","
        where = f"member {member} " if member is not None else ""
        for number, line in _lines(stream):
            line = line.strip()
            if not line:
                ctx.skip()
                continue
            obj = _loads(line)
            if isinstance(obj, UnicodeDecodeError):  # keep the event, with U+FFFD where bytes are not UTF-8
                line = line.decode("utf-8", "replace").encode()
                ctx.warn(f"{where}line {number}: not UTF-8; undecodable bytes replaced with U+FFFD")
                obj = _loads(line)
            if isinstance(obj, ValueError):
                rejects.append(Reject(number, f"{where}line {number}: not JSON: {obj}", line[:64], len(line)))
                event = None
            else:
                event = from_flat(obj) if type(obj) is dict else None
                if event is None:
                    ctx.skip()
            if event is None:
                if not accepted:
                    seen += 1
                    if seen >= FIRST_EVENT_WITHIN:
                        raise WrongFormat(path, number, f"no Windows event in the first {seen} lines", line=True)
                continue
            accepted = True
            rows.add(event, number, line)
            if len(rows) >= BATCH_EVENTS:
                yield from _flush(rows, rejects)
    if not accepted:
        raise WrongFormat(path, None, "no Windows event (an object with an EventID and a Channel or provider) in it")
    yield from _flush(rows, rejects)
    for message in rows.stats.warnings("exporter's time (TimeCreated/@timestamp)"):
        ctx.warn(message)


def _loads(line: bytes) -> object:
    """json.loads, with a parse error returned rather than raised."""
    try:
        return json.loads(line)
    except ValueError as exc:
        return exc


def _flush(rows: Rows, rejects: list[Reject]) -> Iterator[pa.RecordBatch | Reject]:
    """Rejects and rows queued so far, rejects first (they are fewer and mostly earlier)."""
    yield from rejects
    rejects.clear()
    batch = rows.flush()
    if batch is not None:
        yield batch


def _members(path: Path, ctx: ReadContext) -> Iterator[tuple[str | None, BinaryIO, bool]]:
    """(zip member name or None, byte stream, whether the zip has several) for each text stream of the input."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == _ZIP:
        with zipfile.ZipFile(path) as zf:
            members = [info for info in zf.infolist() if not info.is_dir()]
            ctx.info["zip_members"] = [info.filename for info in members]
            for info in members:
                with zf.open(info) as stream:
                    if stream.read(4096).lstrip()[:1] not in (b"{", b""):
                        ctx.skip()
                        ctx.warn(f"member {info.filename}: not JSON lines, skipped")
                        continue
                with zf.open(info) as stream:
                    yield info.filename, stream, len(members) > 1
                ctx.advance(info.header_offset + info.compress_size)
    elif magic[:2] == _GZIP:
        with gzip.open(path, "rb") as stream:
            yield None, stream, False  # type: ignore[misc]
    else:
        with path.open("rb") as stream:
            yield None, stream, False
    ctx.advance(path.stat().st_size)


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline), reading big blocks."""
    number = 0
    rest = b""
    while block := stream.read(BLOCK):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            yield number, line
    if rest:
        yield number + 1, rest
