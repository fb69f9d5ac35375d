"""Case rows in a few keywords, for examples, tests and the engines' agreement test.

Times are given in milliseconds (`ms=`) and stored as `ts` in microseconds; every builder fills what the driver's
own record would carry for a typical event, and any case column can be overridden by keyword.
"""

from __future__ import annotations

from typing import Any

from swk.kernel.abi import MEM_COMMIT, MEM_IMAGE, MEM_PRIVATE, HandleFlag

T0_US = 1_772_442_000_000_000  # 2026-03-02T09:00:00Z
ETW_THREAD = "sleepwalker:etw:ThreadTelemetry"
CLEAN_FLAGS = int(HandleFlag.EXEC_PROTECT | HandleFlag.FROM_NTDLL | HandleFlag.MEMORY_RELATED
                  | HandleFlag.STACK_VALIDATED | HandleFlag.MODULE_CHAIN_SANE | HandleFlag.UNWIND_METADATA_VALID
                  | HandleFlag.TEB_STACK_BOUNDS_VALID | HandleFlag.FRAMES_OUTSIDE_TEB_STACK)  # fmt: skip
IMAGE_BASE = 0x7FF6_C0DE_0000
SHELLCODE = 0x1F4_A0B7_0000


def _row(family: str, eid: int, ms: float, host: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": eid, "ts": T0_US + round(ms * 1000), "family": family, "host": host, **fields}


def handle(eid: int, ms: float, actor: int, target: int, access: int = 0x1FFFFF, *, host: str = "WS01",
           **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A HandleTelemetry row with its IOCTL facts (class UNKNOWN, ordinary ntdll stack unless overridden)."""
    base = {"kind": "sleepwalker:etw:HandleTelemetry", "actor_pid": actor, "target_pid": target,
            "access_mask": access, "class_id": 0, "flags": CLEAN_FLAGS, "is_thread_object": False}  # fmt: skip
    return _row("handle", eid, ms, host, {**base, **fields})


def thread(eid: int, ms: float, actor: int, target: int, corr_flags: int = 0, *, start: str = "image",
           host: str = "WS01", **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A ThreadTelemetry row; `start` = `image` (an image-backed start outside the header page) or `private`
    (executable private memory)."""
    private = start == "private"
    base = {"kind": ETW_THREAD, "actor_pid": actor, "target_pid": target, "tid": 9000 + eid * 4,
            "start_address": SHELLCODE if private else IMAGE_BASE + 0x1A2B0, "image_base": IMAGE_BASE,
            "image_size": 0x1000, "got_start": True, "got_range": True, "is_remote": actor != target,
            "outside_main_image": True, "corr_flags": corr_flags, "corr_access_mask": 0x1FFFFF if corr_flags else 0,
            "corr_age_ms": 3 if corr_flags else 0, "start_region_protect": 0x20,
            "start_region_state": MEM_COMMIT, "start_region_type": MEM_PRIVATE if private else MEM_IMAGE,
            "start_region_status": 0, "start_region_exec": True}  # fmt: skip
    return _row("thread", eid, ms, host, {**base, **fields})


def apc(eid: int, ms: float, actor: int, target: int, access: int, class_name: str, *, host: str = "WS01",
        **fields: Any) -> dict[str, Any]:  # fmt: skip
    """An ApcTelemetry row."""
    base = {
        "kind": "sleepwalker:etw:ApcTelemetry",
        "actor_pid": actor,
        "target_pid": target,
        "access_mask": access,
        "class_name": class_name,
        "is_duplicate": False,
        "corr_flags": 0,
        "corr_access_mask": 0,
        "corr_age_ms": 0,
    }
    return _row("apc", eid, ms, host, {**base, **fields})


def image(eid: int, ms: float, pid: int, path: str, *, host: str = "WS01", **fields: Any) -> dict[str, Any]:
    """An ImageTelemetry row of a user-mode image."""
    base = {"kind": "sleepwalker:etw:ImageTelemetry", "actor_pid": pid, "target_pid": pid, "image_path": path,
            "is_system_mode": False}  # fmt: skip
    return _row("image", eid, ms, host, {**base, **fields})


def registry(eid: int, ms: float, pid: int, key_path: str, operation: str = "OPEN_KEY", *, host: str = "WS01",
             **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A RegistryTelemetry row."""
    base = {"kind": "sleepwalker:etw:RegistryTelemetry", "actor_pid": pid, "operation": operation,
            "key_path": key_path}  # fmt: skip
    return _row("registry", eid, ms, host, {**base, **fields})


def ti(eid: int, ms: float, actor: int, target: int, task: int, *, name: str | None = None, host: str = "WS01",
       **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A Threat-Intelligence row (task 1 ALLOCVM, 2 PROTECTVM, 7 WRITEVM; `name` defaults to the task name)."""
    names = {
        1: "KERNEL_THREATINT_TASK_ALLOCVM",
        2: "KERNEL_THREATINT_TASK_PROTECTVM",
        7: "KERNEL_THREATINT_TASK_WRITEVM",
    }
    event = name or names.get(task, f"task {task}")
    base = {"kind": f"ti:etw:{event}", "actor_pid": actor, "target_pid": target, "event_name": event, "task": task}
    return _row("ti", eid, ms, host, {**base, **fields})


def live(eid: int, ms: float, name: str, actor: int, target: int, *, host: str = "WS01", controller: bool = False,
         **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A live detection row (kernel DetectionTelemetry, or the controller's synthetic one)."""
    kind = "sleepwalker:controller:detection" if controller else "sleepwalker:etw:DetectionTelemetry"
    base = {"kind": kind, "detection_name": name, "actor_pid": actor, "target_pid": target}
    return _row("detection", eid, ms, host, {**base, **fields})
