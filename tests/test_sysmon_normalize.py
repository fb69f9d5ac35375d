"""Windows event values to their case form: numbers, GUIDs, images, escaped text, call traces and their origin class."""

from __future__ import annotations

import pyarrow as pa
import pytest

from swk.capture.sysmon import calltrace
from swk.capture.sysmon import normalize as nz


@pytest.mark.parametrize(("raw", "want"), [
    (944, 944), ("944", 944), (" 944 ", 944), ("0xd18", 0xD18), ("0X1FFFFF", 0x1FFFFF),
    ("0x0000023FAD900000", 0x23FAD900000),
    ("0xFFFFF8061A2B3C4D", 0xFFFFF8061A2B3C4D - (1 << 64)),  # a kernel address keeps its bits
    (2**64 - 1, -1), ("", None), ("-", None), ("0x", None), ("12ab", None), (None, None), (True, None),
    (2**64, None),
])  # fmt: skip
def test_integer_reads_every_spelling_and_refuses_the_rest(raw, want):
    assert nz.integer(raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("747F3D96-A591-5EFB-0000-00109FE4CC01", "{747f3d96-a591-5efb-0000-00109fe4cc01}"),  # EVTX: bare, upper
    ("{39e4a257-f247-5f8b-d300-000000000700}", "{39e4a257-f247-5f8b-d300-000000000700}"),  # OTRF: braced, lower
    (" {39E4A257-F247-5F8B-D300-000000000700} ", "{39e4a257-f247-5f8b-d300-000000000700}"),
    ("not-a-guid", "not-a-guid"), (None, None),
])  # fmt: skip
def test_guid_one_form_for_joins_else_as_written(raw, want):
    assert nz.guid(raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("C:\\Windows\\System32\\notepad.exe", "C:\\Windows\\System32\\notepad.exe"),
    ("C:\\Users\\张三\\a.exe", "C:\\Users\\张三\\a.exe"),  # non-ASCII after a drive is a path
    ("\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe", "\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe"),
    ("\\\\?\\C:\\x.exe", "\\\\?\\C:\\x.exe"), ("System", "System"), ("MemCompression", "MemCompression"),
    ("<unknown process>", "<unknown process>"), ("wardog.exe", "wardog.exe"),
    # Sysmon's garbled SourceImage values, as found in EVTX-ATTACK-SAMPLES
    ("耙甯\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", None), ("\u3100", None),
    ("50\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", None), ("\r", None), ("", None), (None, None),
    ("C:\\bad\x00name.exe", None),
])  # fmt: skip
def test_image_keeps_paths_and_names_and_drops_garbage(raw, want):
    assert nz.image(raw) == want


def test_garbled_counts_only_non_empty_values_made_null():
    raw = ["C:\\a.exe", "\u3100", "", None, "50\\x.exe"]
    assert nz.garbled(raw, [nz.image(v) for v in raw]) == 2


@pytest.mark.parametrize(("raw", "want"), [
    ("&lt;unknown process&gt;", "<unknown process>"), ("1&amp;841921d&amp;0", "1&841921d&0"),
    ("echo. &gt;&gt; log", "echo. >> log"), ("&amp;lt;", "&lt;"), ("&quot;a&apos;", "\"a'"), ("plain", "plain"),
    (None, None),
])  # fmt: skip
def test_unescape_xml_undoes_one_level_of_exporter_escaping(raw, want):
    assert nz.unescape_xml(raw) == want


def test_module_dash_and_empty_both_mean_no_module_and_null_stays_null():
    assert [nz.module(v) for v in ("-", "", None, "C:\\x.dll")] == ["", "", None, "C:\\x.dll"]


def test_memo_remembers_and_survives_unhashable_values():
    calls = []
    memo = nz.Memo(lambda v: calls.append(v) or nz.integer(v))
    assert memo.map(["1", "1", "0x2", None]) == [1, 1, 2, None]
    assert calls == ["1", "0x2", None]
    assert memo.map(["1", {"nested": 1}]) == [1, None]


def test_utc_times_fast_path_and_slow_path_agree():
    fast, bad = nz.utc_times(["2020-10-23 07:12:04.346", None])
    slow, bad_slow = nz.utc_times(["2020-10-23 07:12:04.346", "garbage"])
    assert bad == 0 and bad_slow == 1
    assert fast[0] == slow[0]
    assert fast.to_pylist()[0].isoformat() == "2020-10-23T07:12:04.346000+00:00"


