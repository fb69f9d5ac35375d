"""The capture loop: items from every source, decoded as `swk ingest` decodes them, into rolling parts.

One consumer (the caller's thread) owns the writer, stderr and the exit status; sources only hand over bytes.
IOCTL records go through the vectorised record decoder with offsets counted along the channel's stream (the byte
offset the record would have in a file of everything captured on that channel), so a recorded capture equals
`swk ingest` of the same bytes row for row. Stopping (Ctrl-C, service stop, a source failing) lets every source
hand over what it holds, then closes the last part; a failed source still leaves a complete case, and is reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from swk.capture import ioctl
from swk.capture.base import rows_to_batch
from swk.capture.live import uplink
from swk.capture.live.health import Health
from swk.capture.live.items import Counters, Done, EtwEvents, Inbox, Note, Records, Uplink
from swk.capture.live.rolling import RollingWriter
from swk.capture.live.sources import Source
from swk.errors import CaseError, SwkError
from swk.kernel.clock import iso
from swk.store.manifest import InputStats
from swk.store.reader import open_case
from swk.store.reject import Reject

ETW_DECODE_EVENTS = 8192  # live ETW events decoded and written together when that many are already queued


class CaptureFailedError(SwkError):
    """A source stopped with an error; the case holds what was captured until then."""


@dataclass
class LoopOptions:
    """Where and how the loop writes."""

    output: Path
    host: str
    rotate_seconds: float | None = 60.0
    rotate_events: int | None = None
    health_seconds: float = 5.0
    queue_events: int = 65_536  # events waiting between sources and the loop (~50 MB of records)
    qpc_frequency: int = 10_000_000
    boot_ns: int | None = None  # Unix ns of QPC 0; None: unknown, IOCTL times are uptime (as `swk ingest`)
    clock_basis: str = "given"
    own_etw: bool = False  # swk's own ETW session receives the kernel's detections (uplink copies are dropped)
    extra: dict[str, Any] = field(default_factory=dict)


def first_event_id(output: Path) -> int:
    """1, or one past the highest event id of the case already in `output` (a capture may append to a case)."""
    if output.exists() and not output.is_dir():
        raise CaseError(f"{output}: is a file; a capture writes a directory case", hint="name a new or case directory")
    if output.is_dir() and any(output.rglob("*.parquet")):
        return open_case(output).max_event_id() + 1
    return 1


class CaptureLoop:
    """Runs sources into a case until they end or `stop()` is called."""

    def __init__(self, sources: Sequence[Source], options: LoopOptions, *, say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.sources, self.options, self.say, self.clock = list(sources), options, say, clock
        self.inbox = Inbox(options.queue_events)
        self.stop_event = threading.Event()
        self.inputs: dict[str, InputStats] = {}
        self.offsets: dict[str, int] = {}
        self.errors: list[str] = []

    def stop(self) -> None:
        """Ask every source to finish; the loop then drains and closes the case (safe from any thread)."""
        self.stop_event.set()

    def run(self) -> dict[str, Any]:
        """Capture until every source has ended; returns the case manifest."""
        opts = self.options
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = {**opts.extra, "capture": {**opts.extra.get("capture", {}), "host": opts.host, "started_utc": started,
                                           "sources": [s.name for s in self.sources]}}  # fmt: skip
        writer = RollingWriter(opts.output, opts.host, rotate_seconds=opts.rotate_seconds,
                               rotate_events=opts.rotate_events, clock=self.clock,
                               first_event_id=first_event_id(opts.output), extra=extra)  # fmt: skip
        writer.writer.set_clock({"qpc_frequency": opts.qpc_frequency, "basis": opts.clock_basis,
                                 "boot_time": iso(opts.boot_ns) if opts.boot_ns is not None else None})  # fmt: skip
        self._open_all()
        for source in self.sources:
            for ch in source.channels:
                self.inputs[ch.key] = writer.writer.begin_input(ch.path, ch.format, host=opts.host)
                self.offsets[ch.key] = 0
        health = Health(opts.health_seconds, self.clock, self.say)
        running = len(self.sources)
        try:
            for source in self.sources:
                source.start(self.inbox.put, self.stop_event)
            while running:
                item = self.inbox.get(timeout=0.2)
                if isinstance(item, Done):
                    running -= 1
                    if item.error is not None:
                        self._failed(item)
                elif item is not None:
                    self._handle(item, writer)
                writer.tick()
                health.tick(lambda: self._sample(writer))
        except BaseException:
            self.stop()
            writer.abort()
            raise
        writer.writer.meta["extra"]["capture"]["stopped_utc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        manifest = writer.close()
        if self.errors:
            raise CaptureFailedError(f"capture stopped: {'; '.join(self.errors)}; {opts.output} holds the "
                                f"{manifest['rows']:,} events captured until then")  # fmt: skip
        return manifest

    def _open_all(self) -> None:
        opened: list[Source] = []
        try:
            for source in self.sources:
                source.open()
                opened.append(source)
        except BaseException:
            for source in opened:
                source.close()
            raise

    def _failed(self, done: Done) -> None:
        err = done.error
        text = err.one_line() if isinstance(err, SwkError) else f"{type(err).__name__}: {err}"
        self.errors.append(f"{done.source}: {text}")
        self.stop()

    def _note(self, channel: str, text: str) -> None:
        warnings = self.inputs[channel].warnings
        if text in warnings:
            return
        warnings.append(text)
        if self.say:
            self.say(f"[capture] {text}")

    def _handle(self, item: object, writer: RollingWriter) -> None:
        if isinstance(item, Records):
            stats, base = self.inputs[item.channel], self.offsets[item.channel]
            whole = len(item.data) - len(item.data) % item.stride
            boot = self.options.boot_ns or 0
            for out in ioctl.decode(memoryview(item.data)[:whole], base, item.stride, boot_ns=boot,
                                    frequency=self.options.qpc_frequency):  # fmt: skip
                if isinstance(out, Reject):
                    writer.reject(out, stats)
                else:
                    writer.write(out, stats)
            if whole < len(item.data):  # only a recording ends inside a record: rejected as `swk ingest` does
                tail = bytes(item.data[whole:])
                writer.reject(Reject(base + whole, f"truncated record: {len(tail)} of {item.stride} bytes at end of "
                                     "file", tail, len(tail)), stats)  # fmt: skip
            self.offsets[item.channel] = base + len(item.data)
        elif isinstance(item, Uplink):
            self._rows(
                item.channel,
                [
                    uplink.row(ev, at, own_etw=self.options.own_etw)
                    for ev, at in zip(item.events, item.received_us, strict=True)
                ],
                writer,
            )
        elif isinstance(item, EtwEvents):
            from swk.capture.live.etw_rows import decode_all

            # Decode what is already queued for the channel together: each decode and write has a fixed cost (one
            # column build per family, one schema conform per batch) that a burst of ~100 events cannot amortise.
            events = list(item.events)
            while len(events) < ETW_DECODE_EVENTS:
                more = self.inbox.get_if(lambda x: isinstance(x, EtwEvents) and x.channel == item.channel)
                if more is None:
                    break
                events.extend(more.events)
            self._batches(item.channel, len(events), *decode_all(events), writer)
        elif isinstance(item, Counters):
            self.inputs[item.channel].info.update(item.info)
        elif isinstance(item, Note):
            self._note(item.channel, item.text)

    def _rows(self, channel: str, rows: list[dict[str, Any] | Reject | None], writer: RollingWriter) -> None:
        """Write row dicts (None: nothing of its own, counted as skipped) with ordinal source offsets."""
        stats, base = self.inputs[channel], self.offsets[channel]
        keep = []
        for i, row in enumerate(rows):
            if row is None:
                stats.skipped += 1
            elif isinstance(row, Reject):
                writer.reject(Reject(base + i, row.reason, row.raw, row.length), stats)
            else:
                keep.append({**row, "source_offset": base + i})
        if keep:
            writer.write(rows_to_batch(keep), stats)
        self.offsets[channel] = base + len(rows)

    def _batches(self, channel: str, count: int, batches: list[pa.RecordBatch], rejects: list[tuple[int, Reject]],
                 writer: RollingWriter) -> None:  # fmt: skip
        """Write decoded batches (`source_offset` = index within the burst) and rejects with ordinal offsets."""
        stats, base = self.inputs[channel], self.offsets[channel]
        for index, rej in rejects:
            writer.reject(Reject(base + index, rej.reason, rej.raw, rej.length), stats)
        for batch in batches:
            at = batch.schema.get_field_index("source_offset")
            writer.write(batch.set_column(at, "source_offset", pc.add(batch.column(at), base)), stats)
        self.offsets[channel] = base + count

    def _sample(self, writer: RollingWriter) -> tuple:
        infos = {k: s.info for k, s in self.inputs.items()}
        return (writer.writer.seen, writer.writer.rejects, self.inbox.events, infos, writer.bytes_written,
                writer.parts)  # fmt: skip


__all__ = ["CaptureFailedError", "CaptureLoop", "LoopOptions", "first_event_id"]
