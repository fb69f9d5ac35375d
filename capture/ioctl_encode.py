"""Encodes Sleepwalker IOCTL records from the ABI declaration: one record at a time, or a realistic bulk file.

Tests build exact bytes with `handle_record`/`thread_record` instead of mocking the decoder; the demo and the
benchmark use `realistic_records`, a vectorised mix of handle opens (real access masks, ntdll-stub stacks, a few
direct-syscall opens from an injector) and thread starts, as a Windows 11 host under light activity produces.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from swk.kernel.abi import (
    MEM_COMMIT,
    MEM_IMAGE,
    MEM_PRIVATE,
    SLEEPWALKER_EVENT_RECORD,
    STATUS_UNSUCCESSFUL,
    EventType,
    HandleFlag,
    Stream,
    ThreadFlag,
    sizeof,
)

RECORD_SIZE = sizeof(SLEEPWALKER_EVENT_RECORD)
NTDLL_PATH = r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll"
NTDLL_BASE = 0x00007FFD_F740_0000
KERNELBASE_BASE = 0x00007FFD_F4C0_0000
KERNEL32_BASE = 0x00007FFD_1234_0000


def _wchars(text: str, count: int) -> ctypes.Array:
    units = text.encode("utf-16-le")[: (count - 1) * 2]
    arr = (ctypes.c_uint16 * count)()
    ctypes.memmove(arr, units, len(units))
    return arr


def handle_record(*, sequence: int = 1, qpc: int = 0, caller: int = 4242, target: int = 5150, access: int = 0x1FFFFF,
                  class_id: int = 1, flags: int | None = None, frames: tuple[int, ...] = (NTDLL_BASE + 0x9DC14,),
                  origin_protect: int = 0x20, origin_path: str = NTDLL_PATH, statuses: tuple[int, int, int] = (0, 0, 0),
                  deep: tuple[int, int, int, int] = (NTDLL_BASE, 0x1000, MEM_COMMIT, MEM_IMAGE),
                  sample: bytes = b"", stream_mask: int | None = None) -> bytes:  # fmt: skip
    """One 768-byte handle record; `flags` defaults to what the origin facts imply."""
    rec = SLEEPWALKER_EVENT_RECORD()
    rec.Header.Size = RECORD_SIZE
    rec.Header.Type = EventType.HANDLE
    rec.Header.Sequence = sequence
    rec.Header.TimestampQpc = qpc
    h = rec.Data.Handle
    h.CallerPid, h.TargetPid, h.DesiredAccess, h.ClassId = caller, target, access, class_id
    h.OriginAddress = frames[0] if frames else 0
    h.OriginProtect = origin_protect
    if flags is None:
        flags = (HandleFlag.EXEC_PROTECT if origin_protect & 0xF0 else 0) | HandleFlag.MEMORY_RELATED
        flags |= HandleFlag.FROM_NTDLL if "ntdll.dll" in origin_path.lower() else 0
        flags |= HandleFlag.FROM_EXE if ".exe" in origin_path.lower() else 0
    h.Flags = int(flags)
    rec.Header.StreamMask = stream_mask if stream_mask is not None else (
        Stream.HANDLE | (Stream.MEMORY if flags & HandleFlag.MEMORY_RELATED else 0))  # fmt: skip
    h.FrameCount = len(frames)
    for i, frame in enumerate(frames):
        h.Frames[i] = frame
    h.StatusOpenProcess, h.StatusBasicInfo, h.StatusSectionName = statuses
    h.DeepAllocationBase, h.DeepRegionSize, h.DeepRegionState, h.DeepRegionType = deep
    h.DeepRegionProtect = origin_protect
    h.DeepSampleSize = len(sample)
    ctypes.memmove(h.DeepSample, sample, len(sample))
    h.OriginPath = _wchars(origin_path, 260)
    return bytes(rec)


def thread_record(*, sequence: int = 2, qpc: int = 0, pid: int = 5150, tid: int = 6000, creator: int = 4242,
                  start: int = 0x1F4A0B70000, image_base: int = 0x7FF6C0DE0000, image_size: int = 0x1000,
                  flags: int = 0x13F, frames: tuple[int, ...] = (0xFFFFF8061A2B3C4D,)) -> bytes:  # fmt: skip
    """One 768-byte thread record."""
    rec = SLEEPWALKER_EVENT_RECORD()
    rec.Header.Size = RECORD_SIZE
    rec.Header.Type = EventType.THREAD
    rec.Header.StreamMask = Stream.THREAD
    rec.Header.Sequence = sequence
    rec.Header.TimestampQpc = qpc
    t = rec.Data.Thread
    t.ProcessId, t.ThreadId, t.CreatorPid = pid, tid, creator
    t.StartAddress, t.ImageBase, t.ImageSize, t.Flags = start, image_base, image_size, flags
    t.FrameCount = len(frames)
    for i, frame in enumerate(frames):
        t.Frames[i] = frame
    return bytes(rec)


def realistic_records(n: int, *, seed: int = 1, qpc_start: int = 3_400_000_000, qpc_step: int = 20_000) -> np.ndarray:
    """`n` records as a numpy structured array: ~85% handle opens, ~15% thread starts, some of them injections."""
    rng = np.random.default_rng(seed)
    recs = np.zeros(n, dtype=np.dtype(SLEEPWALKER_EVENT_RECORD))
    hdr, h, t = recs["Header"], recs["Data"]["Handle"], recs["Data"]["Thread"]
    is_thread = rng.random(n) < 0.15
    hdr["Size"] = RECORD_SIZE
    hdr["Type"] = np.where(is_thread, EventType.THREAD, EventType.HANDLE)
    hdr["Sequence"] = np.arange(1, n + 1)
    hdr["TimestampQpc"] = qpc_start + np.cumsum(rng.integers(1, qpc_step, n))
    pids = np.array([4, 612, 728, 1044, 1352, 2576, 3864, 4720, 6700, 7012, 8120, 9316], dtype=np.uint64)
    caller = pids[rng.integers(0, len(pids), n)]
    target = pids[rng.integers(0, len(pids), n)]
    injector = rng.random(n) < 0.02  # an injector (6700) opening notepad (3864) straight from its own code
    caller = np.where(injector, 6700, caller)
    target = np.where(injector, 3864, target)
    access = np.array([0x1000, 0x1400, 0x1410, 0x1FFFFF, 0x143A, 0x102A, 0x001A], dtype=np.uint32)
    h["CallerPid"], h["TargetPid"] = caller, target
    h["DesiredAccess"] = np.where(injector, 0x3A, access[rng.integers(0, len(access), n)])
    thread_obj = (h["DesiredAccess"] == 0x1A) & ~injector
    exe_origin = 0x00007FF7_A1B2_1F4E
    h["OriginAddress"] = np.where(injector, exe_origin, NTDLL_BASE + 0x9DC14)
    h["ClassId"] = np.where(injector, 2, np.where(rng.random(n) < 0.7, 0, 1))
    h["OriginProtect"] = 0x20
    flags = (HandleFlag.EXEC_PROTECT | HandleFlag.MEMORY_RELATED | HandleFlag.STACK_VALIDATED
             | HandleFlag.MODULE_CHAIN_SANE | HandleFlag.UNWIND_METADATA_VALID)  # fmt: skip
    h["Flags"] = (flags | np.where(injector, HandleFlag.FROM_EXE | HandleFlag.DEEP_PATH_CANDIDATE
                                   | HandleFlag.DEEP_PATH_CAPTURED, HandleFlag.FROM_NTDLL)
                  | np.where(thread_obj, HandleFlag.THREAD_OBJECT, 0))  # fmt: skip
    frames = np.zeros((n, 8), dtype=np.uint64)
    frames[:, 0] = h["OriginAddress"]
    frames[:, 1] = KERNELBASE_BASE + 0x21E3A
    frames[:, 2] = np.where(injector, KERNEL32_BASE + 0x14B20, 0x00007FF6_C0DE_1234)
    frames[:, 3] = NTDLL_BASE + 0x5CC91
    h["Frames"] = frames
    h["FrameCount"] = np.where(injector, 3, 4)
    h["DeepAllocationBase"] = np.where(injector, 0x00007FF7_A1B1_0000, NTDLL_BASE)
    h["DeepRegionSize"] = np.where(injector, 0x16000, 0x11F000)
    h["DeepRegionProtect"] = 0x20
    h["DeepRegionState"] = MEM_COMMIT
    h["DeepRegionType"] = MEM_IMAGE
    h["DeepSampleSize"] = np.where(injector, 64, 0)
    sample = np.frombuffer(bytes.fromhex("CCCC48895C2408574883EC20488BD9E8") * 4, dtype=np.uint8)
    h["DeepSample"] = np.where(injector[:, None], sample[None, :], 0)
    ntdll = np.frombuffer(NTDLL_PATH.encode("utf-16-le"), dtype=np.uint16)
    inject = np.frombuffer(r"\Device\HarddiskVolume3\Lab\inject.exe".encode("utf-16-le"), dtype=np.uint16)
    paths = np.zeros((n, 260), dtype=np.uint16)
    paths[:, : len(ntdll)] = ntdll
    paths[injector, : len(ntdll)] = 0
    paths[injector, : len(inject)] = inject
    h["OriginPath"] = paths
    hdr["StreamMask"] = Stream.HANDLE | Stream.MEMORY
    # Thread records overwrite the union: clear it first so bytes 144.. stay zero as the driver leaves them.
    recs["Data"][is_thread] = np.zeros(1, dtype=recs["Data"].dtype)
    hdr["StreamMask"][is_thread] = Stream.THREAD
    remote = is_thread & (rng.random(n) < 0.3)
    m = int(is_thread.sum())
    th = np.zeros(m, dtype=t.dtype)
    th["ProcessId"] = target[is_thread]
    th["ThreadId"] = rng.integers(1000, 20000, m) * 4
    th["CreatorPid"] = np.where(remote[is_thread], caller[is_thread], target[is_thread])
    th["StartAddress"] = np.where((remote & injector)[is_thread], 0x1F4A0B70000, 0x00007FF6_C0DE_5000)
    th["ImageBase"] = 0x00007FF6_C0DE_0000
    th["ImageSize"] = 0x1000
    base = ThreadFlag.GOT_START | ThreadFlag.GOT_RANGE | ThreadFlag.OUTSIDE_MAIN_IMG | ThreadFlag.START_REGION_EXEC
    corr = ThreadFlag.REMOTE_CREATOR | ThreadFlag.CORRELATED_INTENT | ThreadFlag.CORR_MEMORY
    th["Flags"] = base | np.where(remote[is_thread], corr, 0)
    th["FrameCount"] = np.where(remote[is_thread], 2, 0)
    th["Frames"][:, 0] = np.where(remote[is_thread], 0xFFFFF806_1A2B_3C4D, 0)
    th["Frames"][:, 1] = np.where(remote[is_thread], 0xFFFFF806_1A2B_0011, 0)
    t[is_thread] = th
    return recs


def write_records(path: Path, records: np.ndarray | list[bytes]) -> Path:
    """Write records (a structured array or byte strings) to `path`."""
    data = records.tobytes() if isinstance(records, np.ndarray) else b"".join(records)
    path.write_bytes(data)
    return path


__all__ = ["MEM_PRIVATE", "RECORD_SIZE", "STATUS_UNSUCCESSFUL", "handle_record", "realistic_records", "thread_record",
           "write_records"]  # fmt: skip
