"""`swk ingest` of every text format end to end (sniffed by content, counts reconciled), and sniffing that tells
the formats apart and leaves everything else alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from swk.capture import FORMATS, load
from swk.capture.base import ReadContext
from swk.capture.ingest import SNIFF_BYTES, sniff
from swk.capture.outputs import WRITERS, OutputContext
from swk.capture.text import sample
from swk.cli import cli

TEXT = ("jsonl", "suite", "console", "printer", "controller")
# One damaged record per format, appended after what the writer wrote.
DAMAGE = {
    "jsonl": '{"ts":"2026-03-02T10:15:03.512Z","source":"sleepwalker-client","category":"ioctl","kind":"handle"\n',
    "suite": "\n[IOCTL][EVENT] seq=9 type=HANDLE stream=0x00000001(HANDLE) size=768 qpc=1\n[IOCTL][HANDLE] class=\n",
    "console": "[SLEEPWALKER][THREAD] seq=9\npid=0000000000000001\n\n",
    "printer": "\n[THREAD] pid=0000000000000F18 tid=0000000000002210 creator=0000000000001A2C\nMeta   event=Thr\n",
    "controller": "[ETW][SYNTH] detection=X severity=5 actor=1 target=2 marks=\n",
}  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("text-inputs")
    rows = list(sample.batches(600, seed=21))
    out = {}
    for fmt in TEXT:
        path = folder / f"capture-{fmt}.txt"  # the same suffix for all: sniffing goes by content
        WRITERS[fmt](rows, path, OutputContext(boot_ns=sample.BOOT_NS))
        path.write_bytes(path.read_bytes() + DAMAGE[fmt].encode())
        out[fmt] = path
    return out


def test_registered_after_the_binary_formats() -> None:
    names = list(FORMATS)
    assert names.index("ioctl") < names.index("jsonl") and all(f in names for f in TEXT)
    assert [n for n in names if n in TEXT] == list(TEXT)


def test_each_text_format_sniffs_as_itself(inputs: dict[str, Path]) -> None:
    for fmt, path in inputs.items():
        assert sniff(path) == fmt
        head = path.read_bytes()[:SNIFF_BYTES]
        assert [other for other in TEXT if load(other).sniff(head, path)] == [fmt]


def test_no_text_reader_claims_the_public_captures(shared_data: Path) -> None:
    files = [p for p in sorted(shared_data.rglob("*")) if p.is_file() and p.suffix in (".evtx", ".zip", ".etl")]
    assert len(files) > 250
    for path in files:
        head = path.read_bytes()[:SNIFF_BYTES]
        assert [fmt for fmt in TEXT if load(fmt).sniff(head, path)] == [], path


def test_ingest_every_text_format_reconciles(tmp_path: Path, inputs: dict[str, Path]) -> None:
    case = tmp_path / "case.parquet"
    result = CliRunner().invoke(cli, ["ingest", *map(str, inputs.values()), "-o", str(case), "--host", "LAB01",
                                      "--boot-time", "2026-03-02T08:00:00Z"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    manifest = json.loads(pq.read_metadata(case).metadata[b"swk.manifest"])
    by_path = {i["path"]: i for i in manifest["inputs"]}
    for fmt, path in inputs.items():
        ctx = ReadContext()
        direct = list(load(fmt).read(path, ctx))
        rejected = sum(1 for d in direct if not hasattr(d, "num_rows"))
        written = sum(d.num_rows for d in direct if hasattr(d, "num_rows"))
        assert rejected == 1 and written > 0
        assert f"{path}: {fmt} (sniffed)" in result.stderr
        counts = re.search(rf"{re.escape(str(path))}: read (\d+), written (\d+), rejected (\d+)(?:, skipped (\d+))?",
                           result.stderr)  # fmt: skip
        assert counts is not None
        read, wrote, rej, skipped = (int(x or 0) for x in counts.groups())
        assert (read, wrote, rej, skipped) == (written + 1, written, 1, ctx.skipped)
        stats = by_path[str(path)]
        assert (stats["format"], stats["read"], stats["written"], stats["rejected"]) == (fmt, read, wrote, rej)
    table = pq.read_table(case, columns=["family", "source_format", "source_offset", "host"])
    rejects = table.filter(table["family"].to_numpy(zero_copy_only=False) == "reject")
    assert sorted(rejects["source_format"].to_pylist()) == sorted(TEXT)
    assert set(table["host"].to_pylist()) == {"LAB01"}
    assert {"handle", "thread", "detection", "ti", "registry", "process", "image", "apc"} <= set(
        table["family"].to_pylist()
    )


def test_forcing_a_text_reader_on_another_format_is_one_line(tmp_path: Path, inputs: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["ingest", "--format", "controller", str(inputs["jsonl"]), "-o",
                                      str(tmp_path / "c.parquet")])  # fmt: skip
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {inputs['jsonl']}:1: no line in the first 64 KiB looks like a SleepwlkrController log "
                      "(check the file, or pass --format to pick another reader)"]  # fmt: skip