def test_zoned_times_take_a_zone_and_refuse_local_times():
    out, bad = nz.zoned_times(["2020-06-30T20:50:25.546713Z", "2020-10-12 18:32:46", "2020-10-23T03:12:04.351+02:00"])
    assert bad == 1
    assert [t.isoformat() if t else None for t in out.to_pylist()] == [
        "2020-06-30T20:50:25.546713+00:00",
        None,
        "2020-10-23T01:12:04.351000+00:00",
    ]


# --- CallTrace -> frames and the origin class (spec 4.2/4.4 user-mode heuristic on the innermost frame) -----------

NTDLL_FIRST = ("C:\\windows\\SYSTEM32\\ntdll.dll+9c584|C:\\windows\\System32\\KERNELBASE.dll+2b4fe|"
               "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe+13c8a")  # fmt: skip


def _origin(trace: object) -> dict[str, object]:
    return dict(zip(calltrace.ORIGIN_COLUMNS, calltrace.parse(trace).origin, strict=True))


def test_frames_are_module_plus_offset_or_only_an_address():
    parsed = calltrace.parse(NTDLL_FIRST + "|UNKNOWN(000001F3C35A0014)")
    assert parsed.modules == ("C:\\windows\\SYSTEM32\\ntdll.dll", "C:\\windows\\System32\\KERNELBASE.dll",
                              "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe", None)  # fmt: skip
    assert parsed.offsets == (0x9C584, 0x2B4FE, 0x13C8A, None)
    assert parsed.addresses == (None, None, None, 0x1F3C35A0014)


def test_wow64_suffix_and_unrecognised_frames():
    parsed = calltrace.parse("C:\\Windows\\SYSTEM32\\ntdll.dll+712bc(wow64)|UNKNOWN(00000000)(wow64)|C:\\x#\\trunc")
    assert parsed.modules == ("C:\\Windows\\SYSTEM32\\ntdll.dll", None, "C:\\x#\\trunc")
    assert parsed.offsets == (0x712BC, None, None)
    assert parsed.addresses == (None, 0, None)


def test_through_ntdll_is_legitimate_syscall():
    assert _origin(NTDLL_FIRST) == {"frame_count": 3, "origin_address": None,
                                    "origin_path": "C:\\windows\\SYSTEM32\\ntdll.dll", "from_ntdll": True,
                                    "from_exe": False, "class_id": 1, "class_name": "LEGITIMATE-SYSCALL"}  # fmt: skip


def test_unbacked_innermost_frame_is_direct_syscall_suspect_with_an_empty_origin_path():
    origin = _origin("UNKNOWN(000001F3C35A0014)|C:\\windows\\SYSTEM32\\ntdll.dll+9c584")
    assert origin["class_id"] == 2 and origin["class_name"] == "DIRECT-SYSCALL-SUSPECT"
    assert origin["origin_path"] == "" and origin["origin_address"] == 0x1F3C35A0014
    assert origin["from_ntdll"] is False and origin["from_exe"] is False


def test_exe_innermost_frame_is_direct_syscall_suspect():
    origin = _origin("C:\\Lab\\inject.EXE+1f4e|C:\\windows\\System32\\KERNEL32.DLL+17c24")
    assert (origin["class_id"], origin["from_exe"], origin["from_ntdll"]) == (2, True, False)


def test_any_other_innermost_module_is_unknown_origin():
    origin = _origin("C:\\windows\\System32\\KERNELBASE.dll+2b4fe|C:\\windows\\SYSTEM32\\ntdll.dll+9c584")
    assert (origin["class_id"], origin["class_name"]) == (0, "UNKNOWN-ORIGIN")


def test_empty_trace_is_carried_with_no_frames_and_a_missing_one_is_null():
    assert calltrace.parse("").addresses == () and _origin("")["class_name"] == "UNKNOWN-ORIGIN"
    assert _origin("")["frame_count"] == 0
    assert calltrace.parse(None) is calltrace.NO_TRACE and _origin(None)["class_id"] is None


def test_columns_build_frames_per_row_from_distinct_traces():
    memo = nz.Memo(calltrace.parse)
    traces = memo.map([NTDLL_FIRST, None, "UNKNOWN(10)", NTDLL_FIRST, ""])
    cols = calltrace.columns(traces)
    frames = cols["frames"].to_pylist()
    assert frames[0] == frames[3] and len(frames[0]) == 3
    assert frames[1] is None and frames[4] == []
    assert frames[2] == [{"address": 16, "module": None, "offset": None}]
    assert cols["class_id"].to_pylist() == [1, None, 2, 1, 0]
    assert cols["frames"].type == pa.list_(calltrace.FRAME)
