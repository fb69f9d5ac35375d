"""The small surface every input format shares.

A format module exposes `NAME`, `DESCRIPTION`, `sniff(head, path) -> bool` and
`read(path, ctx) -> Iterator[pa.RecordBatch | Reject]`. Batches hold case columns (`swk.store.schema`) except
`event_id`, `source_file` and `source_format`, which the writer fills; a reader may leave `host` unset. Before the
first record is accepted, "not this format" raises `WrongFormat`; after that, a damaged record becomes a `Reject`
and reading goes on.

A format whose inputs are often many and small (EVTX) may also expose `read_many(paths, ctxs)` for inputs up to
its `MANY_UP_TO` bytes: the same rows and rejects as `read` of each, but batches shared by several inputs, each
batch given with [(input position, rows), ...] and each reject with its input's position (`swk ingest` uses it for
runs of such inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import pyarrow as pa

from swk.store.reject import Reject
from swk.store.schema import EVENTS

__all__ = ["ReadContext", "Reader", "Reject", "rows_to_batch"]


@dataclass
class ReadContext:
    """What a reader may know and report besides rows: options, skipped lines, warnings, progress."""

    host: str | None = None
    boot_time: datetime | None = None  # wall-clock time of QPC 0, for IOCTL records
    qpc_frequency: int = 10_000_000
    progress: Callable[[int], None] | None = None  # bytes consumed so far
    skipped: int = 0  # lines/records that are not this format's and were passed over
    warnings: list[str] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)  # format facts for the manifest (e.g. record layout)

    def skip(self, count: int = 1) -> None:
        """Count input that is not ours (e.g. a status line) and was passed over on purpose."""
        self.skipped += count

    def warn(self, message: str) -> None:
        """Keep a warning for the manifest and stderr (deduplicated)."""
        if message not in self.warnings:
            self.warnings.append(message)

    def advance(self, done: int) -> None:
        """Report progress in bytes."""
        if self.progress is not None:
            self.progress(done)


class Reader(Protocol):
    """The module surface of an input format."""

    NAME: str
    DESCRIPTION: str

    def sniff(self, head: bytes, path: Path) -> bool: ...

    def read(self, path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]: ...


def rows_to_batch(rows: Iterable[dict[str, object]]) -> pa.RecordBatch:
    """Build a batch from dict rows (for text readers); only the columns the rows use, typed by the schema."""
    rows = list(rows)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    arrays = [pa.array([row.get(name) for row in rows], type=EVENTS.field(name).type) for name in names]
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def line_blocks(stream: BinaryIO, size: int) -> Iterator[tuple[bytes, int, int]]:
    """A line-oriented stream as blocks of whole lines, read `size` bytes at a time.

    Each block is (its lines without the final newline, the number of its first line, the bytes of the stream
    consumed through it, that newline included). A last line with no newline comes as a block of its own: the file
    may have been cut, but the line may still be whole.
    """
    first, consumed, carry = 1, 0, b""
    while data := stream.read(size):
        data = carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        block, carry = data[:cut], data[cut + 1 :]
        consumed += cut + 1
        yield block, first, consumed
        first += block.count(b"\n") + 1
    if carry:
        yield carry, first, consumed + len(carry)
