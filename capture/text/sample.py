"""A mixed simulated run as case rows, shaped like `swk simulate`'s (docs/case-rows.md), for the text writers' round
trips and the text benchmark.

Every family appears: handle and thread rows that were both ETW events and IOCTL records (they carry a sequence),
APC, process, image and registry events (with runs of identical OPEN_KEYs the printer suppresses), kernel and
controller detections, and Threat-Intelligence events with and without a TDH name. Times are QPC ticks after boot
(`clock='qpc'`) with `ts` derived from them. Strings include quotes, backslashes, tabs and non-ASCII text (never a
line break: the consoles print values raw, so a newline in a value is a different test).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from swk.capture.base import rows_to_batch
from swk.kernel.catalogue import CATALOGUE

BOOT_NS = 1_772_438_400_000_000_000  # 2026-03-02T08:00:00Z
FREQUENCY = 10_000_000
PIDS = (4, 612, 728, 1044, 2576, 3864, 6700, 7012, 8120)
PATHS = (r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll", r"\Device\HarddiskVolume3\Lab\inject.exe", "",
         r"\Device\HarddiskVolume3\Users\Zoë\AppData\Local\Temp\ställ.dll")  # fmt: skip
IMAGES = (r"\Device\HarddiskVolume3\Windows\System32\notepad.exe", r"\Device\HarddiskVolume3\Lab\inject.exe",
          r"\Device\HarddiskVolume3\Windows\System32\kernel32.dll", r"C:\Program Files\App\app.com")  # fmt: skip
KEYS = (r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run", r"\REGISTRY\MACHINE\SOFTWARE\Policies",
        r"\REGISTRY\USER\S-1-5-21-1-2-3-1001\Software\Classes\ms-settings\shell\open\command")  # fmt: skip
TI_NAMES = (None, "KERNEL_THREATINT_TASK_ALLOCVM", "NtQueueApcThreadEx", 'Odd "TI"\\name\twith tab')
KERNEL_DETECTIONS = [d for d in CATALOGUE if d.emitter == "kernel"]
CONTROLLER_DETECTIONS = [d for d in CATALOGUE if d.emitter == "controller"]
WEIGHTS = (("handle", 40), ("thread", 14), ("apc", 5), ("process", 4), ("image", 10), ("registry", 14),
           ("detection", 6), ("controller", 2), ("ti", 5))  # fmt: skip
EVENT = {"handle": "HandleTelemetry", "thread": "ThreadTelemetry", "apc": "ApcTelemetry",
         "process": "ProcessTelemetry", "image": "ImageTelemetry", "registry": "RegistryTelemetry",
         "detection": "DetectionTelemetry"}  # fmt: skip


def _i64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _frames(rng: random.Random, base: int, count: int) -> list[dict[str, Any]]:
    return [{"address": _i64(base + rng.randrange(0x100000)), "module": None, "offset": None} for _ in range(count)]


class Run:
    """Rows of one simulated host run, in time order, with the pieces of state a real run has."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.qpc = 3_400_000_000
        self.sequence = 1000
        self.open_key: dict[str, Any] | None = None

    def common(self, family: str, header_pid: int | None = None) -> dict[str, Any]:
        rng = self.rng
        self.qpc += rng.randrange(1, 40_000)
        ts = (BOOT_NS + self.qpc * 1_000_000_000 // FREQUENCY) // 1000
        row = {"family": family, "kind": f"sleepwalker:etw:{EVENT.get(family, family)}", "raw_clock": self.qpc,
               "clock": "qpc", "ts": ts, "provider": "Sleepwalker.Kernel", "event_name": EVENT.get(family),
               "header_pid": header_pid if header_pid is not None else rng.choice(PIDS),
               "header_tid": rng.randrange(100, 9000, 4), "level": 4, "opcode": 0, "etw_version": 0}  # fmt: skip
        return row

    def handle(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("handle", 4)
        path = rng.choice(PATHS)
        protect = rng.choice((0x20, 0x40, 0x04, 0x104, 0))
        exec_, ntdll, exe = bool(protect & 0xF0), "ntdll.dll" in path.lower(), ".exe" in path.lower()
        frames = _frames(rng, 0x7FFD_F740_0000 if ntdll else 0x7FF7_A1B2_0000, rng.choice((0, 1, 3, 8)))
        flags = exec_ * 1 | ntdll * 2 | exe * 4 | 8 | rng.choice((0, 0x10, 0x20)) | rng.choice((0, 0x40C0, 0x3C600))
        deep = rng.random() < 0.7
        sample = bytes(rng.randrange(256) for _ in range(64)) if deep and exec_ and not ntdll else None
        self.sequence += rng.randrange(1, 4)
        class_id = rng.choice((0, 1, 2))
        row.update(sequence=self.sequence, actor_pid=rng.choice(PIDS), target_pid=rng.choice(PIDS),
                   access_mask=rng.choice((0x1000, 0x1410, 0x1FFFFF, 0x3A, 0x1A, 0x143A)), class_id=class_id,
                   class_name=("UNKNOWN-ORIGIN", "LEGITIMATE-SYSCALL", "DIRECT-SYSCALL-SUSPECT")[class_id],
                   flags=flags, stream_mask=3, origin_address=frames[0]["address"] if frames else 0,
                   origin_protect=protect, origin_path=path, exec_protect=exec_, from_ntdll=ntdll, from_exe=exe,
                   is_thread_object=bool(flags & 0x10), is_duplicate=bool(flags & 0x20), frame_count=len(frames),
                   frames=frames, status_open_process=rng.choice((0, -0x3FFFFFFF, -0x3FFFFFDE)), status_basic_info=0,
                   status_section_name=rng.choice((0, -0x3FFFFFFF)),
                   deep_alloc_base=_i64(0x7FF7_A1B1_0000) if deep else 0, deep_region_size=0x16000 if deep else 0,
                   deep_region_protect=protect, deep_region_state=0x1000 if deep else 0,
                   deep_region_type=rng.choice((0x1000000, 0x20000, 0x40000, 0)) if deep else 0,
                   deep_sample_size=64 if sample else 0, deep_sample=sample or b"")  # fmt: skip
        return row

    def thread(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("thread", 4)
        pid, actor = rng.choice(PIDS), rng.choice(PIDS)
        corr = rng.choice((0, 0, 1, 3, 5))
        protect = rng.choice((0x20, 0x40, 0x04))
        remote, outside = actor != pid, rng.random() < 0.9
        flags = (1 | 2 | remote * 4 | outside * 8 | bool(corr) * 0x10 | (corr & 1) * 0x20 | (corr & 2) * 0x20
                 | (corr & 4) * 0x20 | bool(protect & 0xF0) * 0x100)  # fmt: skip
        frames = _frames(rng, 0xFFFFF806_1A00_0000, rng.choice((0, 2))) if remote or outside or corr else []
        self.sequence += rng.randrange(1, 4)
        row.update(sequence=self.sequence, stream_mask=4, target_pid=pid, tid=rng.randrange(1000, 30000, 4),
                   actor_pid=actor, flags=flags, start_address=rng.choice((0x1F4A0B70000, 0x7FF6C0DE5000, 0)),
                   image_base=0x7FF6C0DE0000, image_size=0x1000, got_start=True, got_range=True, is_remote=remote,
                   outside_main_image=outside, corr_flags=corr, corr_access_mask=0x3A if corr else 0,
                   corr_age_ms=rng.randrange(5000) if corr else 0, start_region_protect=protect,
                   start_region_state=0x1000, start_region_type=rng.choice((0x20000, 0x1000000)),
                   start_region_status=0, start_region_exec=bool(protect & 0xF0), frame_count=len(frames),
                   frames=frames)  # fmt: skip
        return row

    def apc(self) -> dict[str, Any]:
        row = self.common("apc")
        row.update(class_name=self.rng.choice(("REMOTE_APC_INTENT", "THREAD_CONTEXT_INTENT")),
                   actor_pid=row["header_pid"], target_pid=self.rng.choice(PIDS), access_mask=0x1A, is_duplicate=False,
                   corr_flags=0, corr_access_mask=0, corr_age_ms=0)  # fmt: skip
        return row

    def process(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("process")
        create, pid, creator = rng.random() < 0.6, rng.choice(PIDS), rng.choice(PIDS)
        row.update(is_create=create, create_status=0, target_pid=pid, actor_pid=creator if create else pid,
                   parent_pid=creator if create else 0, creator_pid=creator if create else 0,
                   creator_tid=rng.randrange(100, 9000, 4) if create else 0, process_start_key=rng.randrange(1 << 48),
                   session_id=1, image_path=rng.choice(IMAGES) if create else "",
                   command_line='"C:\\Lab\\tool.exe" --name "a\\"b" Zoë\tx' if create else "")  # fmt: skip
        return row

    def image(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("image")
        pid = rng.choice(PIDS)
        row.update(actor_pid=pid, target_pid=pid, image_base=rng.choice((0x7FF6C0DE0000, 0x7FFD12340000)),
                   image_size=rng.choice((0x38000, 0x1000)), is_system_mode=False, is_signature_level_known=True,
                   signature_level=rng.choice((0, 12)), signature_type=1, image_path=rng.choice(IMAGES))  # fmt: skip
        return row

    def registry(self) -> dict[str, Any]:
        rng = self.rng
        if self.open_key is not None and rng.random() < 0.6:  # the same OPEN_KEY again: the printer counts it
            row = {**self.common("registry"), **{k: v for k, v in self.open_key.items() if k not in _TIMING}}
            return row
        row = self.common("registry")
        op = rng.choice(("SET_VALUE", "OPEN_KEY", "OPEN_KEY", "CREATE_KEY", "DELETE_VALUE"))
        key = rng.choice(KEYS)
        high = "\\currentversion\\run" in key.lower()
        row.update(operation=op, actor_pid=rng.choice(PIDS), session_id=1,
                   notify_class={"SET_VALUE": 1, "DELETE_VALUE": 2, "CREATE_KEY": 26, "OPEN_KEY": 28}[op],
                   data_type=1 if op == "SET_VALUE" else 0, data_size=44 if op == "SET_VALUE" else 0,
                   is_high_value=high, key_path=key, value_name="Updater" if op.endswith("VALUE") else "")  # fmt: skip
        self.open_key = row if op == "OPEN_KEY" and not high else None
        return row

    def detection(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("detection", 4)
        d = rng.choice(KERNEL_DETECTIONS)
        row.update(detection_name=d.name, severity=d.severity, actor_pid=rng.choice(PIDS),
                   target_pid=rng.choice((*PIDS, 0)), corr_flags=rng.choice((0, 1, 3)), corr_access_mask=0x3A,
                   corr_age_ms=rng.randrange(100), reason=d.reason if d.reason is not None else rng.choice(KEYS))  # fmt: skip
        return row

    def controller(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("detection")
        d = rng.choice(CONTROLLER_DETECTIONS)
        row.update(kind="sleepwalker:controller:detection", provider=None, header_pid=None, header_tid=None,
                   level=None, opcode=None, etw_version=None, detection_name=d.name, severity=d.severity,
                   actor_pid=rng.choice(PIDS), target_pid=rng.choice(PIDS), marks=rng.choice((0x13E, 0x17F, 0x37F)))  # fmt: skip
        return row

    def ti(self) -> dict[str, Any]:
        rng = self.rng
        row = self.common("ti")
        name, task = rng.choice(TI_NAMES), rng.choice((1, 2, 7, 13))
        caller, target = row["header_pid"], rng.choice(PIDS)
        fields = {"CallingProcessId": caller, "TargetProcessId": target, "BaseAddress": 0x1F4A0B70000,
                  "RegionSize": 0x20000, "ProtectionMask": 0x04}  # fmt: skip
        if name == "NtQueueApcThreadEx":
            fields["ApcRoutine"] = 0x1F4A0B70000
        row.update(kind=f"ti:etw:{name}" if name else f"ti:etw:task{task}",
                   provider="Microsoft-Windows-Threat-Intelligence", event_name=name, task=task, etw_event_id=task,
                   actor_pid=caller, target_pid=target, base_address=0x1F4A0B70000, region_size=0x20000, protect=4,
                   fields_json=json.dumps(fields))  # fmt: skip
        return row

    def rows(self, count: int) -> Iterator[dict[str, Any]]:
        names, weights = zip(*WEIGHTS, strict=True)
        for family in self.rng.choices(names, weights, k=count):
            yield getattr(self, family)()


_TIMING = ("raw_clock", "ts", "header_tid", "header_pid")


def batches(count: int, seed: int = 1, batch_rows: int = 8192) -> Iterator[pa.RecordBatch]:
    """`count` rows of one run, in batches."""
    run = Run(seed)
    rows = run.rows(count)
    while chunk := [row for _, row in zip(range(batch_rows), rows, strict=False)]:
        yield rows_to_batch(chunk)
