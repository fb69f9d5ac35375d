"""Handle monitor classification pipeline (spec 3.2): from the captured frames and the caller's memory to the
record's flags, class, statuses and deep-path fields.

`classify` is everything the work item computes that depends only on the frames and the caller's memory; it is
pure, so callers may memoise it per (address-space version, frames). The deep-path sample cache is the only state,
in `DeepCache`, applied per event by `deep_sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

from swk.kernel.abi import MEM_IMAGE, STATUS_UNSUCCESSFUL, HandleClass, HandleFlag
from swk.kernel.model.memory import (
    STATUS_INVALID_ADDRESS,
    STATUS_INVALID_CID,
    STATUS_INVALID_PARAMETER,
    AddressSpace,
    Region,
    executable_committed,
    is_exec,
    syscall_number,
)
from swk.kernel.model.timing import DEEP_CACHE_TTL_MS, ms

F = HandleFlag
MAX_FRAMES = 8
CHAIN_FRAMES = 6  # module-chain and unwind checks look at the first min(6, n) frames
TEB_MIN_STACK = 0x4000
TEB_MAX_STACK = 64 << 20
DEEP_SAMPLE_BYTES = 64
EXPECTED_EXPORT = {"duplicate": "NtDuplicateObject", "thread": "NtOpenThread", "process": "NtOpenProcess"}


@dataclass(frozen=True, slots=True)
class Classification:
    """The work item's result for one stack, before the per-event bits (object type, duplicate, deep cache)."""

    class_id: int
    flags: int  # every flag except MEMORY_RELATED, THREAD_OBJECT, DUPLICATE_OPERATION, DEEP_PATH_CAPTURED/CACHE_HIT
    anomaly: bool  # stackIntegrityAnomaly
    frames: tuple[int, ...]
    origin_address: int = 0
    origin_protect: int = 0
    origin_path: str = ""
    status_open: int = STATUS_UNSUCCESSFUL
    status_basic: int = STATUS_UNSUCCESSFUL
    status_section: int = STATUS_UNSUCCESSFUL
    deep_alloc_base: int = 0
    deep_region_size: int = 0
    deep_region_state: int = 0
    deep_region_type: int = 0
    deep_key: tuple[int, int, int, int, int] | None = (
        None  # region (base, size, protect, state, type) if the gate passed
    )

    @property
    def class_name(self) -> str:
        """The ETW `class` string."""
        return {1: "LEGITIMATE-SYSCALL", 2: "DIRECT-SYSCALL-SUSPECT"}.get(self.class_id, "UNKNOWN-ORIGIN")


def _has_ntdll(region: Region | None) -> bool:
    return region is not None and region.path is not None and "ntdll.dll" in region.path.lower()


def return_address_valid(space: AddressSpace, frames: tuple[int, ...]) -> bool:
    """Call-site check on Frames[1]: a 5-byte `E8 rel32` or a 2-byte `FF /2` just before it.

    [Q][INF] The 6-byte `FF 15 disp32` import call is not recognised, so an ordinary KERNELBASE -> ntdll call fails.
    """
    if len(frames) < 2:
        return False
    before = space.read(frames[1] - 8, 8)
    if before is None or len(before) < 8:
        return False
    return before[3] == 0xE8 or (before[6] == 0xFF and (before[7] >> 3) & 7 == 2)


def _stack_checks(regions: list[Region | None], frames: tuple[int, ...]) -> tuple[bool, bool]:
    """(StackValidated, StackSpoofSuspect); spoofing is only judged while validation still succeeds."""
    spoof = False
    previous = None
    for frame, region in zip(frames, regions, strict=True):
        if frame < 0x10000 or frame == previous or region is None or not executable_committed(region):
            return False, spoof
        if region.type != MEM_IMAGE:
            spoof = True
        previous = frame
    return True, spoof


def _module_chain_sane(regions: list[Region | None]) -> bool:
    head = regions[:CHAIN_FRAMES]
    ntdll_bases = set()
    for region in head:
        if region is None or not executable_committed(region) or region.type != MEM_IMAGE or not region.alloc_base:
            return False
        if _has_ntdll(region):
            ntdll_bases.add(region.alloc_base)
    ntdll = [_has_ntdll(r) for r in head]
    return any(ntdll) and any(ntdll[:3]) and len(ntdll_bases) == 1 and not all(ntdll)


def _unwind_valid(space: AddressSpace, regions: list[Region | None], frames: tuple[int, ...]) -> bool:
    for frame, region in list(zip(frames, regions, strict=True))[:CHAIN_FRAMES]:
        if region is None or region.type != MEM_IMAGE or not space.unwind_covers(frame):
            return False
    return True


def _export_check(space: AddressSpace, origin: int, origin_region: Region, regions: list[Region | None],
                  kind: str) -> int:  # fmt: skip
    """SYSCALL_EXPORT_MATCH / _MISMATCH / neither (the expected number was not found)."""
    if _has_ntdll(origin_region):
        ntdll_base = origin_region.alloc_base
    else:
        ntdll_base = next((r.alloc_base for r in regions if _has_ntdll(r)), None)
    if not ntdll_base:
        return 0
    export = space.export(ntdll_base, EXPECTED_EXPORT[kind])
    expected = syscall_number(space, export) if export else None
    if expected is None:
        return 0
    actual = syscall_number(space, origin)
    return int(F.SYSCALL_EXPORT_MATCH if actual == expected else F.SYSCALL_EXPORT_MISMATCH)


