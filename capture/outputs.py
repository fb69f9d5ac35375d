"""Writers of Sleepwalker's own outputs from case rows, so tools that parse real Sleepwalker output parse ours.

`WRITERS[name](batches, path, ctx)` writes what that Sleepwalker component would have written for the rows and
returns how many records/lines/blocks it wrote. Input batches are case rows sorted by (ts, event_id), as
`docs/case-rows.md` describes for simulated cases. Every file is written to a temporary sibling and moved into place
with `os.replace`, so a crash leaves the old file or the new one, never half of one.

Host knowledge the printers consulted live (dbghelp symbols, `QueryFullProcessImageNameW`, the broker's image
query, the processor number) comes from `OutputContext` callbacks; without them the spec's no-symbol fallbacks
apply. Decisions where the spec leaves the simulated client's configuration open (documented once, here):

- client (console and JSONL): scope `both` with every pid as target, i.e. no scope filtering; streams
  `handle,memory,thread,etw`; every `filter.*` policy key true; `--ioctl-verbose 1`; the broker advertises the uplink;
- for a handle/thread row that is both an ETW event and an IOCTL record, the client's JSONL gets the broker event
  line first (the driver emits ETW before it publishes the record, spec 3.2), then the IOCTL line;
- rows the driver published as IOCTL records are the handle and thread rows that carry a `sequence`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class OutputContext:
    """What the host knew when Sleepwalker printed: symbols, process images, clocks, client settings."""

    # Resolved text of an address in a pid (e.g. `ntdll!NtOpenProcess+0x14`); None (or a None answer): fallbacks.
    resolve: Callable[[int, int], str | None] | None = None
    # What QueryFullProcessImageNameW said for a pid (Win32 path), None when the process could not be queried.
    process_image: Callable[[int], str | None] | None = None
    # What the broker's QUERY_PROCESS_IMAGE said (NT path), tried after process_image by the ETW printer.
    query_image: Callable[[int], str | None] | None = None
    # Processor an ETW event was logged on (printer `cpu=`), given its header tid and FILETIME; None: 0.
    cpu: Callable[[int, int], int] | None = None
    boot_ns: int = 0  # Unix ns of QPC 0 on the host
    qpc_frequency: int = 10_000_000
    client_latency_us: int = 0  # client JSONL `ts` = event time + this (the client writes when it polls)
    # Width of the TI provider's pid/tid fields: the stock manifest has 4-byte ones, which the printer's 64-bit
    # reader refuses, so they print as 0 [Q]; 8 models a provider with 64-bit fields.
    ti_pid_width: int = 4
    status_lines: bool = True  # start-up status lines of the client console and the controller log
    newline: str = "\n"  # console line end ("\r\n" for a capture redirected on Windows)
    jsonl_file: str = "events.swk.jsonl"
    high_priority_file: str = "high_priority.swk.jsonl"
    high_priority_min_severity: int = 4


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` only when the block completes (temporary sibling + `os.replace`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_ioctl(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """768-byte IOCTL records for the rows the driver published as records; returns the record count."""
    with atomic_output(path) as fh:
        records = IoctlRecords(fh, ctx)
        for batch in batches:
            records.add(batch)
    return records.count


class IoctlRecords:
    """`write_ioctl` a batch at a time, for a caller that has the batches one by one (the generator encodes them on
    its sink thread as the case is written, instead of reading the case back afterwards)."""

    def __init__(self, fh: BinaryIO, ctx: OutputContext) -> None:
        self.fh = fh
        self.ctx = ctx
        self.count = 0
        self._wanted = frozenset(columns("ioctl") or ())

    def add(self, batch: pa.RecordBatch) -> None:
        """Write the records of the batch's rows the driver published as records."""
        from swk.capture.ioctl_encode import records_from_batch
        from swk.capture.text.render import IOCTL_KINDS

        if "sequence" not in batch.schema.names or "family" not in batch.schema.names:
            return
        # only the columns the records are made of are filtered (a case batch has ~120, most of them not read)
        batch = batch.select([name for name in batch.schema.names if name in self._wanted])
        keep = pc.and_(pc.is_in(batch.column("family"), pa.array(["handle", "thread"])),
                       pc.is_valid(batch.column("sequence")))  # fmt: skip
        if "kind" in batch.schema.names:
            kinds = pc.fill_null(batch.column("kind"), "")
            keep = pc.and_(keep, pc.or_(*(pc.starts_with(kinds, k) for k in IOCTL_KINDS)))
        chosen = batch.filter(pc.fill_null(keep, False))
        if chosen.num_rows:
            records = records_from_batch(chosen, boot_ns=self.ctx.boot_ns, qpc_frequency=self.ctx.qpc_frequency)
            self.fh.write(records.view("u1"))  # the buffer itself, not a copy of it
            self.count += len(records)


def columns(fmt: str) -> list[str] | None:
    """The case columns the `fmt` writer reads (None: any of them), so a caller reading a case for it reads only
    those; the writer sees the same values as in a batch of every column."""
    if fmt == "ioctl":
        from swk.capture.ioctl_encode import RECORD_COLUMNS

        return ["kind", *RECORD_COLUMNS]
    return None


def _lazy(module: str, name: str = "write") -> Callable[[Iterable[pa.RecordBatch], Path, OutputContext], int]:
    def writer(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(batches, path, ctx)

    writer.__name__ = f"{module.rsplit('.', 1)[-1]}.{name}"
    return writer


WRITERS: dict[str, Callable[[Iterable[pa.RecordBatch], Path, OutputContext], int]] = {
    "ioctl": write_ioctl,
    "jsonl": _lazy("swk.capture.text.jsonl_write"),
    "jsonl_high_priority": _lazy("swk.capture.text.jsonl_write", "write_high_priority"),
    "console": _lazy("swk.capture.text.console_write"),
    "printer": _lazy("swk.capture.text.printer_write"),
    "suite": _lazy("swk.capture.text.suite_write"),
    "controller": _lazy("swk.capture.text.controller_write"),
    "etl": _lazy("swk.capture.etl.writer"),
}
