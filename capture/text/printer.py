"""Reader of the ETW printer's console blocks (spec 4.5): every family, `[ETW-TI]`, `(no formatter)` events and
the registry suppression summary (one row per suppressed OPEN_KEY, with no time: the printer printed none).

Rows carry what the blocks print (see `swk.capture.text.printer_blocks`); any other line is skipped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.text import printer_blocks as blocks
from swk.capture.text.lines import Cursor, batched, check_format, numbered_lines, sniff_with

NAME = "printer"
DESCRIPTION = "Sleepwalker ETW printer blocks ([HANDLE]/[THREAD]/... with Meta lines, [ETW-TI]; spec 4.5)"
_MARK = re.compile(r"Meta   event=.* pid=\d+ tid=\d+ cpu=\d+ lvl=\d+ op=\d+ ver=\d+ ts=0x[0-9A-F]{16} dt=0x")


def sniff(head: bytes, path: Path) -> bool:
    """A printer `Meta` line in the head."""
    return sniff_with(head, _MARK)


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Rows and rejects of every printer block, in file order."""
    check_format(path, sniff, "ETW printer output (a `Meta   event=` line)")
    yield from batched(_items(Cursor(numbered_lines(path, ctx)), ctx))


def _items(cursor: Cursor, ctx: ReadContext) -> Iterator[dict[str, Any] | Reject]:
    state = blocks.State()
    for item in cursor:
        if not item[1]:
            continue
        out = blocks.consume(cursor, item, state)
        if out is None:
            ctx.skip()
        else:
            yield from out
