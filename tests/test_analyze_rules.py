"""Every rule of docs/detections.md, positive and near-miss per clause, and the floor-ms boundaries, through both
engines: the SQL views and `swk.kernel.model` must each give exactly the expected detections."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from swk.analyze import engine as sql_engine
from swk.analyze.queries import COLUMNS
from swk.analyze.testing import T0_US, write_case
from swk.kernel import model

HOST = "WS01"
ETW_THREAD = "sleepwalker:etw:ThreadTelemetry"
_cases = itertools.count()


def _us(value: Any) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


@pytest.fixture(params=["model", "sql"])
def detect(request: pytest.FixtureRequest, tmp_path):
    """rows -> the detections table as dicts (times as int µs), computed by one engine."""

    def run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if request.param == "sql":
            con = sql_engine.connect(write_case(tmp_path / f"case{next(_cases)}.parquet", rows, host=HOST))
            out = []
            for values in con.execute(f"SELECT {', '.join(COLUMNS)} FROM detections ORDER BY id").fetchall():
                row = dict(zip(COLUMNS, values, strict=True))
                row.update(ts=_us(row["ts"]), first_ts=_us(row["first_ts"]), last_ts=_us(row["last_ts"]),
                           evidence=tuple(row["evidence"]))  # fmt: skip
                out.append(row)
            return out
        plain = []
        for i, row in enumerate(rows, 1):
            r = {k: v for k, v in row.items() if k != "ms"}
            r.update(event_id=i, host=row.get("host", HOST), ts=T0_US + round(row["ms"] * 1000))
            plain.append(r)
        return [{c: getattr(d, c) for c in COLUMNS} for d in model.analyze(plain, table="per-key")]

    return run


def fired(detections: list[dict[str, Any]], rule: str | None = None) -> list[tuple[Any, ...]]:
    """(rule, trigger event id, evidence) of each detection, optionally of one rule."""
    return [(d["rule"], d["trigger_event_id"], d["evidence"]) for d in detections if rule in (None, d["rule"])]


def handle(ms: float, **kw: Any) -> dict[str, Any]:
    return {"family": "handle", "ms": ms, "actor_pid": 100, "target_pid": 200, "access_mask": 0x1FFFFF,
            "class_id": 1, **kw}  # fmt: skip


def thread(ms: float, **kw: Any) -> dict[str, Any]:
    return {"family": "thread", "kind": "sleepwalker:ioctl:thread", "ms": ms, "actor_pid": 100, "target_pid": 200,
            "outside_main_image": False, "corr_flags": 0, **kw}  # fmt: skip


VALID = 0x3C600  # every stack check passed


# --- 1. handle operations: class_id = 2; STACK also needs flags with an anomaly ----------------------------------


@pytest.mark.parametrize(("row", "expected"), [
    (handle(0, class_id=2, flags=VALID), ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION"]),
    (handle(0, class_id=1, flags=VALID | 0x800), []),  # near-miss: class
    (handle(0, class_id=2, flags=VALID | 0x800), ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION",
                                                  "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP"]),  # spoof suspect
    (handle(0, class_id=2, flags=VALID & ~0x8000), ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION",
                                                    "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP"]),  # unwind check failed
    (handle(0, class_id=2), ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION"]),  # no flags (ETW): anomaly unknown
])  # fmt: skip
def test_handle_rules(detect, row, expected):
    got = detect([row])
    assert [d["rule"] for d in got] == expected
    assert all((d["corr_flags"], d["corr_access_mask"], d["corr_age_ms"]) == (0, 0x1FFFFF, 0) for d in got)


# --- 2. APC monitor --------------------------------------------------------------------------------------------


def apc_open(ms: float, mask: int = 0x10, **kw: Any) -> dict[str, Any]:
    return handle(ms, is_thread_object=True, access_mask=mask, **kw)


@pytest.mark.parametrize(("row", "expected"), [
    (apc_open(0, 0x10), ["REMOTE_APC_CREATION_SUSPECT"]),
    (apc_open(0, 0x12), ["THREAD_HIJACK_INTENT/apc"]),
    (apc_open(0, 0x02), []),  # near-miss: no SET_CONTEXT
    (apc_open(0, 0x10, target_pid=100), []),  # near-miss: not remote
    (handle(0, access_mask=0x10, is_thread_object=False), []),  # near-miss: a process handle
])  # fmt: skip
def test_apc_route_b_conditions(detect, row, expected):
    assert [d["rule"] for d in detect([row])] == expected


def test_apc_route_b_cooldown_is_2000_floor_ms_per_key(detect):
    rows = [apc_open(0), apc_open(1999.999), apc_open(2000), apc_open(2001), apc_open(2500, 0x12), apc_open(4000)]
    assert [d["trigger_event_id"] for d in detect(rows)] == [1, 3, 5, 6]


def test_apc_route_a_takes_the_first_later_handle_row_of_the_same_operation(detect):
    rows = [
        {"family": "apc", "ms": 0, "actor_pid": 100, "target_pid": 200, "class_name": "THREAD_CONTEXT_INTENT",
         "access_mask": 0x12},
        apc_open(0, 0x12),  # same µs, later event id: the same operation
        apc_open(500, 0x12),
        {"family": "apc", "ms": 3000, "actor_pid": 100, "target_pid": 200, "class_name": "REMOTE_APC_INTENT",
         "access_mask": 0x10},
        apc_open(4001, 0x10),  # 1001 ms later: too late
        apc_open(5000, 0x10),  # route B does not run on a host with apc rows
    ]  # fmt: skip
    assert fired(detect(rows)) == [("THREAD_HIJACK_INTENT/apc", 1, (1, 2)), ("REMOTE_APC_CREATION_SUSPECT", 4, (4,))]


# --- 3. per-thread rules ---------------------------------------------------------------------------------------

NON_IMAGE = {"got_start": True, "start_region_exec": True, "start_region_status": 0, "start_region_type": 0x20000}


@pytest.mark.parametrize(("row", "expected"), [
    (thread(0, corr_flags=1), ["REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT"]),
    (thread(0, corr_flags=1, target_pid=100), []),  # near-miss: local
    (thread(0, **NON_IMAGE), ["REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION"]),
    (thread(0, **{**NON_IMAGE, "start_region_type": 0x1000000}), []),  # near-miss: an image region
    (thread(0, **{**NON_IMAGE, "start_region_status": -1073741275}), []),  # near-miss: the query failed
    (thread(0, **{**NON_IMAGE, "start_region_exec": None}), []),  # unknown never fires
    (thread(0, outside_main_image=True), ["REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"]),
    (thread(0, outside_main_image=True, corr_flags=2, target_pid=100), ["THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT"]),
    (thread(0, outside_main_image=True, corr_flags=2),
     ["REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE",
      "THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT", "THREAD_HIJACK_INTENT/thread",
      "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM"]),
    (thread(0, outside_main_image=True, corr_flags=5),
     ["REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE",
      "POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN", "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION",
      "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"]),
    (thread(0, outside_main_image=True, corr_flags=4),
     ["REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE",
      "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION", "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM"]),
])  # fmt: skip
def test_per_thread_rules_in_emission_order(detect, row, expected):
    assert [d["rule"] for d in detect([row])] == expected


def test_intents_are_the_handle_rows_of_the_pair_at_most_5000_floor_ms_before(detect):
    rows = [
        handle(0),  # 5001 ms before: out
        handle(1.0005),  # 5000.9995 ms before: floor 5000, in
        handle(3000, actor_pid=101),  # another actor
        handle(5001),  # same µs, earlier event id: in
        thread(5001, corr_flags=1, corr_access_mask=0x1FFFFF, corr_age_ms=0),
        handle(5001),  # same µs, later event id: out
        thread(5002),  # no recorded correlation: no intents
    ]
    got = detect(rows)
    assert fired(got) == [("REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", 5, (2, 4, 5))]
    assert got[0]["first_ts"] == T0_US + 1000 and got[0]["last_ts"] == T0_US + 5_001_000


# --- 4. kernel mark chain: anchored 30 s window, cooldowns kept across resets ------------------------------------


def suspicious(ms: float, **kw: Any) -> dict[str, Any]:
    """REMOTE|OUTSIDE_IMAGE, no intent: half of a medium."""
    return thread(ms, outside_main_image=True, **kw)


def memory(ms: float, **kw: Any) -> dict[str, Any]:
    """REMOTE|MEMORY_INTENT without a suspicious start: the other half."""
    return thread(ms, corr_flags=1, **kw)


@pytest.mark.parametrize(("second_ms", "medium"), [(29999, True), (30000, True), (30000.999, True), (30001, False)])
def test_mark_chain_window_is_30000_floor_ms_and_the_resetting_row_loses_its_marks(detect, second_ms, medium):
    got = detect([suspicious(0), memory(second_ms), suspicious(second_ms + 1)])
    chain = fired(got, "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM")
    assert chain == ([("KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", 2, (1, 2))] if medium else [])


@pytest.mark.parametrize(("gap_ms", "emits"), [(2999, [1, 3]), (2999.999, [1, 3]), (3000, [1, 2, 3]), (3001, [1, 2])])
def test_mark_chain_medium_cooldown_is_3000_floor_ms_inclusive(detect, gap_ms, emits):
    # the third row is 6000 ms after the first: it emits unless the second emitted less than 3000 ms before it
    rows = [suspicious(0, corr_flags=4), suspicious(gap_ms, corr_flags=4), suspicious(6000, corr_flags=4)]
    assert [t for _, t, _ in fired(detect(rows), "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM")] == emits


def test_mark_chain_medium_fires_while_strong_cools_down_and_corr_accumulates(detect):
    rows = [
        suspicious(0, corr_flags=5, corr_access_mask=0x1000, corr_age_ms=7),  # strong at once
        suspicious(1000, corr_flags=4, corr_access_mask=None, corr_age_ms=0),  # strong cooling: medium
        suspicious(2000, corr_flags=4, corr_access_mask=0x20, corr_age_ms=None),  # both cooling
        suspicious(3000, corr_flags=None, corr_access_mask=None, corr_age_ms=None),  # strong again
    ]  # fmt: skip
    got = [d for d in detect(rows) if d["rule"].startswith("KERNEL_")]
    assert [(d["rule"][-6:], d["trigger_event_id"]) for d in got] == [("STRONG", 1), ("MEDIUM", 2), ("STRONG", 4)]
    assert [(d["corr_flags"], d["corr_access_mask"], d["corr_age_ms"]) for d in got] == [
        (5, 0x1000, 7), (5, 0x1000, 7), (5, 0x1020, 7)]  # fmt: skip
    assert got[-1]["evidence"] == (1, 2, 3, 4)


def test_mark_chain_keys_actor_zero_as_the_target(detect):
    rows = [thread(0, actor_pid=0, outside_main_image=True, corr_flags=4)]
    chain = [d for d in detect(rows) if d["rule"] == "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM"]
    assert [(d["actor_pid"], d["target_pid"]) for d in chain] == [(200, 200)]


# --- 5. ntdll ----------------------------------------------------------------------------------------------------


def ntdll(ms: float, pid: int = 8, path: str = r"\Device\HarddiskVolume3\Windows\System32\NTDLL.dll",
          **kw: Any) -> dict[str, Any]:  # fmt: skip
    return {"family": "image", "ms": ms, "actor_pid": pid, "target_pid": pid, "image_path": path, **kw}


def test_ntdll_path_and_the_512_slot_counter(detect):
    rows = [
        ntdll(0),
        ntdll(1, path=r"\KnownDlls\ntdll.dll"),  # known-good path, still counted
        ntdll(2, pid=2056),  # (2056 >> 2) % 512 == (8 >> 2) % 512: resets the slot
        ntdll(3),  # count 1 again
        ntdll(4, is_system_mode=True),  # kernel image: not counted
        ntdll(5, path=r"\Windows\System32\kernel32.dll"),
        ntdll(6),
    ]
    got = detect(rows)
    assert fired(got, "MULTIPLE_NTDLL_IMAGE_MAPPINGS") == [("MULTIPLE_NTDLL_IMAGE_MAPPINGS", 2, (1, 2)),
                                                           ("MULTIPLE_NTDLL_IMAGE_MAPPINGS", 7, (4, 7))]  # fmt: skip
    suspicious_paths = [d for d in got if d["rule"] == "SUSPICIOUS_NTDLL_IMAGE_PATH"]
    assert [d["trigger_event_id"] for d in suspicious_paths] == [1, 3, 4, 7]
    assert suspicious_paths[0]["reason"] == rows[0]["image_path"]


# --- 6. registry -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "attack"), [
    (r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce", "T1547.001"),
    (r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\x.exe",
     "T1546.012"),
    (r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\evil", "T1543.003"),
    (r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer", None),
])  # fmt: skip
def test_high_value_registry(detect, key, attack):
    got = detect([{"family": "registry", "ms": 0, "actor_pid": 77, "key_path": key, "is_high_value": False}])
    assert [(d["attack"], d["reason"], d["actor_pid"], d["target_pid"]) for d in got] == (
        [(attack, key, 77, 0)] if attack else [])  # fmt: skip


# --- 9. controller chain -----------------------------------------------------------------------------------------


def etw_thread(ms: float, **kw: Any) -> dict[str, Any]:
    """A controller thread step: start outside the main image (THREAD_START_OUTSIDE_IMAGE|IMAGE_DRIFT)."""
    return thread(ms, **{"kind": ETW_THREAD, "start_address": 0x10000, "image_base": 0x400000, "image_size": 0x1000,
                         **kw})  # fmt: skip


def ti(ms: float, task: int, name: str = "KERNEL_THREATINT_TASK", **kw: Any) -> dict[str, Any]:
    return {"family": "ti", "ms": ms, "actor_pid": 100, "target_pid": 200, "task": task, "event_name": name, **kw}


def injection(start: float, size: int = 0x8000) -> list[dict[str, Any]]:
    return [ti(start, 1, region_size=size, protect=0x04), ti(start + 1, 7), ti(start + 2, 2, protect=0x20,
                                                                                 old_protect=0x04)]  # fmt: skip


def controller(detections: list[dict[str, Any]]) -> list[tuple[str, int, int | None]]:
    return [(d["rule"], d["trigger_event_id"], d["marks"]) for d in detections if d["engine"] == "controller"]


def test_controller_medium_strong_and_txf(detect):
    assert controller(detect([etw_thread(0), *injection(10)])) == [("PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", 4, 0x12E)]
    suspended = ti(0, 0, "CreateProcess", creation_flags=4)
    assert controller(detect([suspended, etw_thread(5), *injection(10)])) == [
        ("PROCESS_HOLLOWING_MARK_CHAIN_STRONG", 5, 0x12F)]  # fmt: skip
    txf = ti(1, 0, "NtRollbackTransaction")
    assert controller(detect([suspended, txf, etw_thread(5), *injection(10)])) == [
        ("PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN", 6, 0x32F)]  # fmt: skip


@pytest.mark.parametrize("row", [
    etw_thread(0, kind="sleepwalker:ioctl:thread"),  # IOCTL thread records are not the controller's input
    etw_thread(0, start_address=0x400100),  # start inside [image_base, image_base + image_size)
])  # fmt: skip
def test_controller_near_miss_without_a_thread_mark(detect, row):
    assert controller(detect([row, *injection(10)])) == []


def test_controller_near_miss_small_allocation(detect):
    assert controller(detect([etw_thread(0), *injection(10, size=0x7FFF)])) == []


@pytest.mark.parametrize(("gap_ms", "emits"), [(3000, [4]), (3000.999, [4]), (3001, [4, 5])])
def test_controller_cooldown_is_strictly_more_than_3000_floor_ms(detect, gap_ms, emits):
    rows = [etw_thread(0), *injection(10), ti(12 + gap_ms, 7)]  # the medium marks stay in the window
    assert [t for _, t, _ in controller(detect(rows))] == emits


def test_controller_window_reset_loses_the_resetting_step(detect):
    rows = [etw_thread(0), ti(30001, 1, region_size=0x8000, protect=0x04), *injection(30002)]
    assert controller(detect(rows)) == []
