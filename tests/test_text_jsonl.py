"""The client JSONL log's quirks (spec 5): JsonEscapeA escaping and dropped control bytes, messages cut inside an
escape, lines other tools wrote, damaged lines, chunk boundaries."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from swk.capture.base import ReadContext, Reject
from swk.capture.outputs import WRITERS, OutputContext
from swk.capture.text import jsonl
from swk.capture.text import jsonl_write as jw
from swk.capture.text.examples import TI_WRITE, batch

HEAD = '{"ts":"2026-03-02T10:15:03.512Z","source":"sleepwalker-client",'
HANDLE = (HEAD + '"category":"ioctl","kind":"handle","severity":2,"pid":4,"targetPid":612,"message":"seq=1 class=0 '
          'caller=4 target=612 access=0x00001000 flags=0x00000000 origin=0x0"}')  # fmt: skip


def read(tmp_path: Path, text: str | bytes) -> tuple[list[dict], list[Reject], ReadContext]:
    path = tmp_path / "events.swk.jsonl"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    ctx = ReadContext()
    out = list(jsonl.read(path, ctx))
    rows = [r for b in out if isinstance(b, pa.RecordBatch) for r in b.to_pylist()]
    return rows, [o for o in out if isinstance(o, Reject)], ctx


def test_escape_follows_json_escape_a() -> None:
    assert jw.escape('a\\b"c\r\n\td', 100) == b'a\\\\b\\"c\\r\\n\\td'
    assert jw.escape("x\x00\x01\x1f\x7fy é", 100) == "x\x7fy é".encode()  # below 0x20 dropped; DEL and UTF-8 raw
    assert jw.escape('ab"', 3) == b"ab\\"  # the buffer cut splits the escape, as the client's does


def test_escaped_names_survive_the_round_trip(tmp_path: Path) -> None:
    row = {**TI_WRITE, "event_name": 'Odd "TI"\\name\twith\x01 control', "kind": "ti:etw:x"}
    path = tmp_path / "log.jsonl"
    assert WRITERS["jsonl"]([batch(row)], path, OutputContext()) == 1
    line = path.read_bytes()
    assert b'"message":"event=Odd \\"TI\\"\\\\name\\twith control task=7 opcode=0"}\n' in line
    assert json.loads(line)["message"] == 'event=Odd "TI"\\name\twith control task=7 opcode=0'
    rows, rejects, _ = read(tmp_path, line)
    assert rejects == [] and rows[0]["event_name"] == 'Odd "TI"\\name\twith control'
    assert rows[0]["kind"] == 'ti:etw:Odd "TI"\\name\twith control'


def test_a_message_cut_inside_an_escape_is_read_with_a_warning(tmp_path: Path) -> None:
    prefix = "event=DetectionTelemetry detection="
    k = jw.MESSAGE_LIMIT - len(prefix) - 1  # the 2047-byte cut falls right after the backslash of `\"`
    cut = jw.line("2026-03-02T10:15:03.640Z", "sleepwalker-broker", "detection", 9, 1, 2, prefix + "N" * k + '"x')
    assert cut.endswith(b'N\\"}\n')
    with pytest.raises(ValueError):
        json.loads(cut)
    rows, rejects, ctx = read(tmp_path, cut)
    assert rejects == [] and rows[0]["detection_name"] == "N" * k
    assert ctx.warnings == ["a message was cut inside an escape by the client's 2047-byte buffer (spec 5)"]


def test_lines_from_elsewhere_are_skipped_and_damage_is_rejected(tmp_path: Path) -> None:
    reordered = json.dumps({"message": "event=ProcessTelemetry task=0 opcode=0", "pid": 8, "targetPid": 0,
                            "severity": 1, "kind": "event", "category": "sleepwalker-broker",
                            "source": "sleepwalker-client", "ts": "2026-03-02T10:15:04.000Z"})  # fmt: skip
    lines = [
        HANDLE,  # 1
        "",  # 2: skipped
        '{"source":"sysmon","EventID":10}',  # 3: JSON, not the client's: skipped
        reordered,  # 4: another tool re-serialised it: still read
        HANDLE.replace("2026-03-02", "2026-13-02"),  # 5: impossible date
        HANDLE.replace('"ioctl"', '"iocto"'),  # 6: unknown category
        HANDLE.replace("caller=4", "caller=99999999999999999999"),  # 7: beyond 64 bits
        HANDLE.replace("flags=", "flagz="),  # 8: message does not parse
        "garbage",  # 9
        HANDLE[:-10],  # 10: cut
        HANDLE.replace('"severity":2', '"severity":"2"'),  # 11: wrong type (slow path)
        HANDLE.replace("\n", "") + "\r",  # 12: CRLF line end
    ]  # fmt: skip
    rows, rejects, ctx = read(tmp_path, "\n".join(lines) + "\n")
    assert [r["source_offset"] for r in rows] == [1, 4, 12]
    assert rows[1]["family"] == "process" and rows[1]["target_pid"] == 8 and rows[1]["actor_pid"] is None
    assert [r.offset for r in rejects] == [5, 6, 7, 8, 9, 10, 11]
    assert ctx.skipped == 2
    assert rejects[1].reason == "category 'iocto' with kind 'handle' is not a client JSONL row"
    assert rejects[4].raw == b"garbage"


def test_chunk_boundaries_do_not_change_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from swk.capture.text import sample

    path = tmp_path / "log.jsonl"
    WRITERS["jsonl"](list(sample.batches(500, seed=9)), path, OutputContext(boot_ns=sample.BOOT_NS))
    whole, rejects, _ = read(tmp_path, path.read_bytes())
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 997)
    chunked, rejects2, _ = read(tmp_path, path.read_bytes())
    assert rejects == rejects2 == [] and len(whole) > 500

    def clean(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if v is not None} for r in rows]

    assert clean(chunked) == clean(whole)
    assert [r["source_offset"] for r in whole] == list(range(1, len(whole) + 1))


def test_local_etw_rows_of_older_builds(tmp_path: Path) -> None:
    det = (HEAD + '"category":"sleepwalker","kind":"detection","severity":4,"pid":6700,"targetPid":3864,'
           '"message":"event=DetectionTelemetry detection=REMOTE_APC_CREATION_SUSPECT reason=<none>"}')  # fmt: skip
    ev = HEAD + '"category":"ti","kind":"event","severity":1,"pid":6700,"targetPid":0,"message":"event=WriteVm"}'
    rows, rejects, _ = read(tmp_path, det + "\n" + ev + "\n")
    assert rejects == []
    assert (rows[0]["kind"], rows[0]["detection_name"], rows[0]["reason"]) == (
        "sleepwalker:etw:DetectionTelemetry",
        "REMOTE_APC_CREATION_SUSPECT",
        "",
    )
    assert (rows[1]["family"], rows[1]["kind"], rows[1]["event_name"], rows[1].get("task")) == ("ti", "ti:etw:WriteVm",
                                                                                          "WriteVm", None)  # fmt: skip


def test_the_high_priority_file_holds_the_lines_of_severity_four_and_up(tmp_path: Path) -> None:
    from swk.capture.text import sample

    rows = list(sample.batches(800, seed=4))
    main, high = tmp_path / "events.swk.jsonl", tmp_path / "high_priority.swk.jsonl"
    WRITERS["jsonl"](rows, main, OutputContext())
    assert WRITERS["jsonl_high_priority"](rows, high, OutputContext()) > 0
    expected = [line for line in main.read_bytes().splitlines(keepends=True) if json.loads(line)["severity"] >= 4]
    assert high.read_bytes().splitlines(keepends=True) == expected
    # a broker severity outside 1..10 is logged as 4, so it counts (spec 5)
    assert WRITERS["jsonl_high_priority"]([batch({**TI_WRITE, "family": "detection", "severity": 0})], high,
                                          OutputContext(high_priority_min_severity=4)) == 1  # fmt: skip


def test_an_empty_line_at_a_chunk_boundary_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", len(HANDLE) + 2)  # the first chunk ends right after the empty line
    rows, rejects, ctx = read(tmp_path, HANDLE + "\n\n" + HANDLE + "\n")
    assert ([r["source_offset"] for r in rows], rejects, ctx.skipped) == ([1, 3], [], 1)
