"""The spec's synthetic examples (sections 4.2, 4.3, 4.5, 4.6, 5) as case rows, with the host knowledge they imply.

Used by the byte-exactness tests (each writer must print the spec's text from these rows) and by the text
benchmark, which repeats them to build large inputs. FILETIMEs and QPC values are the ones the examples print.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from swk.capture.base import rows_to_batch
from swk.capture.outputs import OutputContext
from swk.kernel.clock import FILETIME_UNIX_EPOCH, to_ns

INJECT = r"\Device\HarddiskVolume3\Lab\inject.exe"
NOTEPAD_NT = r"\Device\HarddiskVolume3\Windows\System32\notepad.exe"
NTDLL_NT = r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll"
# A 64-byte region sample starting with the printed opcodes whose entropy prints as 5.102.
SAMPLE = bytes.fromhex("cccc48895c2408574883ec20488bd9e8081b1025191d04190e0f171b2818282625252a1615100f212922122a090f25"
                       "0f1d261f1825110203291c271f0f0b082a")  # fmt: skip
SYMBOLS = {0x7FFD12344B20: "KERNEL32!BaseThreadInitThunk+0x14", 0x7FFD1358CC91: "ntdll!RtlUserThreadStart+0x21",
           0x7FFDF74ADC14: "ntdll!NtOpenProcess+0x14", 0x7FFDF4CD1E3A: "KERNELBASE!OpenProcess+0x4A",
           0x7FFDF6F71D80: "KERNEL32!LoadLibraryW+0x0"}  # fmt: skip
WIN32_IMAGES = {6700: r"C:\Lab\inject.exe", 2576: r"C:\Windows\explorer.exe"}
NT_IMAGES = {3864: NOTEPAD_NT}
# The processor each printer example ran on, by its FILETIME (the same header tid 212 shows cpu 3 and cpu 1).
CPUS = {0x01DCA9B2C4F01234: 3, 0x01DCA9B2C4F2A0B0: 1, 0x01DCA9B2C4F2A0C4: 1, 0x01DCA9B2C5001A00: 2,
        0x01DCA9B2C5100400: 3, 0x01DCA9B2C5200000: 2, 0x01DCA9B2C4F00000: 2}  # fmt: skip


def context(**overrides: Any) -> OutputContext:
    """The host knowledge the examples print: dbghelp symbols, process images, processors."""
    ctx = OutputContext(resolve=lambda address, pid: SYMBOLS.get(address), process_image=WIN32_IMAGES.get,
                        query_image=NT_IMAGES.get, cpu=lambda tid, filetime: CPUS.get(filetime, 0),
                        status_lines=False)  # fmt: skip
    for key, value in overrides.items():
        setattr(ctx, key, value)
    return ctx


def _frames(*addresses: int) -> list[dict[str, Any]]:
    return [{"address": a - (1 << 64) if a >= 1 << 63 else a, "module": None, "offset": None} for a in addresses]


def _etw(name: str, family: str, filetime: int, header_pid: int, header_tid: int, **fields: Any) -> dict[str, Any]:
    return {"family": family, "kind": f"sleepwalker:etw:{name}", "event_name": name, "provider": "Sleepwalker.Kernel",
            "raw_clock": filetime, "clock": "filetime", "ts": (filetime - FILETIME_UNIX_EPOCH) // 10,
            "header_pid": header_pid, "header_tid": header_tid, "level": 4, "opcode": 0, "etw_version": 0, **fields}  # fmt: skip


def _us(iso: str) -> int:
    from datetime import datetime

    return to_ns(datetime.fromisoformat(iso.replace("Z", "+00:00"))) // 1000


HANDLE = _etw("HandleTelemetry", "handle", 0x01DCA9B2C4F01234, 4, 212, sequence=1187, class_id=2,
              class_name="DIRECT-SYSCALL-SUSPECT", actor_pid=6700, target_pid=3864, access_mask=0x3A, flags=0xCD,
              origin_address=0x7FF7A1B21F4E, origin_protect=0x20, origin_path=INJECT, exec_protect=True,
              from_ntdll=False, from_exe=True, is_thread_object=False, is_duplicate=False, frame_count=3,
              frames=_frames(0x7FF7A1B21F4E, 0x7FFD12344B20, 0x7FFD1358CC91), status_open_process=0,
              status_basic_info=0, status_section_name=0, deep_alloc_base=0x7FF7A1B10000, deep_region_size=0x16000,
              deep_region_protect=0x20, deep_region_state=0x1000, deep_region_type=0x1000000, deep_sample_size=64,
              deep_sample=SAMPLE)  # fmt: skip
THREAD = _etw("ThreadTelemetry", "thread", 0x01DCA9B2C4F2A0B0, 4, 212, sequence=1190, target_pid=3864, tid=0x2210,
              actor_pid=6700, flags=0x13F, start_address=0x1F4A0B70000, image_base=0x7FF6C0DE0000, image_size=0x1000,
              got_start=True, got_range=True, is_remote=True, outside_main_image=True, corr_flags=1,
              corr_access_mask=0x3A, corr_age_ms=14, start_region_protect=0x40, start_region_state=0x1000,
              start_region_type=0x20000, start_region_status=0, start_region_exec=True, frame_count=2,
              frames=_frames(0xFFFFF8061A2B3C4D, 0xFFFFF8061A2B0011))  # fmt: skip
PROCESS = _etw("ProcessTelemetry", "process", 0x01DCA9B2C5000000, 6700, 6928, is_create=True, create_status=0,
               target_pid=0x1F40, actor_pid=0x1A2C, parent_pid=0x1A2C, creator_pid=0x1A2C, creator_tid=0x1B10,
               process_start_key=0x0001000000000123, session_id=1, image_path=NOTEPAD_NT,
               command_line='"C:\\Windows\\System32\\notepad.exe" C:\\temp\\a.txt')  # fmt: skip
IMAGE = _etw("ImageTelemetry", "image", 0x01DCA9B2C5001A00, 8000, 8004, actor_pid=0x1F40, target_pid=0x1F40,
             image_base=0x7FF6C0DE0000, image_size=0x38000, is_system_mode=False, is_signature_level_known=True,
             signature_level=12, signature_type=1, image_path=NOTEPAD_NT)  # fmt: skip
REGISTRY_SET = _etw("RegistryTelemetry", "registry", 0x01DCA9B2C5100000, 6700, 6928, operation="SET_VALUE",
                    actor_pid=0x1A2C, session_id=1, notify_class=1, data_type=1, data_size=44, is_high_value=True,
                    key_path=r"\REGISTRY\USER\S-1-5-21-1111-2222-3333-1001\Software\Microsoft\Windows\CurrentVersion"
                    r"\Run", value_name="Updater")  # fmt: skip
REGISTRY_OPEN = _etw("RegistryTelemetry", "registry", 0x01DCA9B2C5100400, 2576, 2600, operation="OPEN_KEY",
                     actor_pid=0xA10, session_id=1, notify_class=28, data_type=0, data_size=0, is_high_value=False,
                     key_path=r"\REGISTRY\MACHINE\SOFTWARE\Policies", value_name="")  # fmt: skip
DETECTION = _etw("DetectionTelemetry", "detection", 0x01DCA9B2C4F2A0C4, 4, 212,
                 detection_name="REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", severity=4, actor_pid=0x1A2C,
                 target_pid=0xF18, corr_flags=1, corr_access_mask=0x3A, corr_age_ms=14,
                 reason="remote thread activity correlated with recent handle intent")  # fmt: skip
TI_APC = {**_etw("QueueUserApcRemote", "ti", 0x01DCA9B2C5200000, 6700, 6928, actor_pid=6700, target_pid=3864,
                 tid=8720, fields_json=json.dumps({"CallingProcessId": 6700, "TargetProcessId": 3864,
                                                   "TargetThreadId": 8720, "ApcRoutine": 0x1F4A0B70000})),
          "kind": "ti:etw:QueueUserApcRemote", "provider": "Microsoft-Windows-Threat-Intelligence"}  # fmt: skip
APC = _etw("ApcTelemetry", "apc", 0x01DCA9B2C4F00000, 6700, 6928, class_name="REMOTE_APC_INTENT", actor_pid=6700,
           target_pid=3864, access_mask=0x10, is_duplicate=False, corr_flags=0, corr_access_mask=0, corr_age_ms=0)  # fmt: skip
# The suite's records (4.3) come from another run: their own pids and raw QPC values.
SUITE_HANDLE = {"family": "handle", "kind": "sleepwalker:ioctl:handle", "sequence": 4, "stream_mask": 3,
                "raw_clock": 3404675185, "clock": "qpc", "class_id": 0, "actor_pid": 6948, "target_pid": 7012,
                "access_mask": 0x143A, "flags": 0x3C40B, "origin_address": 0x7FFDF74ADC14, "origin_protect": 0x20,
                "origin_path": NTDLL_NT, "frame_count": 2, "frames": _frames(0x7FFDF74ADC14, 0x7FFDF4CD1E3A),
                "status_open_process": 0, "status_basic_info": 0, "status_section_name": 0}  # fmt: skip
SUITE_THREAD = {"family": "thread", "kind": "sleepwalker:ioctl:thread", "sequence": 5, "stream_mask": 4,
                "raw_clock": 3404681022, "clock": "qpc", "target_pid": 7012, "tid": 7420, "actor_pid": 6948,
                "flags": 0x13F, "start_address": 0x7FFDF6F71D80, "image_base": 0x7FF6C0DE0000, "image_size": 0x1000,
                "frame_count": 2, "frames": _frames(0xFFFFF8061A2B3C4D, 0xFFFFF8061A2B0011)}  # fmt: skip
# The uplink and JSONL examples (4.6, 5): a controller detection and TI events seen through the broker.
CONTROLLER = {"family": "detection", "kind": "sleepwalker:controller:detection", "event_name": "DetectionTelemetry",
              "detection_name": "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "severity": 5, "actor_pid": 6700,
              "target_pid": 3864, "marks": 0x13E, "ts": _us("2026-03-02T10:15:03.611Z")}  # fmt: skip
TI_ALLOC = {"family": "ti", "kind": "ti:etw:task1", "provider": "Microsoft-Windows-Threat-Intelligence",
            "event_name": None, "task": 1, "opcode": 0, "header_pid": 6700, "actor_pid": 6700,
            "ts": _us("2026-03-02T10:15:03.600Z")}  # fmt: skip
TI_WRITE = {**TI_ALLOC, "kind": "ti:etw:task7", "task": 7, "ts": _us("2026-03-02T10:15:03.640Z")}
JSONL_HANDLE = {**HANDLE, "kind": "sleepwalker:ioctl:handle", "clock": None, "raw_clock": None,
                "ts": _us("2026-03-02T10:15:03.512Z")}  # fmt: skip
JSONL_THREAD = {**THREAD, "kind": "sleepwalker:ioctl:thread", "clock": None, "raw_clock": None,
                "ts": _us("2026-03-02T10:15:03.530Z")}  # fmt: skip


def batch(*rows: dict[str, Any]) -> pa.RecordBatch:
    """Rows as one case batch."""
    return rows_to_batch([dict(row) for row in rows])
