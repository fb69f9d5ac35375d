"""Encodes Sleepwalker IOCTL records from the ABI declaration: one record at a time, or a realistic bulk file.

Tests build exact bytes with `handle_record`/`thread_record` instead of mocking the decoder; the demo and the
benchmark use `realistic_records`, a vectorised mix of handle opens (real access masks, ntdll-stub stacks, a few
direct-syscall opens from an injector) and thread starts, as a Windows 11 host under light activity produces.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.kernel.abi import (
    MAX_DEEP_SAMPLE_BYTES,
    MAX_EVENT_FRAMES,
    MEM_COMMIT,
    MEM_IMAGE,
    MEM_PRIVATE,
    ORIGIN_PATH_CHARS,
    SLEEPWALKER_EVENT_RECORD,
    STATUS_UNSUCCESSFUL,
    EventType,
    HandleFlag,
    Stream,
    ThreadFlag,
    sizeof,
)

RECORD_SIZE = sizeof(SLEEPWALKER_EVENT_RECORD)
RECORD_DTYPE = np.dtype(SLEEPWALKER_EVENT_RECORD)  # built from the ctypes layout once (it costs ~0.2 ms a call)
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
    recs = np.zeros(n, dtype=RECORD_DTYPE)
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
    frames[:, 3] = np.where(injector, 0, NTDLL_BASE + 0x5CC91)  # unused frames are zero, as the driver leaves them
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


# -- records from case rows (the generator's IOCTL writer) -----------------------------------------------------------


def _ints(batch: pa.RecordBatch, name: str, fill: int = 0) -> np.ndarray:
    """A column as int64 with NULL (or an absent column) as `fill`."""
    if name not in batch.schema.names:
        return np.full(batch.num_rows, fill, dtype=np.int64)
    column = pc.fill_null(batch.column(name).cast(pa.int64()), fill)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _present(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """Rows where a column is not NULL (all False for an absent column)."""
    if name not in batch.schema.names:
        return np.zeros(batch.num_rows, dtype=bool)
    return np.asarray(pc.is_valid(batch.column(name)).to_numpy(zero_copy_only=False), dtype=bool)


def _bits(batch: pa.RecordBatch, pairs: tuple[tuple[str, int], ...]) -> np.ndarray:
    """Flags OR-ed together from boolean columns."""
    out = np.zeros(batch.num_rows, dtype=np.int64)
    for name, bit in pairs:
        if name in batch.schema.names:
            on = pc.fill_null(batch.column(name).cast(pa.bool_()), False).to_numpy(zero_copy_only=False)
            out |= np.where(on, bit, 0)
    return out


def _frame_array(batch: pa.RecordBatch) -> np.ndarray:
    """(n, 8) u64 frame addresses from the `frames` list column (extra frames dropped, missing ones zero)."""
    n = batch.num_rows
    out = np.zeros((n, MAX_EVENT_FRAMES), dtype=np.uint64)
    if "frames" not in batch.schema.names:
        return out
    lists = batch.column("frames")
    flat = pc.list_flatten(lists)
    if not len(flat):
        return out
    parents = pc.list_parent_indices(lists).to_numpy()
    position = np.arange(len(parents)) - np.searchsorted(parents, parents)
    keep = position < MAX_EVENT_FRAMES
    addresses = pc.fill_null(flat.field("address"), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    out[parents[keep], position[keep]] = addresses[keep].view(np.uint64)
    return out


def _fixed_bytes(column: pa.Array, width: int) -> np.ndarray:
    """(n, width) u8 from a binary column (NULL and missing bytes zero, longer values cut)."""
    column = pc.fill_null(column.cast(pa.binary()), b"")
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + n + 1]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8) if column.buffers()[2] else np.zeros(0, np.uint8)
    lengths = np.minimum(np.diff(offsets), width)
    rows = np.repeat(np.arange(n), lengths)
    position = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out = np.zeros((n, width), dtype=np.uint8)
    out[rows, position] = data[offsets[:-1][rows] + position]
    return out


def _origin_paths(batch: pa.RecordBatch, rows: np.ndarray) -> np.ndarray:
    """(len(rows), 260) UTF-16 code units of OriginPath of `rows`, cut to 259 units; each distinct path is encoded
    once."""
    if "origin_path" not in batch.schema.names:
        return np.zeros((len(rows), ORIGIN_PATH_CHARS), dtype=np.uint16)
    encoded = pc.dictionary_encode(pc.fill_null(batch.column("origin_path").cast(pa.string()), ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    table = np.zeros((len(encoded.dictionary), ORIGIN_PATH_CHARS), dtype=np.uint16)
    for i, text in enumerate(encoded.dictionary.to_pylist()):
        units = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)[: ORIGIN_PATH_CHARS - 1]
        table[i, : len(units)] = units
    return table[encoded.indices.to_numpy(zero_copy_only=False)[rows]]


# Every case column `records_from_batch` reads: a caller reading a case only for its records reads these (measured on
# a 1 M-event case: 44 of its 122 columns, 0.2 s to read instead of 0.6 s).
RECORD_COLUMNS = ("family", "clock", "raw_clock", "ts", "sequence", "flags", "stream_mask", "actor_pid", "target_pid",
                  "access_mask", "class_id", "class_name", "origin_address", "origin_protect", "origin_path",
                  "exec_protect", "from_ntdll", "from_exe", "is_thread_object", "is_duplicate", "frame_count", "frames",
                  "status_open_process", "status_basic_info", "status_section_name", "deep_alloc_base",
                  "deep_region_size", "deep_region_protect", "deep_region_state", "deep_region_type",
                  "deep_sample_size", "deep_sample", "tid", "start_address", "image_base", "image_size", "got_start",
                  "got_range", "is_remote", "outside_main_image", "corr_flags", "start_region_protect",
                  "start_region_exec")  # fmt: skip


def records_from_batch(batch: pa.RecordBatch, *, boot_ns: int = 0, qpc_frequency: int = 10_000_000) -> np.ndarray:
    """768-byte records (spec 1.3) for the handle and thread rows of `batch`, in row order; no per-row loop.

    QPC comes from `raw_clock` when `clock` is `qpc` (else from `ts`, the boot time and the frequency);
    Flags/ClassId/Sequence/StreamMask are taken as given and derived like the driver only where NULL; NULL handle
    statuses are the driver's "step not reached" 0xC0000001; OriginPath is cut to 259 UTF-16 units.
    """
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([])
    family = batch.column("family") if "family" in batch.schema.names else pa.nulls(batch.num_rows, pa.string())
    batch = batch.filter(pc.fill_null(pc.is_in(family, pa.array(["handle", "thread"])), False))
    n = batch.num_rows
    recs = np.zeros(n, dtype=RECORD_DTYPE)
    if not n:
        return recs
    is_h = np.asarray(pc.equal(batch.column("family"), "handle").to_numpy(zero_copy_only=False), dtype=bool)
    is_t = ~is_h
    hdr, h, t = recs["Header"], recs["Data"]["Handle"], recs["Data"]["Thread"]
    qpc = _ints(batch, "raw_clock")
    clock = batch.column("clock") if "clock" in batch.schema.names else pa.nulls(n, pa.string())
    from_ts = ~np.asarray(pc.fill_null(pc.equal(clock, "qpc"), False).to_numpy(zero_copy_only=False), dtype=bool)
    if from_ts.any():
        ns = _ints(batch, "ts") * 1000 - boot_ns
        seconds, rest = np.divmod(ns, 1_000_000_000)
        qpc = np.where(from_ts, seconds * qpc_frequency + rest * qpc_frequency // 1_000_000_000, qpc)
    hflags = np.where(_present(batch, "flags"), _ints(batch, "flags"), _bits(batch, (
        ("exec_protect", HandleFlag.EXEC_PROTECT), ("from_ntdll", HandleFlag.FROM_NTDLL),
        ("from_exe", HandleFlag.FROM_EXE), ("is_thread_object", HandleFlag.THREAD_OBJECT),
        ("is_duplicate", HandleFlag.DUPLICATE_OPERATION))) | np.where(_ints(batch, "access_mask") & 0x1FFFFF,
                                                                      HandleFlag.MEMORY_RELATED, 0))  # fmt: skip
    corr = _ints(batch, "corr_flags")
    start_exec = np.where(_present(batch, "start_region_exec"), _bits(batch, (("start_region_exec", 1),)),
                          (_ints(batch, "start_region_protect") & 0xF0) != 0)  # fmt: skip
    tflags = np.where(_present(batch, "flags"), _ints(batch, "flags"), _bits(batch, (
        ("got_start", ThreadFlag.GOT_START), ("got_range", ThreadFlag.GOT_RANGE),
        ("is_remote", ThreadFlag.REMOTE_CREATOR), ("outside_main_image", ThreadFlag.OUTSIDE_MAIN_IMG)))
        | np.where(corr != 0, ThreadFlag.CORRELATED_INTENT, 0) | np.where(corr & 1, ThreadFlag.CORR_MEMORY, 0)
        | np.where(corr & 2, ThreadFlag.CORR_THREAD_CTX, 0) | np.where(corr & 4, ThreadFlag.CORR_DUP_HANDLE, 0)
        | np.where(start_exec, ThreadFlag.START_REGION_EXEC, 0))  # fmt: skip
    flags = np.where(is_h, hflags, tflags)
    derived_stream = np.where(is_h, Stream.HANDLE | np.where(hflags & HandleFlag.MEMORY_RELATED, Stream.MEMORY, 0),
                              Stream.THREAD)  # fmt: skip
    hdr["Size"] = RECORD_SIZE
    hdr["Type"] = np.where(is_h, EventType.HANDLE, EventType.THREAD)
    hdr["StreamMask"] = np.where(_present(batch, "stream_mask"), _ints(batch, "stream_mask"), derived_stream)
    hdr["Sequence"] = _ints(batch, "sequence")
    hdr["TimestampQpc"] = qpc
    frames = _frame_array(batch)
    counts = np.where(_present(batch, "frame_count"), _ints(batch, "frame_count"),
                      (frames != 0).sum(axis=1) if "frames" not in batch.schema.names else
                      pc.fill_null(pc.list_value_length(batch.column("frames")), 0).to_numpy(zero_copy_only=False))  # fmt: skip
    counts = np.clip(counts, 0, MAX_EVENT_FRAMES)
    actor, target = _ints(batch, "actor_pid").view(np.uint64), _ints(batch, "target_pid").view(np.uint64)
    if is_h.any():
        origin = np.where(_present(batch, "origin_address"), _ints(batch, "origin_address").view(np.uint64),
                          frames[:, 0])  # fmt: skip
        protect = _ints(batch, "origin_protect")
        class_id = np.where(_present(batch, "class_id"), _ints(batch, "class_id"), _class_from_name(batch))
        raw = batch.column("deep_sample") if "deep_sample" in batch.schema.names else pa.nulls(n, pa.binary())
        sample = _fixed_bytes(raw, MAX_DEEP_SAMPLE_BYTES)
        lengths = pc.fill_null(pc.binary_length(raw.cast(pa.binary())), 0).to_numpy(zero_copy_only=False)
        sample_size = np.where(_present(batch, "deep_sample_size"), _ints(batch, "deep_sample_size"), lengths)
        values = {
            "CallerPid": actor, "TargetPid": target, "DesiredAccess": _ints(batch, "access_mask"),
            "ClassId": class_id, "OriginAddress": origin, "OriginProtect": protect, "Flags": flags,
            "FrameCount": counts, "Frames": frames,
            "StatusOpenProcess": _ints(batch, "status_open_process", STATUS_UNSUCCESSFUL),
            "StatusBasicInfo": _ints(batch, "status_basic_info", STATUS_UNSUCCESSFUL),
            "StatusSectionName": _ints(batch, "status_section_name", STATUS_UNSUCCESSFUL),
            "DeepAllocationBase": _ints(batch, "deep_alloc_base").view(np.uint64),
            "DeepRegionSize": _ints(batch, "deep_region_size").view(np.uint64),
            "DeepRegionProtect": np.where(_present(batch, "deep_region_protect"),
                                          _ints(batch, "deep_region_protect"), protect),
            "DeepRegionState": _ints(batch, "deep_region_state"), "DeepRegionType": _ints(batch, "deep_region_type"),
            "DeepSampleSize": np.clip(sample_size, 0, MAX_DEEP_SAMPLE_BYTES), "DeepSample": sample,
        }  # fmt: skip
        rows = np.flatnonzero(is_h)
        _scatter(h, rows, values)
        h["OriginPath"][rows] = _origin_paths(batch, rows)  # 520 bytes a row: gathered for these rows only
    if is_t.any():
        values = {
            "ProcessId": target, "ThreadId": _ints(batch, "tid").view(np.uint64), "CreatorPid": actor,
            "StartAddress": _ints(batch, "start_address").view(np.uint64),
            "ImageBase": _ints(batch, "image_base").view(np.uint64),
            "ImageSize": _ints(batch, "image_size").view(np.uint64), "Flags": flags, "FrameCount": counts,
            "Frames": frames,
        }  # fmt: skip
        _scatter(t, np.flatnonzero(is_t), values)
    return recs


def _scatter(struct: np.ndarray, rows: np.ndarray, values: dict[str, np.ndarray]) -> None:
    """`struct[name][rows] = value[rows]` for each field, cast like the C fields (astype wraps)."""
    for name, value in values.items():
        field = struct[name]
        field[rows] = value[rows].astype(field.dtype, copy=False)


def _class_from_name(batch: pa.RecordBatch) -> np.ndarray:
    """ClassId from the ETW `class` string (LEGITIMATE-SYSCALL 1, DIRECT-SYSCALL-SUSPECT 2, else 0)."""
    if "class_name" not in batch.schema.names:
        return np.zeros(batch.num_rows, dtype=np.int64)
    names = pc.fill_null(batch.column("class_name"), "")
    return (np.where(pc.equal(names, "LEGITIMATE-SYSCALL").to_numpy(zero_copy_only=False), 1, 0)
            + np.where(pc.equal(names, "DIRECT-SYSCALL-SUSPECT").to_numpy(zero_copy_only=False), 2, 0))  # fmt: skip


__all__ = ["MEM_PRIVATE", "RECORD_COLUMNS", "RECORD_SIZE", "STATUS_UNSUCCESSFUL", "handle_record", "realistic_records",
           "records_from_batch", "thread_record", "write_records"]  # fmt: skip
