"""Rolling Parquet parts for a capture that never ends by itself: a new part every N events or every T seconds.

A thin layer over `CaseWriter(partitioned=True)`, which already writes each part to a temporary sibling and moves
it into place with `os.replace`, with the run's cumulative manifest (rows, families, inputs, the parts so far) in
its footer. Parts close only here (never by the writer's own size limit), and always all together, so at every
moment the parts on disk hold exactly the rows their newest manifest counts: a kill loses the part being filled
and nothing else. With a count limit a batch is split at the limit, so every part but the last holds exactly N.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.store.manifest import InputStats
from swk.store.reject import Reject
from swk.store.writer import CaseWriter

_NEVER = 1 << 62
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_rotate(text: str) -> tuple[float | None, int | None]:
    """`60s`, `5m`, `1h` -> (seconds, None); `1e6`, `250000` -> (None, events)."""
    text = text.strip().lower()
    if m := _DURATION.match(text):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
        if seconds > 0:
            return seconds, None
    else:
        try:
            count = float(text)
        except ValueError:
            count = 0.0
        if count >= 1 and count == int(count):
            return None, int(count)
    raise ValueError(f"{text!r}: give a duration (60s, 5m, 1h) or an event count (1e6, 250000)")


class RollingWriter:
    """Writes a capture's rows and closes parts by count or by time."""

    def __init__(self, path: Path, host: str, *, rotate_seconds: float | None = None, rotate_events: int | None = None,
                 clock: Callable[[], float] = time.monotonic, first_event_id: int = 1,
                 extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.writer = CaseWriter(path, partitioned=True, command="capture", default_host=host,
                                 first_event_id=first_event_id, part_rows=_NEVER, extra=extra)  # fmt: skip
        self.rotate_seconds, self.rotate_events, self.clock = rotate_seconds, rotate_events, clock
        self.since = clock()
        self.pending = 0  # rows since the last rotation
        self.parts = 0
        self.bytes_written = 0

    def write(self, batch: pa.RecordBatch, stats: InputStats) -> None:
        """Append rows of one input, rotating at the count limit (inside the batch if need be)."""
        while batch.num_rows:
            room = self.rotate_events - self.pending if self.rotate_events else batch.num_rows
            head, batch = batch.slice(0, room), batch.slice(room)
            self.writer.write(head, stats)
            self.pending += head.num_rows
            if self.rotate_events and self.pending >= self.rotate_events:
                self.rotate()

    def reject(self, rej: Reject, stats: InputStats) -> None:
        """Keep a rejected record as a reject row."""
        self.writer.reject(rej, stats)
        self.pending += 1
        if self.rotate_events and self.pending >= self.rotate_events:
            self.rotate()

    def tick(self) -> None:
        """Rotate when the time limit has passed and rows are waiting (an idle capture makes no empty parts)."""
        if self.rotate_seconds and self.pending and self.clock() - self.since >= self.rotate_seconds:
            self.rotate()

    def rotate(self) -> list[Path]:
        """Close the open parts now."""
        closed = self.writer.rotate()
        self.parts += len(closed)
        self.bytes_written += sum(p.stat().st_size for p in closed)
        self.pending, self.since = 0, self.clock()
        return closed

    def close(self) -> dict[str, Any]:
        """Flush and close the last part; returns the run's manifest."""
        manifest = self.writer.commit()
        self.parts = len(manifest["parts"])
        self.bytes_written = sum((self.writer.path / p).stat().st_size for p in manifest["parts"])
        return manifest

    def abort(self) -> None:
        """Drop the part being filled; committed parts stay."""
        self.writer.abort()
