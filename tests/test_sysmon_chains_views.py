"""The Sysmon-derived facts of the chain views (docs/detections.md "Sysmon-derived facts"): a positive Sysmon 10 ->
Sysmon 8 chain, and one near-miss per clause of each derivation, on small inline cases through the SQL views.

The model (`swk.kernel.model`) replays Sleepwalker telemetry only; Sysmon rows are the views' alone, so these tests
run the SQL engine. tests/test_analyze_agreement.py holds both engines to the same answer on Sleepwalker rows.
"""

from __future__ import annotations

from typing import Any

import pytest

from swk.analyze import engine
from swk.analyze.testing import write_case

A, T = "{aaaaaaaa-0000-0000-0000-000000000001}", "{aaaaaaaa-0000-0000-0000-000000000002}"
INJECTOR = "C:\\Users\\eve\\inject.exe"
NOTEPAD = "C:\\Windows\\System32\\notepad.exe"
NTDLL = "C:\\Windows\\SYSTEM32\\ntdll.dll"
BASE = "C:\\Windows\\System32\\KERNELBASE.dll"
CHAIN = "REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT"
NON_IMAGE = "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION"
OUTSIDE = "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"
MANUAL_MAP = "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION"
MEDIUM = "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM"
DIRECT = "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION"


def frame(module: str | None, value: int) -> dict[str, Any]:
    """A CallTrace frame as the reader maps it: `module+offset`, or `UNKNOWN(address)` (no module)."""
    if module is None:
        return {"address": value, "module": None, "offset": None}
    return {"address": None, "module": module, "offset": value}


CLEAN = [frame(NTDLL, 0x9D204), frame(BASE, 0x2B6A4), frame(INJECTOR, 0x1234)]


def access(ms: float, **kw: Any) -> dict[str, Any]:
    """A Sysmon 10 process access, as the reader maps it (class from the innermost frame: ntdll)."""
    return {"family": "handle", "kind": "sysmon:10", "ms": ms, "actor_pid": 100, "target_pid": 200,
            "access_mask": 0x1FFFFF, "class_id": 1, "class_name": "LEGITIMATE-SYSCALL", "actor_guid": A,
            "target_guid": T, "actor_image": INJECTOR, "target_image": NOTEPAD, "frames": CLEAN, **kw}  # fmt: skip


def thread(ms: float, **kw: Any) -> dict[str, Any]:
    """A Sysmon 8 remote thread starting in no module (StartModule `-` or empty)."""
    return {"family": "thread", "kind": "sysmon:8", "ms": ms, "actor_pid": 100, "target_pid": 200, "tid": 7,
            "start_address": 0x23FAD900000, "got_start": True, "is_remote": True, "start_module": "",
            "start_function": "", "actor_guid": A, "target_guid": T, "actor_image": INJECTOR,
            "target_image": NOTEPAD, **kw}  # fmt: skip


