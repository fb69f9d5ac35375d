"""Every text reader on damaged input: files cut at 200 random offsets and files with flipped bytes never raise a
traceback; they give rows plus rejects at line numbers in the file, or a one-line `SwkError`, and the rows before the
damage are the rows of the intact file."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from swk.capture import load
from swk.capture.base import ReadContext, Reject
from swk.capture.outputs import WRITERS, OutputContext
from swk.capture.text import sample
from swk.errors import SwkError

FORMATS = ("jsonl", "console", "suite", "printer", "controller")
BLOCK_LINES = 30  # no block of any format spans more lines than this


def produce(tmp_path: Path, fmt: str) -> bytes:
    path = tmp_path / f"intact.{fmt}"
    rows = list(sample.batches(400 if fmt == "controller" else 120, seed=3))
    ctx = OutputContext(
        resolve=lambda a, pid: "ntdll!X+0x14" if a % 3 == 0 else None, process_image={6700: "C:\\x.exe"}.get
    )
    WRITERS[fmt](rows, path, ctx)
    return path.read_bytes()


def outcome(path: Path, fmt: str) -> tuple[list[dict], list[Reject]] | SwkError:
    """Rows and rejects of a file, or the one-line error it raised; anything else fails the test."""
    try:
        out = list(load(fmt).read(path, ReadContext()))
    except SwkError as exc:
        assert "\n" not in exc.one_line()
        return exc
    # Batches hold the columns their rows use: compare rows by their non-NULL values.
    rows = [{k: v for k, v in r.items() if v is not None} for b in out if isinstance(b, pa.RecordBatch)
            for r in b.to_pylist()]  # fmt: skip
    assert all(isinstance(o, pa.RecordBatch | Reject) for o in out)
    return rows, [o for o in out if isinstance(o, Reject)]


def by_offset(rows: list[dict], below: int) -> list[dict]:
    return [r for r in rows if r["source_offset"] < below]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_file_holds_no_row(tmp_path: Path, fmt: str) -> None:
    # a client or test suite that saw no record writes nothing; an empty file is no sign of another format
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert outcome(path, fmt) == ([], [])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_cut_files(tmp_path: Path, fmt: str) -> None:
    data = produce(tmp_path, fmt)
    intact, none = outcome(tmp_path / f"intact.{fmt}", fmt)
    assert none == [] and intact
    rng = random.Random(fmt)
    path = tmp_path / "cut"
    for offset in sorted(rng.sample(range(1, len(data)), 200)):
        path.write_bytes(data[:offset])
        result = outcome(path, fmt)
        if isinstance(result, SwkError):  # only when the cut leaves nothing that looks like the format
            assert offset < 65_536
            continue
        rows, rejects = result
        lines = data[:offset].count(b"\n") + 1
        assert all(1 <= r.offset <= lines for r in rejects)
        assert len(rejects) <= 1, "only the record the cut went through is damaged"
        # Everything that ended before the cut reads exactly as in the intact file.
        assert by_offset(rows, lines - BLOCK_LINES) == by_offset(intact, lines - BLOCK_LINES)
        assert len(rows) + len(rejects) >= len(by_offset(intact, lines - BLOCK_LINES))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_flipped_bytes(tmp_path: Path, fmt: str) -> None:
    data = produce(tmp_path, fmt)
    intact, _ = outcome(tmp_path / f"intact.{fmt}", fmt)
    rng = random.Random(fmt + "flip")
    path = tmp_path / "flipped"
    for _ in range(200):
        damaged = bytearray(data)
        where = sorted(rng.sample(range(len(data)), rng.choice((1, 1, 3))))
        for i in where:
            damaged[i] = rng.choice((rng.randrange(256), damaged[i] ^ (1 << rng.randrange(8)), 0x0A, 0x22, 0x5C))
        path.write_bytes(bytes(damaged))
        result = outcome(path, fmt)
        if isinstance(result, SwkError):
            continue
        rows, rejects = result
        lines = bytes(damaged).count(b"\n") + 1
        assert all(1 <= r.offset <= lines for r in rejects)
        first = data[: where[0]].count(b"\n") + 1  # the first damaged line
        assert by_offset(rows, first - BLOCK_LINES) == by_offset(intact, first - BLOCK_LINES)


def test_a_cut_last_line_is_damage_not_a_shorter_value(tmp_path: Path) -> None:
    text = (b"\n[PROCESS] CREATE pid=0000000000001F40 parent=0000000000001A2C creator=0000000000001A2C/0000000000001B10"
            b" session=1\nMeta   event=ProcessTelemetry pid=6700 tid=6928 cpu=0 lvl=4 op=0 ver=0"
            b" ts=0x01DCA9B2C5000000 dt=0x0\nStatus create=SUCCESS(0x00000000) startKey=0x0001000000000123\n"
            b"Image  C:\\x.exe\nCmd    \"C:\\x.exe\" --long-argum")  # fmt: skip
    path = tmp_path / "cut.log"
    path.write_bytes(text)
    rows, rejects = outcome(path, "printer")
    assert rows == [] and [(r.offset, r.reason) for r in rejects] == [
        (2, "ETW printer ProcessTelemetry block: line 6: the file ends inside this line")
    ]
    path.write_bytes(text + b"ent\n")
    rows, rejects = outcome(path, "printer")
    assert rejects == [] and rows[0]["command_line"] == '"C:\\x.exe" --long-argument'


def test_line_blocks_keep_lines_whole_and_count_them_across_reads():
    import io

    from swk.capture.base import line_blocks

    data = b"one\ntwo\nthree\n\nfive-without-newline"
    blocks = list(line_blocks(io.BytesIO(data), 5))
    numbered = [(first + k, line) for block, first, _ in blocks for k, line in enumerate(block.split(b"\n"))]
    assert numbered == [(1, b"one"), (2, b"two"), (3, b"three"), (4, b""), (5, b"five-without-newline")]
    assert [consumed for _, _, consumed in blocks] == [4, 8, 15, len(data)]
