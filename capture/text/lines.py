"""Reading Sleepwalker's text logs: numbered lines, blocks, rows to batches, rejects with line numbers.

Console captures come as UTF-8 (with or without BOM) or, when redirected by PowerShell, UTF-16LE with a BOM; bytes
that do not decode become U+FFFD. Lines end at `\\n` only (a CR before it is dropped), so a CR inside a printed
value does not split a line. A block is its title line plus the lines after it up to an empty line or the next
line that starts a block or is a status line; a block that does not parse is one reject at its title's line.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.base import ReadContext, Reject, rows_to_batch
from swk.errors import WrongFormat

BATCH_ROWS = 8192
SNIFF_LINES = 2000
# Appended to a last line that has no line end: the file was cut inside it, so no pattern may match it (the printers
# end every line they print with one).
CUT = "\uffff"


class DamagedError(ValueError):
    """A block or line of our format that cannot be decoded (becomes a reject, reading goes on)."""


def _encoding(head: bytes) -> tuple[str, int]:
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    return "utf-8", 0


def head_lines(head: bytes) -> list[str]:
    """The complete lines of a file's first bytes, decoded like `numbered_lines` does (for sniffing)."""
    encoding, bom = _encoding(head)
    text = head[bom:].decode(encoding, errors="replace")
    lines = text.split("\n")
    if len(lines) > 1:
        lines.pop()  # the last one may be cut by the sniff window
    return [line[:-1] if line.endswith("\r") else line for line in lines[:SNIFF_LINES]]


def sniff_with(head: bytes, pattern: re.Pattern[str]) -> bool:
    """True when some line of the head matches `pattern` and the head is text (no NUL in the first KiB)."""
    if b"\x00" in head[:1024] and not head.startswith(codecs.BOM_UTF16_LE):
        return False
    return any(pattern.match(line) for line in head_lines(head))


def numbered_lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line end) for every line of a text file."""
    with path.open("rb") as raw:
        encoding, bom = _encoding(raw.read(4))
        raw.seek(bom)
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="\n")
        for number, line in enumerate(text, 1):
            line = line[:-1] if line.endswith("\n") else line + CUT
            if line.endswith("\r"):
                line = line[:-1]
            if not number & 0x3FFF:
                ctx.advance(raw.tell())
            yield number, line
        ctx.advance(raw.tell())


def check_format(path: Path, sniff: Callable[[bytes, Path], bool], what: str) -> None:
    """`WrongFormat` unless the file's head looks like `what` (readers call this before reading anything).

    An empty file passes: it holds no lines, so nothing in it belongs to another format (a test suite or client
    that saw no record writes nothing).
    """
    with path.open("rb") as fh:
        head = fh.read(65_536)
    if head and not sniff(head, path):
        raise WrongFormat(path, 1, f"no line in the first 64 KiB looks like {what}", line=True)


class Cursor:
    """Numbered lines with one line of look-ahead, so a block can stop at the line that does not belong to it."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self.lines = lines
        self.ahead: tuple[int, str] | None = None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self

    def __next__(self) -> tuple[int, str]:
        if self.ahead is not None:
            item, self.ahead = self.ahead, None
            return item
        return next(self.lines)

    def span(self, title: tuple[int, str], ends: Callable[[str], bool]) -> list[tuple[int, str]]:
        """The title line and the lines after it up to (not including) an empty line or a line `ends` accepts."""
        out = [title]
        for item in self.lines:
            if not item[1] or ends(item[1]):
                self.ahead = item
                break
            out.append(item)
        return out


def reject_lines(span: list[tuple[int, str]], reason: str) -> Reject:
    """A reject for a block (or one line): its first line number, the reason, the text it held."""
    raw = "\n".join(text for _, text in span).removesuffix(CUT).encode("utf-8", "replace")
    return Reject(span[0][0], reason, raw, len(raw))


class Block:
    """The lines of one block, consumed in order against the patterns of the block's grammar."""

    def __init__(self, span: list[tuple[int, str]]) -> None:
        self.span, self.i = span, 1

    def take(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        """The next line, which must match `pattern`."""
        if self.i >= len(self.span):
            raise DamagedError(f"block ends before its {what} line")
        number, text = self.span[self.i]
        if text.endswith(CUT):  # free-text patterns (`Cmd    (.*)`) would take a cut value as a whole one
            raise DamagedError(f"line {number}: the file ends inside this line")
        match = pattern.fullmatch(text)
        if match is None:
            raise DamagedError(f"line {number}: expected the {what} line")
        self.i += 1
        return match

    def maybe(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """The next line if it matches `pattern` (consumed), else None."""
        text = self.span[self.i][1] if self.i < len(self.span) else CUT
        if not text.endswith(CUT) and (match := pattern.fullmatch(text)):
            self.i += 1
            return match
        return None

    def end(self) -> None:
        """No line may be left over."""
        if self.i < len(self.span):
            number, _ = self.span[self.i]
            raise DamagedError(f"line {number}: unexpected line in the block")


def batched(items: Iterable[dict[str, Any] | Reject], rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch | Reject]:
    """Row dicts gathered into batches (typed by the case schema); rejects passed through."""
    pending: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Reject):
            yield item
            continue
        pending.append(item)
        if len(pending) >= rows:
            yield rows_to_batch(pending)
            pending = []
    if pending:
        yield rows_to_batch(pending)
