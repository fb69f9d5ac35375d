"""The public .etl captures in shared/data/etl, decoded to pinned values (cross-checked once against etl-parser and
dissect.etl in the bench venv: record counts equal, timestamps within 1 µs of dissect's float conversion)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from click.testing import CliRunner

from swk.capture.base import ReadContext, Reject
from swk.capture.etl import reader
from swk.cli import cli
from swk.store.reader import open_case
from swk.testdata import shared_data

DATA = shared_data() / "etl"
SUMS = {line.split()[1].removeprefix("etl/"): line.split()[0]
        for line in (DATA.parent / "SHA256SUMS").read_text().splitlines() if line.endswith(".etl")}  # fmt: skip


def rows_of(name: str) -> list[dict]:
    path = DATA / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SUMS[name], f"{name} missing or changed"
    out = []
    for item in reader.read(path, ReadContext()):
        assert not isinstance(item, Reject), item
        out += item.to_pylist()
    return sorted(out, key=lambda r: r["source_offset"])


def test_amsi_every_tracelogging_field_decoded():
    rows = rows_of("AMSITrace.etl")
    assert len(rows) == 21
    amsi = [r for r in rows if r["provider"] == "AmsiTrace"]
    assert len(amsi) == 19 and {r["event_name"] for r in amsi} == {"AmsiScript"}
    first = amsi[0]
    assert first["kind"] == "etw:AmsiTrace:AmsiScript" and first["family"] == "generic"
    assert first["raw_clock"] == 132264173377518824 and first["ts"].isoformat() == "2020-02-17T12:48:57.751882+00:00"
    assert (first["header_pid"], first["header_tid"]) == (29868, 27320)
    fields = json.loads(first["fields_json"])
    assert list(fields) == ["Engine", "Script", "Raw Script"]
    assert fields["Engine"] == r"PowerShell_C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe_10.0.18362.1"
    assert fields["Script"].startswith("if ($this.Name.IndexOf('-') -lt 0)")
    assert fields["Raw Script"] == fields["Script"]  # a UINT16 array with out-type STRING: a counted string
    engines = Counter(json.loads(r["fields_json"])["Engine"] for r in amsi)
    assert engines["VBScript"] == 4
    vbs = [json.loads(r["fields_json"])["Script"] for r in amsi if "VBScript" in r["fields_json"]]
    assert 'msgbox "Is VBScript Dead?"\r\n' in vbs


def test_lxcore_kernel_mode_tracelogging():
    rows = [r for r in rows_of("lxcore_kernel.etl") if r["provider"] != "MSNT_SystemTrace"]
    assert [r["event_name"] for r in rows] == ["BreakPoint", "BreakPoint"]
    assert rows[0]["provider"] == "Microsoft.Windows.Subsystem.LxCore"
    fields = json.loads(rows[0]["fields_json"])
    assert fields == {"ErrorLevel": 2, "instanceId": "00000000-0000-0000-0000-000000000000", "LxPid": -1,
                      "LxTid": -1, "LxNs": 0, "ExecutablePath": "", "Function": "LxpInstanceStart", "Line": 2659,
                      "Message": "[0xc0000034] LxpInstanceInitialize\n"}  # fmt: skip
    assert rows[0]["raw_clock"] == 132392018769038717 and (rows[0]["header_pid"], rows[0]["header_tid"]) == (5876, 2868)


def test_shutdown_perf_diag_kernel_logger():
    rows = rows_of("ShutdownPerfDiagLogger.etl")
    assert len(rows) == 17078
    kinds = Counter((r["family"], r["event_name"]) for r in rows)
    assert kinds[("image", "Image/DCStart")] == 6745 and kinds[("image", "Image/UnLoad")] == 4791
    assert kinds[("thread", "Thread/Start")] == 350 and kinds[("thread", "Thread/End")] == 1032
    assert kinds[("process", "Process/End")] == 60 and kinds[("process", "Process/DCStart")] == 94
    assert kinds[("generic", "EventTrace/Header")] == 1
    header = json.loads(next(r for r in rows if r["event_name"] == "EventTrace/Header")["fields_json"])
    assert header["etl_clock"] == "qpc" and header["etl_os_build"] == "10.0.18362" and header["etl_pointer_size"] == 8
    ends = [r for r in rows if r["event_name"] == "Process/End"]
    assert all(r["is_create"] is False and r["target_pid"] == r["actor_pid"] for r in ends)
    assert all(r["image_path"] for r in ends)
    starts = [r for r in rows if r["event_name"] == "Thread/Start"]
    assert all(r["tid"] and r["target_pid"] is not None and r["start_address"] is not None for r in starts)
    images = [r for r in rows if r["family"] == "image"]
    assert all(r["image_path"] and r["image_base"] for r in images)


@pytest.mark.parametrize("name", sorted(SUMS))
def test_swk_ingest_reconciles(name, tmp_path):
    case = tmp_path / "case.parquet"
    result = CliRunner().invoke(cli, ["ingest", str(DATA / name), "-o", str(case), "-q"])
    assert result.exit_code == 0, result.output
    manifest = open_case(case).manifest
    (entry,) = manifest["inputs"]
    assert entry["format"] == "etl" and entry["read"] == entry["written"] + entry["rejected"]
    assert entry["rejected"] == 0 and entry["written"] == {"AMSITrace.etl": 21, "lxcore_kernel.etl": 4,
                                                           "ShutdownPerfDiagLogger.etl": 17078}[name]  # fmt: skip


def test_the_three_captures_are_there():
    assert set(SUMS) == {"AMSITrace.etl", "lxcore_kernel.etl", "ShutdownPerfDiagLogger.etl"}
    for name, digest in SUMS.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest
