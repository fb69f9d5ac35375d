"""A small incident case for report tests, the screenshot and the demo until `swk simulate` writes cases.

One host, WS01: explorer starts a PowerShell that starts notepad suspended and hollows it (direct-syscall handle
open with a spoofed stack, TI alloc/write/protect, a remote thread in private executable memory: every per-thread
rule, the kernel mark chain and the controller chain), then queues an APC into rundll32 whose thread comes 31 s
later (the 30 s window has closed), sets a Run key, and maps an ntdll from a user folder; benign svchost noise
around it; live detections (one confirmed pair, one live-only tamper); two rejects and two rows without a time.
`hostile=True` puts attacker-controlled markup, `javascript:` URLs, U+202E and terminal escape sequences into paths,
command lines, registry values, a host name and a live detection name, which must all reach the report as inert
text and a terminal with the escapes removed.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from swk.analyze.testing import table
from swk.store.reject import Reject
from swk.store.writer import CaseWriter

HOSTILE = {
    "script": "<script>alert('script')</script>",
    "img": "\"'><img src=x onerror=alert('img')>",
    "url": "javascript:alert('url')",
    "bidi": "invoice\u202egpj.exe",
    "escape": "\x1b]0;owned\x07\x1b[2J",  # a terminal title change and a screen clear
}
PRIVATE, IMAGE = 0x20000, 0x1000000
NTDLL = 0x7FFD_F740_0000
INJECTOR = 0x7FF6_2000_0000
ETW_THREAD = "sleepwalker:etw:ThreadTelemetry"


def _proc(ms: float, pid: int, parent: int, image: str, cmd: str) -> dict[str, Any]:
    return {"ms": ms, "family": "process", "kind": "sleepwalker:etw:ProcessTelemetry", "is_create": True,
            "actor_pid": parent, "target_pid": pid, "parent_pid": parent, "creator_pid": parent, "image_path": image,
            "command_line": cmd}  # fmt: skip


def _handle(ms: float, actor: int, target: int, access: int, **extra: Any) -> dict[str, Any]:
    row = {"ms": ms, "family": "handle", "kind": "sleepwalker:etw:HandleTelemetry", "actor_pid": actor,
           "target_pid": target, "access_mask": access, "class_id": 1, "class_name": "LEGITIMATE-SYSCALL",
           "frames": [{"address": NTDLL + 0x9DC14, "module": "ntdll.dll", "offset": 0x9DC14}]}  # fmt: skip
    return row | extra


def _ti(ms: float, actor: int, target: int, task: int, name: str, **extra: Any) -> dict[str, Any]:
    return {"ms": ms, "family": "ti", "kind": f"ti:etw:{name}", "event_name": name, "task": task,
            "actor_pid": actor, "target_pid": target} | extra  # fmt: skip


def _thread(ms: float, actor: int, target: int, tid: int, start: int, **extra: Any) -> dict[str, Any]:
    row = {"ms": ms, "family": "thread", "kind": ETW_THREAD, "actor_pid": actor, "target_pid": target, "tid": tid,
           "start_address": start, "image_base": INJECTOR, "image_size": 0x5000, "got_start": True,
           "got_range": True, "is_remote": actor != target, "outside_main_image": False, "corr_flags": 0,
           "corr_access_mask": 0, "corr_age_ms": 0, "start_region_protect": 0x20, "start_region_state": 0x1000,
           "start_region_type": IMAGE, "start_region_status": 0, "start_region_exec": True}  # fmt: skip
    return row | extra


def incident_rows(hostile: bool = False) -> list[dict[str, Any]]:
    """The story's rows in time order (ms after 2026-03-02T08:00:00Z)."""
    h = HOSTILE if hostile else {}
    ps_cmd = "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA" + h.get("img", "")
    rows = [
        _proc(0, 700, 612, r"C:\Windows\System32\services.exe", "services.exe"),
        _proc(5, 3312, 2980, r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE"),
        _proc(800, 4242, 3312, r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", ps_cmd),
        _proc(1500, 6100, 700, r"C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs -p"),
        _ti(1990, 4242, 5150, 0, "KERNEL_THREATINT_CREATEPROCESS", creation_flags=0x4),
        _proc(
            2000,
            5150,
            4242,
            r"C:\Windows\System32\notepad.exe" + h.get("script", ""),
            "notepad.exe " + h.get("url", "") + h.get("escape", ""),
        ),
        _handle(
            2200,
            4242,
            5150,
            0x2A,
            class_id=2,
            class_name="DIRECT-SYSCALL-SUSPECT",
            flags=0x3C600 | 0x800,
            frames=[
                {"address": INJECTOR + 0x1A2B, "module": "powershell.exe", "offset": 0x1A2B},
                {"address": 0x1F_0000 + 0x88, "module": None, "offset": None},
                {"address": NTDLL + 0x2DA5C, "module": "ntdll.dll", "offset": 0x2DA5C},
            ],
        ),
        _ti(
            2300,
            4242,
            5150,
            1,
            "KERNEL_THREATINT_TASK_ALLOCVM_REMOTE",
            base_address=0x1F_0000,
            region_size=0x4_0000,
            protect=0x04,
        ),
        _ti(2400, 4242, 5150, 7, "KERNEL_THREATINT_TASK_WRITEVM_REMOTE", base_address=0x1F_0000, region_size=0x3800),
        _ti(
            2500,
            4242,
            5150,
            2,
            "KERNEL_THREATINT_TASK_PROTECTVM_REMOTE",
            base_address=0x1F_0000,
            region_size=0x4_0000,
            protect=0x20,
            old_protect=0x04,
        ),
        _handle(2600, 4242, 5150, 0x1A, is_thread_object=True),
        _thread(
            3000,
            4242,
            5150,
            5160,
            0x1F_0120,
            outside_main_image=True,
            corr_flags=3,
            corr_access_mask=0x3A,
            corr_age_ms=400,
            start_region_type=PRIVATE,
            start_region_protect=0x40,
        ),
        {
            "ms": 3004,
            "family": "detection",
            "kind": "sleepwalker:etw:DetectionTelemetry",
            "actor_pid": 4242,
            "target_pid": 5150,
            "detection_name": "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG",
            "severity": 7,
            "reason": "kernel hollowing mark-chain (strong)",
            "corr_flags": 3,
            "corr_access_mask": 0x3A,
            "corr_age_ms": 400,
        },
        {
            "ms": 3100,
            "family": "image",
            "kind": "sleepwalker:etw:ImageTelemetry",
            "actor_pid": 5150,
            "target_pid": 5150,
            "image_path": r"C:\Users\Public\ntdll.dll" + h.get("script", ""),
            "image_base": 0x7FFD_0000_0000,
            "image_size": 0x1F_0000,
            "is_system_mode": False,
        },
        {
            "ms": 9000,
            "family": "registry",
            "kind": "sleepwalker:etw:RegistryTelemetry",
            "actor_pid": 4242,
            "operation": "SET_VALUE",
            "key_path": r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
            "value_name": "Updater" + h.get("bidi", "") + h.get("escape", ""),
            "value_data": h.get("url", r"C:\Users\Public\upd.exe"),
        },
        _proc(44000, 7001, 4242, r"C:\Windows\System32\rundll32.exe", "rundll32.exe shell32.dll,Control_RunDLL"),
        _handle(45000, 4242, 7001, 0x10, is_thread_object=True),
        _handle(45100, 4242, 7001, 0x28),
        _thread(76200, 4242, 7001, 7010, 0x2A_0040, outside_main_image=True),
        {
            "ms": 90000,
            "family": "detection",
            "kind": "sleepwalker:etw:DetectionTelemetry",
            "actor_pid": 4,
            "target_pid": 0,
            "detection_name": "DRIVER_DISPATCH_OR_OBJECT_TAMPER" + h.get("img", ""),
            "severity": 5,
            "reason": "driver dispatch/object integrity drift detected",
        },
    ]
    rows += _noise(random.Random(7))
    return sorted(rows, key=lambda r: r["ms"])


def _noise(rng: random.Random) -> list[dict[str, Any]]:
    """Benign activity: svchost and explorer opening processes and starting their own threads, ntdll loads."""
    rows = []
    for i in range(400):
        ms = rng.uniform(0, 95000)
        actor = rng.choice((6100, 3312, 700))
        if i % 4 == 0:
            rows.append(_thread(ms, actor, actor, 9000 + i, INJECTOR + 0x1200))
        elif i % 9 == 0:
            # ntdll through KnownDlls (the one path the driver's check accepts, spec 3.7), other DLLs as they come
            path = r"\KnownDlls\ntdll.dll" if i < 30 else r"\Device\HarddiskVolume3\Windows\System32\combase.dll"
            rows.append({"ms": ms, "family": "image", "kind": "sleepwalker:etw:ImageTelemetry", "actor_pid": actor,
                         "target_pid": actor, "image_path": path, "image_base": NTDLL, "image_size": 0x1F_0000,
                         "is_system_mode": False})  # fmt: skip
        else:
            rows.append(_handle(ms, actor, rng.choice((3312, 6100, 4242, 700)), rng.choice((0x1000, 0x1410))))
    return rows


def _digest(rows: list[dict[str, Any]]) -> str:
    """A stand-in input hash: the sha256 of the generated rows (there is no input file to hash)."""
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def write_incident(path: Path, *, hostile: bool = False) -> Path:
    """Write the incident case to `path` (two inputs, two rejects, two rows without time) and return it."""
    host = "WS01" + (HOSTILE["img"] + HOSTILE["escape"] if hostile else "")
    rows = incident_rows(hostile)
    etw = [r for r in rows if r["kind"] != "sleepwalker:etw:HandleTelemetry"]
    handles = [r for r in rows if r["kind"] == "sleepwalker:etw:HandleTelemetry"]
    untimed = [{"family": "handle", "kind": "sleepwalker:console:handle", "actor_pid": 4242, "target_pid": 5150,
                "access_mask": 0x1FFFFF, "source_offset": 118}, {"family": "thread", "kind": "sleepwalker:console:thread",
                "actor_pid": 4242, "target_pid": 5150, "source_offset": 131}]  # fmt: skip
    with CaseWriter(Path(path), command="sample", default_host=host) as writer:
        writer.begin_input("WS01-sleepwalker.etl", "etl", sha256=_digest(etw), size=1_572_864, host=host)
        writer.write(table(etw))
        writer.reject(Reject(0x2_4000, "WMI_BUFFER_HEADER.BufferSize=0 at a buffer boundary", b"\x00" * 16))
        writer.begin_input("WS01-handles.etl", "etl", sha256=_digest(handles), size=524_288, host=host)
        writer.write(table(handles))
        writer.begin_input("client-console.log", "console", sha256=_digest(untimed), size=20_480, host=host)
        writer.write(table(untimed))
        writer.reject(Reject(212, "line 212: no 'pid=' field in a handle block" + (HOSTILE["script"] if hostile
                                                                                    else ""), b"Actor  ???"))  # fmt: skip
    return Path(path)
