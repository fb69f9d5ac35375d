"""Windows-event JSON lines (OTRF/NXLog/Winlogbeat/evtx_dump): containers, line accounting, rejects, sniffing."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from swk.capture.sysmon import json_lines, rows
from swk.capture.sysmon.samples import PROCESS_ACCESS, REMOTE_THREAD, collect, otrf_line
from swk.errors import WrongFormat


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_plain_file_rows_in_line_order_with_line_numbers(tmp_path):
    path = _write(tmp_path / "x.json", [otrf_line(10, PROCESS_ACCESS), otrf_line(8, REMOTE_THREAD)])
    out = collect(json_lines, path)
    assert out.column("kind") == ["sysmon:10", "sysmon:8"]
    assert out.column("source_offset") == [1, 2]
    assert out.column("event_id") == [1, 2]
    assert out.rejects == [] and out.ctx.skipped == 0


def test_damaged_line_is_a_reject_with_its_line_number_and_reading_goes_on(tmp_path):
    lines = [otrf_line(10, PROCESS_ACCESS), b'{"EventID": 10, "Channel": "Microsoft-Windows-Sysmon/Oper',
             otrf_line(8, REMOTE_THREAD)]  # fmt: skip
    out = collect(json_lines, _write(tmp_path / "x.json", lines))
    assert out.column("source_offset") == [1, 3]
    (reject,) = out.rejects
    assert reject.offset == 2 and reject.reason.startswith("line 2: not JSON: Unterminated string")
    assert reject.raw == lines[1][:64] and reject.length == len(lines[1])


def test_lines_that_are_not_windows_events_are_skipped_and_counted(tmp_path):
    lines = [otrf_line(10, PROCESS_ACCESS), b"", b"   ", b"[1, 2]", b'{"message": "logstash heartbeat"}',
             b'{"EventID": "abc", "Channel": "Security"}', b'{"EventID": 4688}', otrf_line(8, REMOTE_THREAD)]  # fmt: skip
    out = collect(json_lines, _write(tmp_path / "x.json", lines))
    assert len(out.rows) == 2 and out.rejects == []
    assert out.ctx.skipped == 6
    assert out.column("source_offset") == [1, 8]


def test_damaged_lines_before_the_first_event_are_rejects_once_an_event_follows(tmp_path):
    out = collect(json_lines, _write(tmp_path / "x.json", [b"{oops", otrf_line(10, PROCESS_ACCESS)]))
    assert [r.offset for r in out.rejects] == [1] and out.column("source_offset") == [2]


def test_invalid_utf8_keeps_the_event_with_replacement_characters(tmp_path):
    fields = {
        "ProcessId": "7",
        "Image": "C:\\caf\xe9.exe",
        "CommandLine": "caf\xe9 /x",
        "UtcTime": "2020-10-23 07:12:04.444",
    }
    line = otrf_line(1, fields).replace(b"\\u00e9", b"\xe9")  # cp1252 bytes where UTF-8 belongs
    out = collect(json_lines, _write(tmp_path / "x.json", [line]))
    assert out.column("command_line") == ["caf\ufffd /x"]
    assert out.column("image_path") == [None]  # an image with undecodable characters is not a usable path
    assert json.loads(out.column("fields_json")[0])["Image"] == "C:\\caf\ufffd.exe"
    assert out.ctx.warnings == [
        "line 1: not UTF-8; undecodable bytes replaced with U+FFFD",
        "1 sysmon:1 image_path values garbled: left NULL (raw value in fields_json)",
        "1 sysmon:1 target_image values garbled: left NULL (raw value in fields_json)",
    ]


def test_gzip_stream(tmp_path):
    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(otrf_line(10, PROCESS_ACCESS) + b"\n" + otrf_line(8, REMOTE_THREAD)))
    assert json_lines.sniff(path.read_bytes()[:65536], path)
    out = collect(json_lines, path)
    assert out.column("kind") == ["sysmon:10", "sysmon:8"] and out.column("source_offset") == [1, 2]


def test_zip_members_count_lines_each_and_name_themselves(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/first.json", otrf_line(10, PROCESS_ACCESS) + b"\n{broken\n")
        zf.writestr("README.txt", "not json lines\n")
        zf.writestr("second.json", otrf_line(8, REMOTE_THREAD) + b"\n")
    out = collect(json_lines, path)
    assert out.column("source_offset") == [1, 1]
    members = [json.loads(f)["swk_member"] for f in out.column("fields_json")]
    assert members == ["a/first.json", "second.json"]
    assert json.loads(out.column("fields_json")[1])["StartAddress"] == "0x0000023FAD900000"
    (reject,) = out.rejects
    assert (reject.offset, reject.reason[:33]) == (2, "member a/first.json line 2: not J")
    assert out.ctx.warnings == ["member README.txt: not JSON lines, skipped"]
    assert out.ctx.info["zip_members"] == ["a/first.json", "README.txt", "second.json"]


def test_single_member_zip_names_the_member_in_the_manifest_and_keeps_the_line_as_is(tmp_path):
    path = tmp_path / "x.zip"
    line = otrf_line(10, PROCESS_ACCESS)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("only.json", line + b"\r\n")
    out = collect(json_lines, path)
    assert out.column("fields_json") == [line.decode()]
    assert out.ctx.info["zip_members"] == ["only.json"]


def test_sniff_claims_windows_events_only(tmp_path):
    ours = _write(tmp_path / "a.json", [otrf_line(10, PROCESS_ACCESS)])
    client = _write(tmp_path / "b.jsonl", [b'{"ts":"2026-03-02T10:15:03.512Z","source":"sleepwalker-client",'
                                           b'"category":"ioctl","kind":"handle","EventID":1,"Channel":"x"}'])  # fmt: skip
    text = _write(tmp_path / "c.txt", [b"[SLEEPWALKER][HANDLE] seq=1"])
    empty_zip = tmp_path / "d.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("notes.txt", "hello\n")
    for path, want in ((ours, True), (client, False), (text, False), (empty_zip, False)):
        assert json_lines.sniff(path.read_bytes()[:65536], path) is want, path.name


def test_not_windows_events_is_wrong_format(tmp_path):
    path = _write(tmp_path / "b.jsonl", [b'{"ts":"x","source":"sleepwalker-client","kind":"handle"}'] * 3)
    with pytest.raises(WrongFormat, match="no Windows event"):
        collect(json_lines, path)


def test_a_long_run_of_non_events_before_any_event_is_wrong_format_early(tmp_path, monkeypatch):
    monkeypatch.setattr(json_lines, "FIRST_EVENT_WITHIN", 5)
    path = _write(tmp_path / "b.jsonl", [b'{"a": 1}'] * 5 + [otrf_line(10, PROCESS_ACCESS)])
    with pytest.raises(WrongFormat, match=r":5: no Windows event in the first 5 lines"):
        collect(json_lines, path)


def test_batches_and_rejects_interleave_without_losing_any(tmp_path, monkeypatch):
    monkeypatch.setattr(rows, "BATCH_EVENTS", 3)
    lines = [otrf_line(10, PROCESS_ACCESS) if i % 4 else b"{bad" for i in range(1, 21)]
    out = collect(json_lines, _write(tmp_path / "x.json", lines))
    assert sorted(out.column("source_offset") + [r.offset for r in out.rejects]) == list(range(1, 21))
    assert len(out.rejects) == 5


def test_winlogbeat_and_evtx_dump_shapes(tmp_path):
    beat = {"@timestamp": "2019-03-19T02:52:36.469Z", "winlog": {
        "channel": SYSMON_CHANNEL, "event_id": 10, "provider_name": "Microsoft-Windows-Sysmon", "record_id": 77,
        "computer_name": "beat-host", "process": {"pid": 3248, "thread": {"id": 4128}},
        "event_data": {**PROCESS_ACCESS, "GrantedAccess": "0x143a"}}, "host": {"name": "collector"}}  # fmt: skip
    dump = {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                                 "EventID": 8, "EventRecordID": 5, "Channel": SYSMON_CHANNEL, "Computer": "dump-host",
                                 "TimeCreated": {"#attributes": {"SystemTime": "2020-10-23T07:12:04.460Z"}}},
                      "EventData": REMOTE_THREAD}}  # fmt: skip
    out = collect(json_lines, _write(tmp_path / "x.json", [json.dumps(beat).encode(), json.dumps(dump).encode()]))
    first, second = out.rows.to_pylist()
    assert (first["kind"], first["host"], first["sequence"], first["header_pid"], first["header_tid"]) == (
        "sysmon:10",
        "beat-host",
        77,
        3248,
        4128,
    )
    assert first["access_mask"] == 0x143A
    assert (second["kind"], second["host"], second["sequence"], second["start_module"]) == (
        "sysmon:8",
        "dump-host",
        5,
        "",
    )


SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"


def test_sniff_judges_whole_lines_only(tmp_path):
    big = otrf_line(1, {"CommandLine": "x" * 100_000, "ProcessId": "1"})  # one line longer than ingest's window
    path = _write(tmp_path / "big.json", [big, otrf_line(10, PROCESS_ACCESS)])
    assert json_lines.sniff(path.read_bytes()[:65536], path)
    cut = _write(tmp_path / "cut.json", [b'{"note": "exporter header"}', otrf_line(10, PROCESS_ACCESS)])
    assert json_lines.sniff(cut.read_bytes()[:60], cut) is False  # the event is past the window: not judged
    assert json_lines.sniff(cut.read_bytes(), cut)
