"""Text ingest: `swk ingest` of 1 M lines of the client's JSONL log and of its console, end to end (decode + zstd
Parquet), each against a plain loop over the same file in the same run.

Baselines: for JSONL, `json.loads` of every line (no validation, no rows, no Parquet); for the console, splitting
every line into words. Inputs are written once under `.bench/` by the writers themselves from a simulated run
(`swk.capture.text.sample`), then cut at exactly 1 M lines.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import WORK, Measure

LINES = 1_000_000


def text_file(fmt: str, lines: int = LINES) -> Path:
    """A `fmt` capture of exactly `lines` lines, generated once."""
    path = WORK / f"text_{fmt}_{lines}.log"
    if path.exists():
        return path
    from swk.capture.outputs import WRITERS, OutputContext
    from swk.capture.text import sample

    WORK.mkdir(exist_ok=True)
    full = WORK / f"text_{fmt}_full.log"
    rows_per_line = {"jsonl": 0.7, "console": 0.11}[fmt]
    WRITERS[fmt](sample.batches(int(lines * rows_per_line) + 10_000, seed=2), full,
                 OutputContext(boot_ns=sample.BOOT_NS, client_latency_us=1500))  # fmt: skip
    tmp = path.with_suffix(".tmp")
    with full.open("rb") as src, tmp.open("wb") as dst:
        for _, line in zip(range(lines), src, strict=False):
            dst.write(line)
    full.unlink()
    tmp.replace(path)
    return path


def prepare(fmt: str) -> int:
    """Build the input before the measured runs."""
    text_file(fmt)
    return LINES


def ingest(fmt: str) -> int:
    """`swk ingest` of the file into a zstd Parquet case; returns the lines it went through."""
    from swk.capture.ingest import Options
    from swk.capture.ingest import ingest as run

    manifest = run([text_file(fmt)], WORK / f"text_{fmt}.parquet", Options(host="BENCH", fmt=fmt))
    (stats,) = manifest["inputs"]
    assert stats["read"] == stats["written"] + stats["rejected"] and stats["written"] > 0
    return LINES


def json_loads(fmt: str) -> int:
    """A plain `json.loads` of every line."""
    count = 0
    with text_file(fmt).open("rb") as fh:
        for line in fh:
            json.loads(line)
            count += 1
    return count


def split_words(fmt: str) -> int:
    """A plain loop that splits every line into words."""
    count = 0
    with text_file(fmt).open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line.split()
            count += 1
    return count


MEASURES = [
    Measure("client JSONL ingest, 1 M lines", "ingest_text:ingest", {"fmt": "jsonl"},
            baseline="ingest_text:json_loads", unit="lines/s", prepare="ingest_text:prepare"),
    Measure("client console ingest, 1 M lines", "ingest_text:ingest", {"fmt": "console"},
            baseline="ingest_text:split_words", unit="lines/s", prepare="ingest_text:prepare"),
]  # fmt: skip
