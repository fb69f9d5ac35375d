"""The Sysmon/Security -> case mapping: each fact in the column a Sleepwalker source uses, nothing invented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swk.capture.sysmon import json_lines, mapping
from swk.capture.sysmon.samples import PROCESS_ACCESS, REMOTE_THREAD, collect, otrf_line
from swk.store.schema import EVENTS

README = Path(__file__).resolve().parents[1] / "README.md"


def _rows(tmp_path: Path, *lines: bytes):
    path = tmp_path / "events.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return collect(json_lines, path)


def _one(tmp_path: Path, line: bytes) -> dict:
    (row,) = _rows(tmp_path, line).rows.to_pylist()
    return row


def test_sysmon_10_is_a_handle_row_with_frames_and_the_derived_origin(tmp_path):
    row = _one(tmp_path, otrf_line(10, PROCESS_ACCESS))
    assert {
        k: row[k]
        for k in (
            "family",
            "kind",
            "event_name",
            "actor_pid",
            "target_pid",
            "tid",
            "access_mask",
            "actor_guid",
            "target_guid",
            "actor_image",
            "target_image",
            "host",
            "provider",
            "frame_count",
            "origin_address",
            "origin_path",
            "from_ntdll",
            "from_exe",
            "class_id",
            "class_name",
            "clock",
        )
    } == {
        "family": "handle",
        "kind": "sysmon:10",
        "event_name": "ProcessAccess",
        "actor_pid": 8972,
        "target_pid": 9908,
        "tid": 3616,
        "access_mask": 0x1FFFFF,
        "actor_guid": "{39e4a257-8244-5f92-c117-000000000700}",
        "target_guid": "{39e4a257-8244-5f92-c217-000000000700}",
        "actor_image": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
        "target_image": "C:\\Windows\\system32\\notepad.exe",
        "host": "WORKSTATION5",
        "provider": "Microsoft-Windows-Sysmon",
        "frame_count": 3,
        "origin_address": None,
        "origin_path": "C:\\windows\\SYSTEM32\\ntdll.dll",
        "from_ntdll": True,
        "from_exe": False,
        "class_id": 1,
        "class_name": "LEGITIMATE-SYSCALL",
        "clock": "sysmon-utc",
    }
    assert row["frames"][2] == {"address": None, "module": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
                                "offset": 0x13C8A}  # fmt: skip
    assert row["ts"].isoformat() == "2020-10-23T07:12:04.444000+00:00"
    assert row["raw_clock"] == 1603437124444000


# Columns only the driver knows: a Sysmon row must leave them NULL rather than guess.
NOT_CARRIED = ("exec_protect", "origin_protect", "flags", "stream_mask", "status_open_process", "deep_region_type",
               "is_thread_object", "is_duplicate", "start_region_protect", "start_region_exec", "outside_main_image",
               "corr_flags", "corr_access_mask", "corr_age_ms", "image_base", "image_size", "header_pid", "sequence",
               "creator_pid")  # fmt: skip


def test_nothing_sysmon_does_not_carry_is_filled(tmp_path):
    for row in _rows(tmp_path, otrf_line(10, PROCESS_ACCESS), otrf_line(8, REMOTE_THREAD)).rows.to_pylist():
        assert {c: row[c] for c in NOT_CARRIED} == dict.fromkeys(NOT_CARRIED), row["kind"]


def test_sysmon_8_is_a_thread_row_and_a_dash_start_module_means_no_module(tmp_path):
    row = _one(tmp_path, otrf_line(8, REMOTE_THREAD))
    assert {
        k: row[k]
        for k in (
            "family",
            "actor_pid",
            "target_pid",
            "tid",
            "start_address",
            "start_module",
            "start_function",
            "is_remote",
            "got_start",
            "actor_guid",
            "target_guid",
        )
    } == {
        "family": "thread",
        "actor_pid": 8972,
        "target_pid": 9908,
        "tid": 8488,
        "start_address": 0x23FAD900000,
        "start_module": "",
        "start_function": "",
        "is_remote": True,
        "got_start": True,
        "actor_guid": "{39e4a257-8244-5f92-c117-000000000700}",
        "target_guid": "{39e4a257-8244-5f92-c217-000000000700}",
    }


@pytest.mark.parametrize(("fields", "want"), [
    ({"StartModule": "", "StartFunction": ""}, ("", "", True, True)),  # the EVTX spelling of "no module"
    ({"StartModule": "C:\\windows\\System32\\KERNEL32.DLL", "StartFunction": "LoadLibraryA"},
     ("C:\\windows\\System32\\KERNEL32.DLL", "LoadLibraryA", True, True)),
    ({"TargetProcessId": "8972", "StartAddress": "0x0"}, ("", "", False, False)),
])  # fmt: skip
def test_sysmon_8_variants(tmp_path, fields, want):
    row = _one(tmp_path, otrf_line(8, {**REMOTE_THREAD, **fields}))
    assert (row["start_module"], row["start_function"], row["is_remote"], row["got_start"]) == want


def test_a_start_module_the_source_does_not_carry_stays_null(tmp_path):
    fields = {k: v for k, v in REMOTE_THREAD.items() if k not in ("StartModule", "StartFunction")}
    row = _one(tmp_path, otrf_line(8, fields))
    assert (row["start_module"], row["start_function"]) == (None, None)


def test_guid_spellings_of_sysmon_8_and_10_land_in_one_column(tmp_path):
    rows = _rows(tmp_path, otrf_line(10, PROCESS_ACCESS), otrf_line(8, REMOTE_THREAD)).rows.to_pylist()
    assert rows[0]["actor_guid"] == rows[1]["actor_guid"] and rows[0]["target_guid"] == rows[1]["target_guid"]


def test_sysmon_1_and_5_are_the_process_tree(tmp_path):
    create = {"ProcessGuid": "{39E4A257-8244-5F92-C117-000000000700}", "ProcessId": "8972",
              "Image": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe", "CommandLine": "PurpleSharp.exe  /t T1055.002",
              "ParentProcessGuid": "{39e4a257-805d-5f92-b417-000000000700}", "ParentProcessId": "4840",
              "ParentImage": "C:\\Windows\\System32\\cmd.exe", "TerminalSessionId": "2",
              "UtcTime": "2020-10-23 07:12:04.346"}  # fmt: skip
    exit_ = {"ProcessGuid": "{39e4a257-8244-5f92-c117-000000000700}", "ProcessId": "8972",
             "Image": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe", "UtcTime": "2020-10-23 07:12:04.553"}  # fmt: skip
    made, ended = _rows(tmp_path, otrf_line(1, create), otrf_line(5, exit_)).rows.to_pylist()
    assert {
        k: made[k]
        for k in (
            "family",
            "is_create",
            "actor_pid",
            "target_pid",
            "parent_pid",
            "creator_pid",
            "actor_guid",
            "target_guid",
            "actor_image",
            "target_image",
            "image_path",
            "command_line",
            "session_id",
        )
    } == {
        "family": "process",
        "is_create": True,
        "actor_pid": 4840,
        "target_pid": 8972,
        "parent_pid": 4840,
        "creator_pid": None,
        "actor_guid": "{39e4a257-805d-5f92-b417-000000000700}",
        "target_guid": "{39e4a257-8244-5f92-c117-000000000700}",
        "actor_image": "C:\\Windows\\System32\\cmd.exe",
        "target_image": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
        "image_path": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
        "command_line": "PurpleSharp.exe  /t T1055.002",
        "session_id": 2,
    }
    assert (ended["is_create"], ended["actor_pid"], ended["target_pid"], ended["target_guid"]) == (
        False,
        8972,
        8972,
        made["target_guid"],
    )


def test_sysmon_7_image_load_names_the_loaded_image(tmp_path):
    fields = {"ProcessGuid": "{39e4a257-805d-5f92-b417-000000000700}", "ProcessId": "4840",
              "Image": "C:\\Windows\\System32\\cmd.exe", "ImageLoaded": "C:\\Windows\\System32\\ntdll.dll",
              "Signed": "true", "UtcTime": "2020-10-23 07:12:04.342"}  # fmt: skip
    row = _one(tmp_path, otrf_line(7, fields))
    assert (row["family"], row["actor_pid"], row["target_pid"], row["image_path"], row["target_image"]) == (
        "image",
        4840,
        4840,
        "C:\\Windows\\System32\\ntdll.dll",
        "C:\\Windows\\System32\\cmd.exe",
    )
    assert row["is_signature_level_known"] is None  # Sysmon's Signed is not the driver's signature level


RUN = "HKU\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"


@pytest.mark.parametrize(("event_id", "fields", "want"), [
    (13, {"EventType": "SetValue", "TargetObject": RUN + "\\Updater", "Details": "C:\\x.exe"},
     ("SET_VALUE", RUN, "Updater", "C:\\x.exe", True)),
    (12, {"EventType": "CreateKey", "TargetObject": "HKLM\\SOFTWARE\\Foo"},
     ("CREATE_KEY", "HKLM\\SOFTWARE\\Foo", None, None, False)),
    (12, {"EventType": "DeleteValue", "TargetObject": "HKLM\\System\\CurrentControlSet\\Services\\x\\ImagePath"},
     ("DELETE_VALUE", "HKLM\\System\\CurrentControlSet\\Services\\x", "ImagePath", None, True)),
    (12, {"EventType": "DeleteKey", "TargetObject": RUN}, ("DELETE_KEY", RUN, None, None, True)),
    (14, {"EventType": "RenameKey", "TargetObject": "HKLM\\SOFTWARE\\A", "NewName": "HKLM\\SOFTWARE\\B"},
     ("RENAME_KEY", "HKLM\\SOFTWARE\\A", None, None, False)),
    # NXLog exports that lost Sysmon's EventType (it kept its own as EventTypeOrignal): 13 is still a set-value
    (13, {"EventTypeOrignal": "INFO", "TargetObject": RUN + "\\u", "Details": "x"}, ("SET_VALUE", RUN, "u", "x", True)),
    (12, {"EventTypeOrignal": "INFO", "TargetObject": "HKLM\\SOFTWARE\\Foo"}, (None, "HKLM\\SOFTWARE\\Foo", None, None,
                                                                              False)),
    (13, {"EventType": "SetValue", "TargetObject": "HKLM\\SYSTEM\\a&amp;b\\v", "Details": "1&amp;2"},
     ("SET_VALUE", "HKLM\\SYSTEM\\a&b", "v", "1&2", False)),
])  # fmt: skip
def test_registry_events(tmp_path, event_id, fields, want):
    row = _one(tmp_path, otrf_line(event_id, {"ProcessId": "1072", "Image": "C:\\windows\\Explorer.EXE", **fields}))
    assert (row["operation"], row["key_path"], row["value_name"], row["value_data"], row["is_high_value"]) == want
    assert (row["family"], row["actor_pid"], row["target_pid"]) == ("registry", 1072, None)


def test_sysmon_25_is_sysmons_own_tampering_verdict(tmp_path):
    fields = {"ProcessGuid": "{39e4a257-0000-0000-0000-000000000001}", "ProcessId": "5120", "Image": "C:\\x\\y.exe",
              "Type": "Image is replaced", "UtcTime": "2021-05-01 10:00:00.000"}  # fmt: skip
    row = _one(tmp_path, otrf_line(25, fields))
    assert {
        k: row[k] for k in ("family", "detection_name", "reason", "severity", "actor_pid", "target_pid", "target_image")
    } == {
        "family": "detection",
        "detection_name": "SYSMON_PROCESS_TAMPERING",
        "reason": "Image is replaced",
        "severity": None,
        "actor_pid": None,
        "target_pid": 5120,
        "target_image": "C:\\x\\y.exe",
    }


def _security(event_id: int, **fields: object) -> bytes:
    return otrf_line(event_id, fields, channel="security", created="2020-10-23T07:12:03.735Z")


def test_security_4688_process_create_with_hex_pids(tmp_path):
    row = _one(tmp_path, _security(4688, NewProcessId="0x230c", ProcessId="0x12e8", CommandLine="PurpleSharp.exe",
                                   NewProcessName="C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
                                   ParentProcessName="C:\\Windows\\System32\\cmd.exe"))  # fmt: skip
    assert {
        k: row[k]
        for k in (
            "kind",
            "family",
            "is_create",
            "actor_pid",
            "target_pid",
            "parent_pid",
            "creator_pid",
            "image_path",
            "actor_image",
            "command_line",
            "clock",
        )
    } == {
        "kind": "security:4688",
        "family": "process",
        "is_create": True,
        "actor_pid": 0x12E8,
        "target_pid": 0x230C,
        "parent_pid": 0x12E8,
        "creator_pid": 0x12E8,
        "image_path": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
        "actor_image": "C:\\Windows\\System32\\cmd.exe",
        "command_line": "PurpleSharp.exe",
        "clock": "export-time",
    }
    assert row["ts"].isoformat() == "2020-10-23T07:12:03.735000+00:00"


@pytest.mark.parametrize(
    ("object_type", "family", "thread"),
    [("Process", "handle", False), ("Thread", "handle", True), ("File", "generic", None), ("Key", "generic", None)],
)
def test_security_handle_requests_are_handles_only_for_processes_and_threads(tmp_path, object_type, family, thread):
    rows = _rows(tmp_path, *(_security(i, ObjectType=object_type, ObjectName="\\Device\\HarddiskVolume2\\lsass.exe",
                                       AccessMask="0x1010", ProcessId="0x2a0", ProcessName="C:\\Windows\\x.exe")
                             for i in (4656, 4663))).rows.to_pylist()  # fmt: skip
    for row, kind in zip(rows, ("security:4656", "security:4663"), strict=True):
        assert (row["kind"], row["family"], row["actor_pid"], row["is_thread_object"]) == (kind, family, 0x2A0, thread)
        assert row["access_mask"] == (0x1010 if family == "handle" else None)


def test_other_events_are_generic_with_their_process_or_the_log_headers(tmp_path):
    network = otrf_line(3, {"ProcessId": "2412", "ProcessGuid": "{39e4a257-0000-0000-0000-00000000000a}",
                            "Image": "C:\\x.exe", "UtcTime": "2020-10-23 07:12:04.000"})  # fmt: skip
    script = otrf_line(4104, {"ScriptBlockText": "Get-Process"}, channel="Microsoft-Windows-PowerShell/Operational",
                       ExecutionProcessID=5560, ThreadID=77, SourceName="Microsoft-Windows-PowerShell")  # fmt: skip
    first, second = _rows(tmp_path, network, script).rows.to_pylist()
    assert (first["kind"], first["family"], first["event_name"], first["actor_pid"]) == (
        "sysmon:3",
        "generic",
        "NetworkConnect",
        2412,
    )
    assert (second["kind"], second["actor_pid"], second["header_pid"], second["header_tid"]) == (
        "eventlog:Microsoft-Windows-PowerShell/Operational:4104",
        5560,
        5560,
        77,
    )
    assert json.loads(second["fields_json"])["ScriptBlockText"] == "Get-Process"


def test_exporter_escaping_is_undone_and_the_raw_value_kept(tmp_path):
    fields = {**REMOTE_THREAD, "TargetImage": "&lt;unknown process&gt;"}
    row = _one(tmp_path, otrf_line(8, fields))
    assert row["target_image"] == "<unknown process>"
    assert json.loads(row["fields_json"])["TargetImage"] == "&lt;unknown process&gt;"


def test_a_systematic_exporter_clock_skew_is_reported(tmp_path):
    out = _rows(tmp_path, *(otrf_line(10, PROCESS_ACCESS, created="2020-10-23T03:12:04.474Z") for _ in range(3)))
    assert out.ctx.warnings == ["the exporter's time (TimeCreated/@timestamp) differs from Sysmon's UtcTime by more "
                                "than 5 minutes in 3 of 3 events (mostly -4h00m): rows without UtcTime keep it as "
                                "written"]  # fmt: skip
    assert {t.hour for t in out.column("ts")} == {7}  # Sysmon rows still use UtcTime


def test_a_zoneless_local_time_is_not_taken_for_utc(tmp_path):
    line = json.dumps({"EventID": 4624, "Channel": "Security", "EventTime": "2020-10-12 18:32:46"}).encode()
    out = _rows(tmp_path, line)
    assert out.column("ts") == [None] and out.column("clock") == [None]
    assert out.ctx.warnings == ["1 exporter's time (TimeCreated/@timestamp) values unreadable or without a zone: "
                                "left NULL"]  # fmt: skip


def test_every_mapped_column_is_a_case_column():
    rules = [*mapping.SYSMON.values(), *mapping.SECURITY.values(), *mapping.SECURITY_HANDLE.values(),
             mapping.generic("sysmon", None, 3), mapping.generic("eventlog", "x", 1)]  # fmt: skip
    for rule in rules:
        assert rule.family in ("handle", "thread", "process", "image", "registry", "detection", "generic")
        for name in [c.column for c in rule.cols] + list(rule.const) + list(rule.derive):
            assert name in EVENTS.names, (rule.kind, name)


def test_readme_holds_the_mapping_table():
    text = README.read_text()
    assert "## Sysmon mapping" in text
    assert mapping.markdown_table() in text