@pytest.fixture
def detect(tmp_path):
    """rows -> {rule: detection} of the detections triggered by each row (event ids are row positions)."""
    n = iter(range(1000))

    def run(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        con = engine.connect(write_case(tmp_path / f"case{next(n)}.parquet", rows))
        cols = ["rule", "trigger_event_id", "evidence", "corr_flags", "corr_access_mask", "corr_age_ms",
                "confidence", "derived_facts", "actor_image", "target_image", "allowed_by"]  # fmt: skip
        out = {}
        for values in con.execute(f"SELECT {', '.join(cols)} FROM detections ORDER BY id").fetchall():
            row = dict(zip(cols, values, strict=True))
            out[row["rule"]] = row
        return out

    return run


def test_access_then_thread_is_the_chain_with_its_evidence_and_derived_facts(detect):
    # docs/detections.md 3: REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT: `remote AND corr_flags <> 0`; for Sysmon the
    # correlation is derived from the Sysmon 10 accesses of the same pair <= 5000 ms before the thread.
    got = detect([access(0), access(40, access_mask=0x143A), thread(100)])
    assert set(got) == {CHAIN, NON_IMAGE, OUTSIDE, MANUAL_MAP, MEDIUM}
    chain = got[CHAIN]
    assert (chain["trigger_event_id"], chain["evidence"]) == (3, [1, 2, 3])
    assert (chain["corr_flags"], chain["corr_access_mask"], chain["corr_age_ms"]) == (1, 0x1FFFFF, 60)
    assert (chain["confidence"], chain["actor_image"], chain["target_image"]) == ("sysmon-derived", INJECTOR, NOTEPAD)
    assert {rule: d["derived_facts"] for rule, d in got.items()} == {
        CHAIN: ["intent:sysmon-10"],
        NON_IMAGE: ["non-image:no-start-module"],
        OUTSIDE: ["outside:start-module"],
        MANUAL_MAP: ["intent:sysmon-10", "non-image:no-start-module", "outside:start-module"],
        MEDIUM: ["intent:sysmon-10", "non-image:no-start-module", "outside:start-module"],
    }


@pytest.mark.parametrize(("rows", "chained"), [
    ([access(0), thread(5000.999)], True),  # floor ms: 5000 is within the window
    ([access(0), thread(5001)], False),  # near-miss: 5001 ms
    ([thread(100), access(200)], False),  # near-miss: the access comes after the thread
    ([access(0, target_pid=201), thread(100)], False),  # near-miss: another target pid
    ([access(0, actor_pid=101), thread(100)], False),  # near-miss: another actor pid
    ([access(0, target_guid="{reused}"), thread(100)], False),  # near-miss: same pid, another process (GUID)
    ([access(0, actor_guid="{reused}"), thread(100)], False),  # near-miss: same actor pid, another process
    ([access(0, target_guid=None), thread(100)], True),  # a row without GUIDs joins by pids alone
    ([access(0, access_mask=0), thread(100)], False),  # near-miss: no PROCESS_ALL_ACCESS bit: the driver's gate
])  # fmt: skip
def test_the_intent_join_per_clause(detect, rows, chained):
    got = detect(rows)
    assert (CHAIN in got) is chained
    assert (MANUAL_MAP in got) is chained  # (outside OR non-image) AND mem
    assert NON_IMAGE in got and OUTSIDE in got  # the start alone, whatever the accesses
    if not chained:
        assert got[NON_IMAGE]["evidence"] == [len(rows) if rows[-1]["family"] == "thread" else 1]


@pytest.mark.parametrize(("start_module", "target_image", "rules"), [
    ("", NOTEPAD, {NON_IMAGE, OUTSIDE}),  # no module: non-image, and outside the main image
    ("C:\\Windows\\System32\\KERNEL32.DLL", NOTEPAD, {OUTSIDE}),  # near-miss: in a module (LoadLibrary)
    ("c:\\windows\\system32\\NOTEPAD.EXE", NOTEPAD, set()),  # near-miss: in the target's own image (any case)
    ("C:\\Windows\\System32\\KERNEL32.DLL", "<unknown process>", set()),  # target image unknown: outside unknown
    ("", "<unknown process>", {NON_IMAGE, OUTSIDE}),  # no module is outside whatever the target
    (None, NOTEPAD, set()),  # near-miss: StartModule not recorded: unknown facts never fire
])  # fmt: skip
def test_the_start_facts_per_clause(detect, start_module, target_image, rules):
    got = detect([thread(0, start_module=start_module, target_image=target_image)])
    assert set(got) - {MEDIUM} == rules


def test_a_local_thread_is_no_remote_start(detect):
    # `remote` = actor_pid <> target_pid: a process starting a thread in itself raises nothing
    assert detect([access(0, target_pid=100), thread(100, target_pid=100)]) == {}


@pytest.mark.parametrize(("frames", "direct"), [
    ([frame(None, 0x1F3C35A0014)], True),  # a trace of one UNKNOWN frame: an open issued from unbacked memory
    ([*CLEAN[:2], frame(None, 0x4352A30)], True),  # an unbacked frame among the first 8
    ([frame(NTDLL, 0x10)] * 7 + [frame(None, 0x4352A30)], True),  # the 8th frame: still kept by the driver
    ([frame(NTDLL, 0x10)] * 8 + [frame(None, 0x4352A30)], False),  # near-miss: the 9th, beyond the kept 8
    (CLEAN, False),  # near-miss: every frame in a module
])  # fmt: skip
def test_the_class_from_the_call_trace(detect, frames, direct):
    got = detect([access(0, frames=frames)])
    assert (DIRECT in got) is direct
    if direct:
        assert (got[DIRECT]["confidence"], got[DIRECT]["derived_facts"]) == ("sysmon-derived", ["class:calltrace"])


def test_a_thread_names_images_the_access_lacks_through_the_guid(detect):
    # Sysmon sometimes writes garbage into SourceImage (the reader leaves it NULL): the GUID names the process
    got = detect([access(0, actor_image=None), thread(100)])
    direct = detect([access(0, actor_image=None, frames=[frame(None, 0x10)]), thread(100)])[DIRECT]
    assert got[CHAIN]["actor_image"] == INJECTOR and direct["actor_image"] == INJECTOR


def test_sleepwalker_rows_keep_the_driver_correlation(detect):
    # Sleepwalker thread rows carry the correlation the driver recorded: a handle row before them is not re-joined
    rows = [{"family": "handle", "kind": "sleepwalker:ioctl:handle", "ms": 0, "actor_pid": 100, "target_pid": 200,
             "access_mask": 0x1FFFFF, "class_id": 1},
            {"family": "thread", "kind": "sleepwalker:ioctl:thread", "ms": 100, "actor_pid": 100,
             "target_pid": 200, "outside_main_image": True, "corr_flags": 0}]  # fmt: skip
    got = detect(rows)
    assert set(got) == {OUTSIDE}
    assert (got[OUTSIDE]["confidence"], got[OUTSIDE]["derived_facts"], got[OUTSIDE]["evidence"]) == ("driver", [], [2])
