"""Realistic Sleepwalker ETW rows (the seven families plus TI) for the writer's tests and the ETL benchmark.

A light Windows 11 host: handle opens with real access masks and ntdll stacks (a few direct-syscall opens from an
injector), thread starts, APC intents, process and image events, registry writes, now and then a detection, and
Threat-Intelligence alloc/protect/write events. Values follow spec 2.2 and 2.3 (header pid 4 for work-item events).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from swk.capture.base import rows_to_batch
from swk.kernel.clock import FILETIME_UNIX_EPOCH

NTDLL = r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll"
NTDLL_BASE = 0x00007FFD_F740_0000
IMAGES = [r"\Device\HarddiskVolume3\Windows\System32\svchost.exe", r"\Device\HarddiskVolume3\Windows\explorer.exe",
          r"\Device\HarddiskVolume3\Program Files\Mozilla Firefox\firefox.exe", r"C:\Users\ana\Downloads\inj.exe"]  # fmt: skip
KEYS = [r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
        r"\REGISTRY\USER\S-1-5-21-1004336348-1177238915-682003330-1001\Software\Classes\ms-settings"]  # fmt: skip
# (family, weight): handle opens dominate, as on a real host.
MIX = [("handle", 45), ("thread", 14), ("apc", 6), ("process", 4), ("image", 12), ("registry", 14), ("detection", 3),
       ("ti", 2)]  # fmt: skip
EVENT = {"handle": "HandleTelemetry", "thread": "ThreadTelemetry", "apc": "ApcTelemetry",
         "process": "ProcessTelemetry", "image": "ImageTelemetry", "registry": "RegistryTelemetry",
         "detection": "DetectionTelemetry"}  # fmt: skip


TI_TASKS = {
    1: "KERNEL_THREATINT_TASK_ALLOCVM",
    2: "KERNEL_THREATINT_TASK_PROTECTVM",
    7: "KERNEL_THREATINT_TASK_WRITEVM",
}


def _i64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def row(family: str, rng: random.Random, filetime: int) -> dict[str, Any]:
    """One realistic row of `family` at `filetime`."""
    caller, target = rng.choice([4242, 1180, 6600, 924]), rng.choice([5150, 772, 4242, 3312])
    base: dict[str, Any] = {"family": family, "raw_clock": filetime, "clock": "filetime",
                            "ts": (filetime - FILETIME_UNIX_EPOCH) // 10, "header_tid": rng.randrange(100, 9000)}  # fmt: skip
    if family == "ti":
        task = rng.choice([1, 2, 7])
        event_id = {1: 1, 2: 2, 7: 14}[task]
        base.update(kind=f"ti:etw:{TI_TASKS[task]}", provider="Microsoft-Windows-Threat-Intelligence",
                    event_name=TI_TASKS[task], etw_event_id=event_id, etw_version=1, task=task, opcode=0, level=4,
                    keyword=0, header_pid=caller, actor_pid=caller, target_pid=target, base_address=0x1F4A0B70000,
                    region_size=0x20000 if task != 7 else None, protect=0x40 if task != 7 else None,
                    old_protect=0x04 if task == 2 else None)  # fmt: skip
        return base
    base["kind"] = f"sleepwalker:etw:{EVENT[family]}"
    if family == "handle":
        direct = rng.random() < 0.03
        frames = [NTDLL_BASE + 0x9DC14, 0x7FFDF4C12345, 0x7FF6C0DE1234][: rng.randint(1, 3)]
        if direct:
            frames = [0x1F4A0B70010]
        base.update(header_pid=4, class_name="DIRECT-SYSCALL-SUSPECT" if direct else "LEGITIMATE-SYSCALL",
                    actor_pid=caller, target_pid=target, access_mask=rng.choice([0x1FFFFF, 0x1410, 0x1000, 0x143A]),
                    origin_address=frames[0], origin_protect=0x40 if direct else 0x20, exec_protect=True,
                    from_ntdll=not direct, from_exe=False, origin_path="" if direct else NTDLL,
                    frame_count=len(frames), frames=[{"address": f} for f in frames], status_open_process=0,
                    status_basic_info=0, status_section_name=-1073741772 if direct else 0,
                    deep_alloc_base=0x1F4A0B70000 if direct else NTDLL_BASE, deep_region_size=0x1000,
                    deep_region_protect=0x40 if direct else 0x20, deep_region_state=0x1000,
                    deep_region_type=0x20000 if direct else 0x1000000, deep_sample_size=64 if direct else 0,
                    deep_sample=bytes(range(64)) if direct else b"")  # fmt: skip
        base["class_id"] = 2 if direct else 1
    elif family == "thread":
        remote = rng.random() < 0.05
        base.update(header_pid=4, target_pid=target, tid=rng.randrange(1000, 60000), actor_pid=caller if remote
                    else target, start_address=0x1F4A0B70000 if remote else 0x7FF6C0DE5000, image_base=0x7FF6C0DE0000,
                    image_size=0x1000, got_start=True, got_range=True, is_remote=remote, outside_main_image=True,
                    corr_flags=1 if remote else 0, corr_access_mask=0x1FFFFF if remote else 0, corr_age_ms=12,
                    start_region_protect=0x40 if remote else 0x20, start_region_state=0x1000,
                    start_region_type=0x20000 if remote else 0x1000000, start_region_status=0,
                    frame_count=2, frames=[{"address": _i64(0xFFFFF8061A2B3C4D)}, {"address": _i64(0xFFFFF8061A2B0000)}],
                    start_region_exec=True)  # fmt: skip
    elif family == "apc":
        base.update(header_pid=caller, class_name="REMOTE_APC_INTENT", actor_pid=caller, target_pid=target,
                    access_mask=0x1A, is_duplicate=False, corr_flags=0, corr_access_mask=0, corr_age_ms=0)  # fmt: skip
    elif family == "process":
        create = rng.random() < 0.6
        image = rng.choice(IMAGES)
        base.update(header_pid=caller, is_create=create, create_status=0, target_pid=target,
                    parent_pid=caller if create else 0, creator_pid=caller if create else 0,
                    creator_tid=rng.randrange(100, 9000) if create else 0, process_start_key=0x2000000000123,
                    session_id=1, image_path=image if create else "",
                    command_line=f'"{image}" -k netsvcs -p' if create else "",
                    actor_pid=caller if create else target)  # fmt: skip
    elif family == "image":
        image = rng.choice([*IMAGES, NTDLL])
        base.update(header_pid=target, target_pid=target, actor_pid=target, image_base=0x7FFDF7400000,
                    image_size=0x1F8000, is_system_mode=False, is_signature_level_known=True, signature_level=12,
                    signature_type=1, image_path=image)  # fmt: skip
    elif family == "registry":
        op = rng.choice(["SET_VALUE", "OPEN_KEY", "CREATE_KEY", "DELETE_VALUE"])
        setv = op == "SET_VALUE"
        base.update(header_pid=caller, operation=op, actor_pid=caller, session_id=1,
                    notify_class={"SET_VALUE": 1, "DELETE_VALUE": 2, "CREATE_KEY": 26, "OPEN_KEY": 28}[op],
                    data_type=1 if setv else 0, data_size=48 if setv else 0, is_high_value=setv,
                    key_path=rng.choice(KEYS), value_name="Updater" if setv else "")  # fmt: skip
    else:
        base.update(header_pid=4, detection_name="REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION", severity=5,
                    actor_pid=caller, target_pid=target, corr_flags=1, corr_access_mask=0x1FFFFF, corr_age_ms=40,
                    reason="remote thread start address resolved to executable non-image memory")  # fmt: skip
    return base


def batches(count: int, seed: int = 7, batch_rows: int = 65_536,
            start_filetime: int = 134_170_000_000_000_000) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """`count` rows of the realistic mix, sorted by time, as case-schema batches."""
    rng = random.Random(seed)
    names, weights = zip(*MIX, strict=True)
    picks = rng.choices(names, weights, k=count)
    filetime = start_filetime
    for start in range(0, count, batch_rows):
        rows = []
        for family in picks[start : start + batch_rows]:
            filetime += rng.randrange(1, 20_000)
            rows.append(row(family, rng, filetime))
        out = rows_to_batch(rows)
        ts = out.column(out.schema.get_field_index("ts"))
        yield out.set_column(out.schema.get_field_index("ts"), "ts", ts.cast(pa.int64()).cast(
            pa.timestamp("us", tz="UTC")))  # fmt: skip
