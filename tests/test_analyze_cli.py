"""`swk analyze` through click's CliRunner: data on stdout, warnings and counts on stderr, exact error lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from swk.analyze.testing import write_case
from swk.cli import cli

ESC = "\x1b[31mred\x1b]0;title\x07"
RUN = r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run" + ESC


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {"family": "handle", "ms": 0, "actor_pid": 100, "target_pid": 200, "access_mask": 0x1FFFFF, "class_id": 2,
         "flags": 0x3C600 | 0x800,
         "frames": [{"address": 0x7FFDF749DC14, "module": "ntdll.dll" + ESC, "offset": 0x9DC14},
                    {"address": 0x1234, "module": None, "offset": None}]},
        {"family": "thread", "kind": "sleepwalker:etw:ThreadTelemetry", "ms": 100, "actor_pid": 100,
         "target_pid": 200, "corr_flags": 3, "corr_access_mask": 0x1FFFFF, "corr_age_ms": 100,
         "outside_main_image": True, "start_region_protect": 0x40, "start_region_type": 0x20000,
         "start_region_state": 0x1000, "got_start": True, "start_region_exec": True, "start_region_status": 0},
        {"family": "registry", "ms": 200, "actor_pid": 300, "key_path": RUN},
        {"family": "detection", "ms": 150, "actor_pid": 100, "target_pid": 200, "severity": 3,
         "detection_name": "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"},
        {"family": "detection", "ms": 9000, "actor_pid": 4, "target_pid": 0, "severity": 5,
         "detection_name": "DRIVER_DISPATCH_OR_OBJECT_TAMPER", "corr_flags": 1},
        {"family": "thread", "ms": None, "actor_pid": 1, "target_pid": 2},
    ]  # fmt: skip
    return write_case(tmp_path_factory.mktemp("cli") / "case.parquet", rows, host="WS01" + ESC)


def run(*args: str) -> object:
    return CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)


def test_table_is_a_severity_ordered_summary_with_counts_and_warnings_on_stderr(case):
    result = run("analyze", case)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["severity", "name", "rule", "host", "detections"]
    severities = [int(line.split()[0]) for line in lines[2:]]
    assert severities == sorted(severities, reverse=True) and severities[0] == 7
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "WS01red" in result.stdout
    assert result.stderr.splitlines() == [
        "warning: 1 rows have no time and cannot be placed in any window; they are not analysed",
        "warning: 1 live anti-tamper detections are not reconstructible: the driver emits no telemetry for its "
        "integrity checks",
        "1 confirmed, 10 reconstructed-only, 1 live-only",
    ]


def test_json_gives_every_detection_with_its_evidence(case):
    result = run("analyze", case, "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(isinstance(r["evidence"], list) and all(isinstance(e, int) for e in r["evidence"]) for r in rows)
    registry = [r for r in rows if r["rule"] == "HIGH_VALUE_REGISTRY_ACTIVITY"]
    assert registry[0]["reason"] == RUN and registry[0]["attack"] == "T1547.001"  # exact in machine formats
    strong = [r for r in rows if r["rule"] == "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"]
    assert strong[0]["evidence"] == [1, 2] and strong[0]["status"] == "reconstructed-only"


@pytest.mark.parametrize(("args", "rules"), [
    (["--min-severity", "6"], {"POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN",
                               "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION", "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"}),
    (["--detection", "THREAD_HIJACK_INTENT"], {"THREAD_HIJACK_INTENT/thread"}),
    (["--detection", "HIGH_VALUE_REGISTRY_ACTIVITY"], {"HIGH_VALUE_REGISTRY_ACTIVITY"}),
    (["--pid", "300"], {"HIGH_VALUE_REGISTRY_ACTIVITY"}),
    (["--since", "2026-03-02T08:00:00.150Z", "--until", "2026-03-02T08:00:00.2Z"], {"HIGH_VALUE_REGISTRY_ACTIVITY"}),
    (["--detection", "x' OR '1'='1"], set()),  # a bound value, never SQL
])  # fmt: skip
def test_filters(case, args, rules):
    result = run("analyze", case, "--format", "jsonl", *args)
    assert result.exit_code == 0
    assert {json.loads(line)["rule"] for line in result.stdout.splitlines()} == rules


def test_csv(case):
    result = run("analyze", case, "--format", "csv", "--detection", "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION")
    assert result.stdout.splitlines()[0].startswith("id,host,rule,name,severity,reason,actor_pid")
    assert result.stdout.splitlines()[1].split(",")[-5] == "[1]"


def test_explain_decodes_the_chain_in_time_order(case):
    strong = next(json.loads(line) for line in run("analyze", case, "--format", "jsonl").stdout.splitlines()
              if '"KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"' in line)  # fmt: skip
    result = run("analyze", case, "--explain", strong["id"])
    assert result.exit_code == 0
    text = result.stdout
    assert "\x1b" not in text and "\x07" not in text
    assert text.index("event 1  handle") < text.index("event 2  thread  sleepwalker:etw:ThreadTelemetry")
    assert "access 0x001FFFFF PROCESS_ALL_ACCESS" in text
    assert "STACK_SPOOF_SUSPECT" in text
    assert "frames ntdll.dllred]0;title+0x9DC14, 0x1234" not in text  # OSC sequences go whole
    assert "frames ntdll.dllred+0x9DC14, 0x1234" in text
    assert "start region 0x00000040 (XRW) PRIVATE COMMIT" in text
    assert "marks +REMOTE_THREAD|OUTSIDE_IMAGE|NON_IMAGE_EXEC|MEMORY_INTENT|THREAD_CONTEXT_INTENT" in text
    assert "correlation ProcessMemory|ThreadContext" in text


def test_explain_of_a_live_only_tamper_row_says_why(case):
    tamper = next(json.loads(line) for line in run("analyze", case, "--format", "jsonl").stdout.splitlines()
              if "DRIVER_DISPATCH" in line)  # fmt: skip
    text = run("analyze", case, "--explain", tamper["id"]).stdout
    assert "status    live-only" in text and "not reconstructible" in text


def test_explain_of_an_unknown_id_is_one_line(case):
    result = run("analyze", case, "--explain", "999")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: detection 999: no such id in this case (list the ids")


def test_unreadable_case_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    result = run("analyze", bad)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}: not a readable Parquet file")
    assert len(result.stderr.splitlines()) == 1
    missing = run("analyze", tmp_path / "nope.parquet")
    assert missing.exit_code == 1 and f"{tmp_path / 'nope.parquet'}: no such case file" in missing.stderr


def test_a_host_with_more_than_256_chain_keys_in_60_s_warns(tmp_path):
    rows = [{"family": "thread", "ms": i, "actor_pid": 10_000 + 4 * i, "target_pid": 8, "outside_main_image": True,
             "corr_flags": 1} for i in range(300)]  # fmt: skip
    result = run("analyze", write_case(tmp_path / "busy.parquet", rows, host="BUSY"))
    assert result.exit_code == 0
    assert (
        "warning: host BUSY: the kernel mark chain keeps 256 entries; 300 keys were live within 60 s, so the driver "
        "evicted or took over entries that the per-key reconstruction keeps (docs/detections.md section 12)"
    ) in result.stderr.splitlines()


def test_apc_ring_limit_warns(tmp_path):
    rows = [{"family": "handle", "ms": i, "actor_pid": 10_000 + 4 * i, "target_pid": 8, "access_mask": 0x10,
             "is_thread_object": True} for i in range(65)]  # fmt: skip
    result = run("analyze", write_case(tmp_path / "apc.parquet", rows, host="APC"))
    assert "warning: host APC: the APC monitor's cooldown ring has 64 unkeyed slots; 65 intents" in result.stderr


def test_an_empty_case_has_no_detections(tmp_path):
    result = run("analyze", write_case(tmp_path / "empty.parquet", []), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert result.stderr == "0 confirmed, 0 reconstructed-only, 0 live-only\n"
