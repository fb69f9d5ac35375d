"""`swk ingest`: inputs of any registered format, alone or mixed, into one case.

Inputs are planned first (directories walked, each file's format sniffed from its content, not its name), so a file
no reader recognises fails the run before anything is written. Hashes are computed on a worker thread while the
reader decodes, since hashing releases the GIL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from swk import capture
from swk.capture.base import ReadContext, Reject
from swk.errors import SwkError, WrongFormat
from swk.kernel.clock import iso, to_ns
from swk.store.reader import open_case
from swk.store.writer import CaseWriter

SNIFF_BYTES = 65_536
HASH_CHUNK = 8 << 20


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


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
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
    """Expand directories (sorted, hidden files skipped) and choose a format for every file."""
    out = Plan()
    for given in inputs:
        walked = given.is_dir()
        files = sorted(p for p in given.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(given).parts)) if walked else [given]  # fmt: skip
        for path in files:
            name = fmt if fmt != "auto" else sniff(path)
            if name is None:
                if walked:
                    out.unrecognised.append(path)
                    continue
                raise WrongFormat(path, None, f"no reader recognises this file (tried {', '.join(capture.FORMATS)})",
                                  hint="pass --format to force one")  # fmt: skip
            out.inputs.append(Planned(path, name, path.stat().st_size, "--format" if fmt != "auto" else "sniffed"))
    return out


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
    done_before = 0
    writer = CaseWriter(output, partitioned=partitioned, default_host=options.host or "unknown",
                        first_event_id=first_id)  # fmt: skip
    writer.set_clock({"qpc_frequency": options.qpc_frequency,
                      "boot_time": iso(to_ns(options.boot_time)) if options.boot_time else None})  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as hasher, writer:
        for item in work.inputs:
            if announce:
                announce(f"{item.path}: {item.fmt} ({item.chosen_by})")
            digest: Future[str] = hasher.submit(sha256_of, item.path)
            stats = writer.begin_input(str(item.path), item.fmt, sha256=digest, size=item.size, host=options.host)
            ctx = ReadContext(
                host=options.host,
                boot_time=options.boot_time,
                qpc_frequency=options.qpc_frequency,
                progress=(lambda d, b=done_before: progress(b + d, total)) if progress else None,
            )
            reader = capture.load(item.fmt)
            for out in reader.read(item.path, ctx):
                if isinstance(out, Reject):
                    writer.reject(out)
                else:
                    writer.write(out)
            stats.skipped = ctx.skipped
            stats.warnings = list(ctx.warnings)
            stats.info = dict(ctx.info)
            done_before += item.size
            if announce:
                for warning in ctx.warnings:
                    announce(f"{item.path}: warning: {warning}")
                announce(f"{item.path}: read {stats.read}, written {stats.written}, rejected {stats.rejected}"
                         + (f", skipped {stats.skipped}" if stats.skipped else ""))  # fmt: skip
    return writer.manifest()
