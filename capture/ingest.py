"""`swk ingest`: inputs of any registered format, alone or mixed, into one case.

Inputs are planned first (directories walked, each file's format sniffed from its content, not its name), so a file
no reader recognises fails the run before anything is written. Hashes are computed on a worker thread while the
reader decodes, since hashing releases the GIL; that thread runs at the lowest priority, as a hash is needed only
when the case is committed (see `_lowest_priority`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk import capture
from swk.capture.base import ReadContext, Reject
from swk.errors import InputError, SwkError, WrongFormat
from swk.kernel.clock import iso, to_ns
from swk.store.manifest import InputStats
from swk.store.reader import open_case
from swk.store.writer import CaseWriter

SNIFF_BYTES = 65_536
HASH_CHUNK = 1 << 20


@dataclass
class Options:
    """What the user told `swk ingest` beyond the inputs."""

    fmt: str = "auto"
    host: str | None = None
    boot_time: datetime | None = None
    qpc_frequency: int = 10_000_000
    partitioned: bool = False


@dataclass
class Planned:
    """An input file and the format chosen for it."""

    path: Path
    fmt: str
    size: int
    chosen_by: str  # "sniffed" or "--format"


@dataclass
class Plan:
    """Inputs to read, and walked files no reader recognised."""

    inputs: list[Planned] = field(default_factory=list)
    unrecognised: list[Path] = field(default_factory=list)


def _lowest_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux: nice 19 for this thread only).

    The hash of an input is needed only when the case is committed, while decoding and the Parquet writer thread
    are on the critical path: on 2 cores the three compete, and hashing at equal priority slowed a 1 M-record IOCTL
    ingest from ~1.35 s to ~1.6 s. At nice 19 it runs in the gaps (the decoder waiting for the writer) instead.
    Only Linux: there a thread id is a valid target for setpriority and affects that thread alone; elsewhere
    (macOS, BSD) it would name a process, so nothing is changed.
    """
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    buffer = bytearray(HASH_CHUNK)  # one buffer, read into: a new bytes object per read costs ~10% of the hashing
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def sniff(path: Path) -> str | None:
    """The first registered format whose sniff accepts the file's head."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    for name in capture.FORMATS:
        if capture.load(name).sniff(head, path):
            return name
    return None


def plan(inputs: list[Path], fmt: str = "auto") -> Plan:
    """Expand directories (sorted, hidden files skipped) and choose a format for every file. A directory's entries
    that are not regular files (pipes, sockets, devices, dangling links) are passed over; one named as an input is
    refused: an input is read more than once (sniffed, read, hashed), and a pipe with no writer would never open."""
    out = Plan()
    for given in inputs:
        walked = given.is_dir()
        if not walked and not given.is_file():
            what = (
                "no such file or directory" if not given.exists() else "not a regular file (a pipe, socket or device)"
            )
            raise InputError(given, None, what, hint="name a file or a directory; save a stream to a file first")
        files = sorted(p for p in given.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(given).parts)) if walked else [given]  # fmt: skip
        for path in files:
            name = fmt if fmt != "auto" else sniff(path)
            if name is None:
                if walked:
                    out.unrecognised.append(path)
                    continue
                raise WrongFormat(path, None, f"no reader recognises this file (tried {', '.join(capture.FORMATS)})",
                                  hint=_unrecognised_hint(path))  # fmt: skip
            out.inputs.append(Planned(path, name, path.stat().st_size, "--format" if fmt != "auto" else "sniffed"))
    return out


def _unrecognised_hint(path: Path) -> str:
    """What to try with a file no reader recognises: a zip or gzip whose text is damaged near its start fails every
    sniff, yet its reader keeps the lines before the damage and says where it is."""
    from swk.capture.sysmon.containers import GZIP, ZIP

    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == ZIP or magic[:2] == GZIP:
        kind = "a zip archive" if magic == ZIP else "gzip-compressed"
        return f"it is {kind}, perhaps damaged: --format winlog-jsonl reads Windows event JSON lines in it up to the damage"
    return "pass --format to force one"


def _groups(inputs: list[Planned]) -> Iterator[list[Planned]]:
    """The inputs in order, in runs of consecutive small inputs of a format whose reader reads several at once
    (`read_many`, for inputs up to its `MANY_UP_TO` bytes); every other input alone."""
    run: list[Planned] = []
    for item in inputs:
        reader = capture.load(item.fmt)
        if hasattr(reader, "read_many") and item.size <= reader.MANY_UP_TO:
            if run and run[0].fmt != item.fmt:
                yield run
                run = []
            run.append(item)
            continue
        if run:
            yield run
            run = []
        yield [item]
    if run:
        yield run


def _one(items: Iterator[pa.RecordBatch | Reject]) -> Iterator[tuple[Any, pa.RecordBatch | Reject]]:
    """A reader's items for one input in `read_many`'s form: a batch with [(0, its rows)], a reject with 0."""
    for out in items:
        yield (0, out) if isinstance(out, Reject) else ([(0, out.num_rows)], out)


def ingest(inputs: list[Path], output: Path, options: Options, *,
           progress: Callable[[int, int], None] | None = None,
           announce: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Read every input into the case at `output`; returns the case manifest."""
    work = plan(inputs, options.fmt)
    if not work.inputs:
        raise SwkError("no input files to ingest", hint="name files or directories that hold Sleepwalker data")
    for path in work.unrecognised:
        if announce:
            announce(f"{path}: skipped, no reader recognises it")
    partitioned = options.partitioned or output.is_dir()
    first_id = 1
    if partitioned and output.is_dir() and any(output.rglob("*.parquet")):
        first_id = open_case(output).max_event_id() + 1  # add to an existing directory case
    total = sum(p.size for p in work.inputs)
    writer = CaseWriter(output, partitioned=partitioned, default_host=options.host or "unknown",
                        first_event_id=first_id)  # fmt: skip
    writer.set_clock({"qpc_frequency": options.qpc_frequency,
                      "boot_time": iso(to_ns(options.boot_time)) if options.boot_time else None})  # fmt: skip
    done_before = 0
    with ThreadPoolExecutor(max_workers=1, initializer=_lowest_priority) as hasher, writer:

        def begin(item: Planned, quiet: bool) -> InputStats:
            if announce and not quiet:
                announce(f"{item.path}: {item.fmt} ({item.chosen_by})")
            digest: Future[str] = hasher.submit(sha256_of, item.path)
            return writer.begin_input(str(item.path), item.fmt, sha256=digest, size=item.size, host=options.host)

        def end(item: Planned, stats: InputStats, ctx: ReadContext, quiet: bool) -> None:
            stats.skipped = ctx.skipped
            stats.warnings = list(ctx.warnings)
            stats.info = dict(ctx.info)
            if announce:
                if quiet:  # begun with others: its lines come together, in the order one input at a time gives
                    announce(f"{item.path}: {item.fmt} ({item.chosen_by})")
                for warning in ctx.warnings:
                    announce(f"{item.path}: warning: {warning}")
                announce(f"{item.path}: read {stats.read}, written {stats.written}, rejected {stats.rejected}"
                         + (f", skipped {stats.skipped}" if stats.skipped else ""))  # fmt: skip

        for group in _groups(work.inputs):
            ctxs = []
            for item in group:
                report = (lambda d, b=done_before: progress(b + d, total)) if progress else None
                ctxs.append(ReadContext(host=options.host, boot_time=options.boot_time,
                                        qpc_frequency=options.qpc_frequency, progress=report))  # fmt: skip
                done_before += item.size
            reader = capture.load(group[0].fmt)
            quiet = len(group) > 1
            # Inputs are begun in order up to the last one an item holds, written, and ended once a later one holds
            # rows: a reader completes an input's context before it gives an item of a later input.
            begun: list[InputStats] = []
            if quiet:
                outs = reader.read_many([item.path for item in group], ctxs)
            else:  # announced, and its hash started, before it is read
                begun.append(begin(group[0], quiet))
                outs = _one(reader.read(group[0].path, ctxs[0]))
            ended = 0
            for where, out in itertools.chain(outs, [(len(group) - 1, None)]):
                last = where if isinstance(where, int) else where[-1][0]
                while len(begun) <= last:
                    begun.append(begin(group[len(begun)], quiet))
                if isinstance(out, Reject):
                    writer.reject(out, begun[last])
                elif out is not None:
                    writer.write_spans(out, [(begun[k], n) for k, n in where])  # type: ignore[union-attr]
                while ended < last:
                    end(group[ended], begun[ended], ctxs[ended], quiet)
                    ended += 1
            end(group[ended], begun[ended], ctxs[ended], quiet)
    return writer.manifest()
