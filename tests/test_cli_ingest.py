"""`swk ingest` and `swk info` driven through the CLI: data on stdout, one-line errors, reconciled counts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from swk.capture.ingest import plan
from swk.capture.ioctl_encode import realistic_records
from swk.cli import cli
from swk.errors import InputError


def damaged_file(path: Path, n: int = 200) -> Path:
    data = bytearray(realistic_records(n + 1, seed=5).tobytes())
    data[768 * 7 + 4 : 768 * 7 + 8] = (9).to_bytes(4, "little")  # record 7: Type 9
    path.write_bytes(bytes(data) + b"\xab" * 100)
    return path


def test_ingest_then_info_reconciles(tmp_path: Path) -> None:
    events = damaged_file(tmp_path / "events.bin")
    case = tmp_path / "case.parquet"
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(events), "-o", str(case), "--host", "WS01",
                                 "--boot-time", "2026-03-02T08:00:00Z"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{events}: ioctl (sniffed)" in result.stderr
    assert f"{events}: read 202, written 200, rejected 2" in result.stderr
    rejects = pq.read_table(case, filters=[("family", "=", "reject")]).to_pylist()
    assert [(r["source_offset"], r["raw_length"]) for r in rejects] == [(768 * 7, 768), (768 * 201, 100)]
    assert rejects[0]["reject_reason"] == "EVENT_HEADER.Type=9 is not a Sleepwalker event type"

    info = runner.invoke(cli, ["info", str(case), "--format", "json"])
    assert info.exit_code == 0
    summary = json.loads(info.stdout)
    (inp,) = summary["inputs"]
    assert (inp["read"], inp["written"], inp["rejected"]) == (202, 200, 2)
    assert inp["read"] == inp["written"] + inp["rejected"]
    assert inp["size"] == events.stat().st_size and len(inp["sha256"]) == 64
    assert summary["events"] == 200 and summary["rejects"] == 2
    assert set(summary["families"]) == {"handle", "thread", "reject"}
    assert summary["hosts"] == {"WS01": 202}
    assert summary["time_span"]["first"].startswith("2026-03-02T08:05:40")
    assert summary["pids_seen"] == 12

    table = runner.invoke(cli, ["info", str(case)])
    assert "events      200   rejects 2" in table.stdout
    assert "boot 2026-03-02T08:00:00" in table.stdout


def test_not_a_record_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    text = tmp_path / "readme.txt"
    text.write_text("just text\n" * 50)
    result = CliRunner().invoke(cli, ["ingest", "--format", "ioctl", str(text), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {text} @0x00000000: EVENT_HEADER.Size=1953723754, expected 768 or 1496: not a "
        "Sleepwalker record file (check the file, or pass --format to pick another reader)"
    ]
    assert "Traceback" not in result.output
    assert not (tmp_path / "c.parquet").exists()


def test_unrecognised_file_and_bad_options(tmp_path: Path) -> None:
    text = tmp_path / "x.txt"
    text.write_text("nothing here")
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(text), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 1 and "no reader recognises this file" in result.stderr
    result = runner.invoke(cli, ["ingest", str(text), "-o", str(tmp_path / "c.parquet"), "--boot-time", "08:00"])
    assert result.exit_code == 2 and "is not an ISO-8601 time" in result.stderr
    result = runner.invoke(cli, ["ingest", str(text), "-o", str(tmp_path / "c.parquet"), "--format", "nope"])
    assert result.exit_code == 2
    result = runner.invoke(cli, ["info", str(tmp_path / "missing.parquet")])
    assert result.exit_code == 1 and "no such case file or directory" in result.stderr


def test_an_input_that_is_not_a_regular_file_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    # a pipe with no writer would block the sniff's open for ever; a stream (`<(zcat x.evtx.gz)`) would be consumed by
    # the sniff and then read empty. Inside a walked directory such entries are passed over.
    import os

    pipe = tmp_path / "live.evtx"
    os.mkfifo(pipe)
    result = CliRunner().invoke(cli, ["ingest", str(pipe), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == (f"Error: {pipe}: not a regular file (a pipe, socket or device) "
                                              "(name a file or a directory; save a stream to a file first)")  # fmt: skip
    assert not (tmp_path / "c.parquet").exists()
    with pytest.raises(InputError, match=r"gone\.evtx: no such file or directory"):  # (the CLI's click says it first)
        plan([tmp_path / "gone.evtx"])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.bin").write_bytes(realistic_records(5).tobytes())
    os.mkfifo(tmp_path / "d" / "pipe.bin")
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "d"), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 0, result.output
    assert "5 events" in result.output


def test_directory_inputs_are_walked_and_partitioned_output(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "a.bin").write_bytes(realistic_records(10, seed=1).tobytes())
    (logs / "sub" / "b.bin").write_bytes(realistic_records(5, seed=2).tobytes())
    (logs / "notes.txt").write_text("not a capture")
    case = tmp_path / "case"
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(logs), "-o", str(case), "--partition", "--host", "WS01"])
    assert result.exit_code == 0, result.output
    assert f"{logs / 'notes.txt'}: skipped, no reader recognises it" in result.stderr
    second = runner.invoke(cli, ["ingest", str(logs / "a.bin"), "-o", str(case), "--host", "WS02", "-q"])
    assert second.exit_code == 0 and second.stderr == ""
    summary = json.loads(runner.invoke(cli, ["info", str(case), "--format", "json"]).stdout)
    assert summary["hosts"] == {"WS01": 15, "WS02": 10} and summary["partitioned"]
    assert [i["written"] for i in summary["inputs"]] == [10, 5, 10]
    ids = pq.ParquetDataset(case).read(columns=["event_id"]).column("event_id").to_pylist()
    assert sorted(ids) == list(range(1, 26))  # a second run continues the ids
