"""JSON-lines exports in damaged containers: a gzip or zip cut short, a damaged zip member, an archive without its
central directory. The lines before the damage are rows, the damage is one reject at the line where reading stopped,
the other members are read whole, and the counts reconcile."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest

from swk.capture.base import ReadContext
from swk.capture.ingest import Options, ingest
from swk.capture.sysmon import json_lines
from swk.capture.sysmon.samples import PROCESS_ACCESS, REMOTE_THREAD, collect, otrf_line
from swk.errors import WrongFormat


def _lines(n: int, start: int = 0) -> list[bytes]:
    return [otrf_line(10 if i % 2 else 8, PROCESS_ACCESS if i % 2 else REMOTE_THREAD, RecordNumber=i)
            for i in range(start, start + n)]  # fmt: skip


def _text(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def _records(out) -> list[int]:
    return [json.loads(j)["RecordNumber"] for j in out.column("fields_json")]


def _reconciles(path: Path, tmp_path: Path) -> dict[str, object]:
    (stats,) = ingest([path], tmp_path / f"{path.name}.parquet", Options())["inputs"]
    assert stats["read"] == stats["written"] + stats["rejected"], stats
    return stats


def test_gzip_cut_short_keeps_the_lines_before_the_cut(tmp_path):
    lines = _lines(3000)
    data = gzip.compress(_text(lines))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    assert json_lines.sniff(path.read_bytes()[:65536], path)
    out = collect(json_lines, path)
    (reject,) = out.rejects
    kept = _records(out)
    assert kept == list(range(len(kept))) and 1000 < len(kept) < 2900  # every line before the cut, in order
    assert reject.offset == len(kept) + 1 and "cut short" in reject.reason and "nothing after it" in reject.reason
    assert reject.reason in out.ctx.warnings
    stats = _reconciles(path, tmp_path)
    assert (stats["written"], stats["rejected"]) == (len(kept), 1)


def test_gzip_with_damaged_bytes_rejects_the_garbled_lines_and_the_damage(tmp_path):
    data = bytearray(gzip.compress(_text(_lines(3000))))
    for at in range(len(data) // 2, len(data) // 2 + 8):
        data[at] ^= 0xFF
    path = tmp_path / "bad.json.gz"
    path.write_bytes(bytes(data))
    out = collect(json_lines, path)
    assert 0 < len(out.rows) < 3000 and out.rejects
    assert "nothing after it can be read" in out.rejects[-1].reason
    _reconciles(path, tmp_path)


def test_damaged_member_costs_only_that_member(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.json", _text(_lines(2000)))
        zf.writestr("b.json", _text(_lines(50, start=5000)))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a.json")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for at in range(start + info.compress_size // 2, start + info.compress_size // 2 + 16):
        data[at] ^= 0x55
    path.write_bytes(bytes(data))
    out = collect(json_lines, path)
    records = _records(out)
    assert records[-50:] == list(range(5000, 5050))  # the second member, whole
    damage = [r for r in out.rejects if "nothing after it can be read" in r.reason]
    assert len(damage) == 1 and damage[0].reason.startswith("member a.json line ")
    _reconciles(path, tmp_path)


def _unseekable_zip(members: dict[str, bytes], compression: int) -> bytes:
    """A zip as a streaming writer makes it: sizes in a data descriptor after each member."""

    class Stream(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            self.data += b
            return len(b)

    stream = Stream()
    with zipfile.ZipFile(stream, "w", compression) as zf:
        for name, text in members.items():
            with zf.open(name, "w") as fh:
                fh.write(text)
    return bytes(stream.data)


MEMBERS = {"first.json": _text(_lines(300)), "notes.txt": b"not json\n", "second.json": _text(_lines(40, 900))}


def _without_directory(streamed: bool, compression: int) -> bytes:
    """A zip of MEMBERS with its central directory cut off (every member is whole)."""
    if streamed:
        data = _unseekable_zip(MEMBERS, compression)
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression) as zf:
            for name, text in MEMBERS.items():
                zf.writestr(name, text)
        data = buffer.getvalue()
    return data[: data.find(b"PK\x01\x02")]


@pytest.mark.parametrize(("streamed", "compression"), [(False, zipfile.ZIP_DEFLATED), (True, zipfile.ZIP_DEFLATED),
                                                       (False, zipfile.ZIP_STORED)])  # fmt: skip
def test_zip_without_its_central_directory_is_read_from_local_headers(tmp_path, streamed, compression):
    whole = _without_directory(streamed, compression)
    path = tmp_path / "nodir.zip"
    path.write_bytes(whole)
    assert json_lines.sniff(whole[:65536], path)
    out = collect(json_lines, path)
    assert out.rejects == []
    assert _records(out) == list(range(300)) + list(range(900, 940))
    assert any("no readable central directory" in w for w in out.ctx.warnings)
    assert "member notes.txt: not JSON lines, skipped" in out.ctx.warnings
    assert out.ctx.info["zip_members"] == list(MEMBERS)
    assert all('"swk_member":' in j for j in out.column("fields_json"))
    path.write_bytes(whole[: len(whole) // 3])  # cut inside the first member
    out = collect(json_lines, path)
    (reject,) = out.rejects
    assert reject.reason.startswith("member first.json line ") and "cut short" in reject.reason
    assert _records(out) == list(range(reject.offset - 1))
    _reconciles(path, tmp_path)


def test_a_streamed_stored_member_cannot_be_followed_without_the_directory(tmp_path):
    path = tmp_path / "nodir.zip"
    path.write_bytes(_without_directory(True, zipfile.ZIP_STORED))
    ctx = ReadContext()
    with pytest.raises(WrongFormat, match="no Windows event"):
        list(json_lines.read(path, ctx))
    assert "member first.json: compression method 0 cannot be read without the central directory; reading stops " \
           "there" in ctx.warnings  # fmt: skip


def test_damage_before_any_event_is_a_wrong_format_that_says_so(tmp_path):
    data = gzip.compress(_text(_lines(2000)))
    path = tmp_path / "x.json.gz"
    path.write_bytes(data[:40])
    with pytest.raises(WrongFormat, match="no Windows event before the damage"):
        list(json_lines.read(path, ReadContext()))


def test_a_zip_damaged_at_its_start_is_named_as_such_and_its_reader_says_where(tmp_path):
    from click.testing import CliRunner

    from swk.cli import cli

    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.json", _text(_lines(2000)))
    data = bytearray(path.read_bytes())
    for at in range(100, 140):  # inside the first deflate block: no line reads
        data[at] ^= 0x55
    path.write_bytes(bytes(data))
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(path), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 1
    assert "no reader recognises this file" in result.stderr and "it is a zip archive, perhaps damaged" in result.stderr
    result = runner.invoke(cli, ["ingest", str(path), "-o", str(tmp_path / "c.parquet"), "--format", "winlog-jsonl"])
    assert result.exit_code == 1 and "no Windows event before the damage" in result.stderr and ":1:" in result.stderr