def classify(space: AddressSpace | None, frames: tuple[int, ...], *, kind: str = "process",
             teb: tuple[int, int] | None = None, tid_known: bool = True) -> Classification:  # fmt: skip
    """Run the 3.2 pipeline for `frames` (innermost first) in the caller's `space`; `kind` is process, thread or
    duplicate (it picks the export the syscall check expects); `teb` = (StackLimit, StackBase) of the caller thread."""
    frames = tuple(frames[:MAX_FRAMES])
    if not frames or frames[0] == 0:
        return Classification(HandleClass.UNKNOWN, 0, False, frames)
    origin = frames[0]
    if space is None:
        return Classification(HandleClass.UNKNOWN, 0, False, frames, origin, status_open=STATUS_INVALID_CID)
    region = space.query(origin)
    # An origin that cannot be queried leaves the origin facts empty, but every stack check still runs (and fails).
    path = region.path if region is not None and region.path is not None else ""
    if region is None:
        status_basic = status_section = STATUS_INVALID_PARAMETER
    else:
        status_basic, status_section = 0, (0 if region.path is not None else STATUS_INVALID_ADDRESS)
    lower = path.lower()
    exec_protect = region is not None and is_exec(region.protect)
    from_ntdll, from_exe = "ntdll.dll" in lower, ".exe" in lower
    flags = (F.EXEC_PROTECT if exec_protect else 0) | (F.FROM_NTDLL if from_ntdll else 0)
    flags |= F.FROM_EXE if from_exe else 0
    deep_key = None
    if region is not None and exec_protect and not from_ntdll:
        flags |= F.DEEP_PATH_CANDIDATE
        deep_key = (region.base_of(origin), region.size_from(origin), region.protect, region.state, region.type)
    regions = [space.query(f) for f in frames]
    validated, spoof = _stack_checks(regions, frames)
    ret_valid = return_address_valid(space, frames)
    chain_sane = _module_chain_sane(regions)
    unwind_valid = _unwind_valid(space, regions, frames)
    teb_checked = tid_known
    teb_valid = (
        teb_checked and teb is not None and 0 < teb[0] < teb[1] and TEB_MIN_STACK <= teb[1] - teb[0] <= TEB_MAX_STACK
    )
    outside = teb_valid and not any(teb[0] <= f < teb[1] for f in frames)  # type: ignore[index]
    flags |= (F.STACK_VALIDATED if validated else 0) | (F.STACK_SPOOF_SUSPECT if spoof else 0)
    flags |= (F.RETURN_ADDRESS_VALID if ret_valid else 0) | (F.MODULE_CHAIN_SANE if chain_sane else 0)
    flags |= (F.UNWIND_METADATA_VALID if unwind_valid else 0) | (F.TEB_STACK_BOUNDS_VALID if teb_valid else 0)
    flags |= F.FRAMES_OUTSIDE_TEB_STACK if outside else 0
    flags |= _export_check(space, origin, region, regions, kind) if region is not None else 0
    # The process was opened, so the chain and unwind checks ran (ModuleChainChecked and UnwindChecked are TRUE).
    teb_bad = teb_checked and not (teb_valid and outside)
    if from_ntdll and validated and not spoof and ret_valid and chain_sane and unwind_valid and teb_checked \
            and teb_valid and outside:  # fmt: skip
        class_id = HandleClass.LEGITIMATE_SYSCALL
    elif not chain_sane or not unwind_valid or teb_bad or (exec_protect and (not from_ntdll or not validated or spoof)):
        class_id = HandleClass.DIRECT_SYSCALL_SUSPECT
    else:
        class_id = HandleClass.UNKNOWN
    anomaly = spoof or not validated or not ret_valid or not chain_sane or not unwind_valid or teb_bad
    if region is None:
        return Classification(int(class_id), int(flags), anomaly, frames, origin, status_open=0,
                              status_basic=status_basic, status_section=status_section)  # fmt: skip
    return Classification(int(class_id), int(flags), anomaly, frames, origin, region.protect, path[:511],
                          0, status_basic, status_section, region.alloc_base, region.size_from(origin), region.state,
                          region.type, deep_key)  # fmt: skip


class DeepCache:
    """The 64-entry deep-path sample cache: keyed by (caller pid, region), 3000 ms TTL, round-robin slots."""

    SIZE = 64

    def __init__(self) -> None:
        self._entries: list[tuple[int, tuple, int, bytes] | None] = [None] * self.SIZE
        self._next = 0

    def lookup(self, pid: int, key: tuple, now_us: int) -> bytes | None:
        """The cached sample for (pid, region) younger than the TTL, if any (first match in slot order)."""
        for entry in self._entries:
            if entry is not None and entry[0] == pid and entry[1] == key and ms(entry[2], now_us) <= DEEP_CACHE_TTL_MS:
                return entry[3]
        return None

    def store(self, pid: int, key: tuple, now_us: int, sample: bytes) -> None:
        """Remember a fresh sample in the next round-robin slot."""
        self._entries[self._next % self.SIZE] = (pid, key, now_us, sample)
        self._next += 1


def deep_sample(cache: DeepCache, space: AddressSpace | None, pid: int, cls: Classification,
                now_us: int) -> tuple[int, bytes]:  # fmt: skip
    """(dynamic deep flags, sample) for one event: a cache hit, a fresh 64-byte copy from the region base, or none."""
    if cls.deep_key is None or space is None:
        return 0, b""
    cached = cache.lookup(pid, cls.deep_key, now_us)
    if cached is not None:
        return int(F.DEEP_PATH_CAPTURED | F.DEEP_PATH_CACHE_HIT), cached
    sample = space.read(cls.deep_key[0], DEEP_SAMPLE_BYTES)
    if sample is None or len(sample) != DEEP_SAMPLE_BYTES:  # whole copy or nothing
        return 0, b""
    cache.store(pid, cls.deep_key, now_us, sample)
    return int(F.DEEP_PATH_CAPTURED), sample
