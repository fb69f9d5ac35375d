"""The text of a JSON-lines export inside its container: a plain file, a gzip stream, or the members of a zip.

Downloads get cut short and archives get damaged. gzip and zipfile raise partway through such a stream, after they
have handed out the text before the damage, and zipfile cannot open an archive at all without the central directory
at its end. So every stream here is read as far as it goes: the lines before the damage are read like any others,
and the reader turns the damage (`DAMAGE`) into one reject at the line where reading stopped. An archive without a
readable central directory is read from its members' local headers instead, as `zip -FF` salvages one; those
members' rows always name their member in `fields_json` (`several`), as nothing says how many there were.
"""

from __future__ import annotations

import functools
import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from swk.capture.base import ReadContext

ZIP, GZIP = b"PK\x03\x04", b"\x1f\x8b"
GZIP_RATIO = 8  # a gzipped export's text is about this many times its size (to choose before reading it)
PIECE = 1 << 16
# What reading a damaged or cut compressed stream raises (BadGzipFile is an OSError: other OSErrors are not damage).
DAMAGE = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile)
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # a zip local file header
_UTF8_NAME, _SIZES_AFTER = 0x800, 0x8  # general purpose flags: UTF-8 name; sizes in a descriptor after the data


@dataclass
class Member:
    """One text stream of an input."""

    name: str | None  # the zip member's name; None for a plain or gzip file
    stream: BinaryIO
    several: bool  # a zip of several members (rows then name theirs)
    size: int  # about how many bytes of text


def members(path: Path, ctx: ReadContext) -> Iterator[Member]:
    """Each text stream of the input, open while it is being read."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == ZIP:
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            ctx.warn(f"the zip archive has no readable central directory ({exc}; cut short?): its members are read "
                     "from their local headers, as far as they go")  # fmt: skip
            yield from _salvaged(path, ctx)
        else:
            with archive:
                yield from _zipped(archive, ctx)
    elif magic[:2] == GZIP:
        with gzip.open(path, "rb") as stream:
            yield Member(None, UpToDamage(stream), False, path.stat().st_size * GZIP_RATIO)  # type: ignore[arg-type]
    else:
        with path.open("rb") as stream:
            yield Member(None, stream, False, path.stat().st_size)
    ctx.advance(path.stat().st_size)


def _zipped(archive: zipfile.ZipFile, ctx: ReadContext) -> Iterator[Member]:
    infos = [info for info in archive.infolist() if not info.is_dir()]
    ctx.info["zip_members"] = [info.filename for info in infos]
    for info in infos:
        with archive.open(info) as stream:
            if not _json_lines(stream, info.filename, ctx):
                continue
        with archive.open(info) as stream:
            yield Member(info.filename, UpToDamage(stream), len(infos) > 1, info.file_size)
        ctx.advance(info.header_offset + info.compress_size)


def _salvaged(path: Path, ctx: ReadContext) -> Iterator[Member]:
    """Members from their local headers, one after another, until one cannot be followed to its end."""
    names: list[str] = []
    ctx.info["zip_members"] = names
    with path.open("rb") as fh:
        offset = 0
        while True:
            fh.seek(offset)
            header = fh.read(_LOCAL.size)
            if len(header) < _LOCAL.size or header[:4] != ZIP:
                return
            _sig, _version, flags, method, _time, _date, _crc, csize, _usize, name_len, extra_len = _LOCAL.unpack(
                header
            )
            name = fh.read(name_len).decode("utf-8" if flags & _UTF8_NAME else "cp437", "replace")
            start = offset + _LOCAL.size + name_len + extra_len
            names.append(name)
            if method == zipfile.ZIP_DEFLATED:
                opened: Callable[[], _Inflated | _Stored] = functools.partial(_Inflated, fh, start)
            elif method == zipfile.ZIP_STORED and not flags & _SIZES_AFTER and csize != 0xFFFFFFFF:
                opened = functools.partial(_Stored, fh, start, csize)
            else:
                ctx.warn(f"member {name}: compression method {method} cannot be read without the central directory; "
                         "reading stops there")  # fmt: skip
                return
            stream = opened()
            if not name.endswith("/") and _json_lines(stream, name, ctx):  # type: ignore[arg-type]
                stream = opened()
                yield Member(name, UpToDamage(stream), True, path.stat().st_size * GZIP_RATIO)  # type: ignore[arg-type]
            end = stream.end()  # where the member's data ends, read on from where its reader stopped (None: never)
            if end is None:
                return
            offset = end
            if flags & _SIZES_AFTER:  # a data descriptor follows (its length varies): the next header is after it
                fh.seek(end)
                found = fh.read(28).find(ZIP)
                if found < 0:
                    return
                offset += found
            ctx.advance(offset)


def _json_lines(stream: BinaryIO, name: str, ctx: ReadContext) -> bool:
    """Whether a member's text starts like JSON lines; one that does not is skipped, counted and warned of. (Damage
    in its head is not judged here: it is reported where the member is read.)"""
    head, _whole = read_up_to(stream, 4096)
    if head.lstrip()[:1] in (b"{", b""):
        return True
    ctx.skip()
    ctx.warn(f"member {name}: not JSON lines, skipped")
    return False


class _Inflated(io.RawIOBase):
    """A deflated member's text, inflated from the archive as it is read; the end of the data is found by inflating."""

    def __init__(self, fh: BinaryIO, start: int) -> None:
        self.fh, self.at = fh, start
        self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending and not self.inflate.eof:
            self.fh.seek(self.at)
            data = self.fh.read(PIECE)
            if not data:
                raise EOFError("the member's compressed data ends before its end marker (the archive is cut short)")
            self.at += len(data)
            self.pending = self.inflate.decompress(data)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def end(self) -> int | None:
        """Where the member's data ends in the archive (None: it never ended)."""
        try:
            while self.read(PIECE):
                pass
        except DAMAGE:
            return None
        return self.at - len(self.inflate.unused_data)


class _Stored(io.RawIOBase):
    """A stored (uncompressed) member of known size."""

    def __init__(self, fh: BinaryIO, start: int, size: int) -> None:
        self.fh, self.at, self.left, self.stop = fh, start, size, start + size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self.left:
            return 0
        self.fh.seek(self.at)
        data = self.fh.read(min(len(buffer), self.left))
        if not data:
            raise EOFError("the member's data ends before its stated size (the archive is cut short)")
        buffer[: len(data)] = data
        self.at += len(data)
        self.left -= len(data)
        return len(data)

    def end(self) -> int | None:
        return self.stop if self.stop <= self.fh.seek(0, io.SEEK_END) else None


class UpToDamage(io.RawIOBase):
    """A compressed stream read in pieces, so a read that meets damage returns the text before it; the damage is
    raised by the next read. (One large read of a gzip or zip stream raises and drops all it had inflated.)"""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        # read1: one inflate step at a time (gzip, zip members), so damage costs no text inflated before it
        self._piece = getattr(stream, "read1", stream.read)
        self.damage: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.damage is not None:
            raise self.damage
        pieces: list[bytes] = []
        got = 0
        while size < 0 or got < size:
            try:
                piece = self._piece(PIECE if size < 0 else min(PIECE, size - got))
            except DAMAGE as exc:
                self.damage = exc
                if not pieces:
                    raise
                break
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)


def read_up_to(stream: BinaryIO, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of a stream, fewer when it is damaged; and whether they are all of it (it ended cleanly)."""
    careful = UpToDamage(stream)
    try:
        data = careful.read(limit)
    except DAMAGE:
        return b"", False
    return data, careful.damage is None and len(data) < limit
