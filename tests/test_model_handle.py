"""Handle monitor (spec 3.1-3.2): gating, the classification pipeline, deep path, and the DIRECT/STACK rules."""

from __future__ import annotations

import pytest

from swk.kernel.abi import MEM_COMMIT, MEM_IMAGE, MEM_PRIVATE, HandleClass, HandleFlag
from swk.kernel.model import analyze, rowkit
from swk.kernel.model.access import captures_stack, intent_flags, memory_related
from swk.kernel.model.classify import DeepCache, classify, deep_sample, return_address_valid
from swk.kernel.model.memory import Region, syscall_number

F = HandleFlag
NTDLL = "\\Device\\HarddiskVolume3\\Windows\\System32\\ntdll.dll"
KBASE = "\\Device\\HarddiskVolume3\\Windows\\System32\\KernelBase.dll"
EXE = "\\Device\\HarddiskVolume3\\Lab\\inject.exe"
NT_BASE, KB_BASE, EXE_BASE, SHELL = 0x7FFD_F740_0000, 0x7FFD_F4C0_0000, 0x7FF7_A1B1_0000, 0x1F4_A0B7_0000
STUB = NT_BASE + 0x9D000  # NtOpenProcess's stub; its return address is +0x14
MODERN = bytes.fromhex("4C8BD1B826000000F604250803FE7F0175030F05C3CD2EC30F1F840000000000")
DIRECT = bytes.fromhex("4C8BD1B8260000000F05C3")


class Space:
    """A caller's memory: regions, some bytes, ntdll's NtOpenProcess export, unwind data for image `.text`."""

    version = 0

    def __init__(self, extra: tuple[Region, ...] = (), code: dict[int, bytes] | None = None) -> None:
        self.regions = (Region(NT_BASE + 0x1000, NT_BASE + 0x131000, NT_BASE, 0x20, MEM_COMMIT, MEM_IMAGE, NTDLL),
                        Region(KB_BASE + 0x1000, KB_BASE + 0x1A9000, KB_BASE, 0x20, MEM_COMMIT, MEM_IMAGE, KBASE),
                        Region(EXE_BASE + 0x1000, EXE_BASE + 0x1D000, EXE_BASE, 0x20, MEM_COMMIT, MEM_IMAGE, EXE),
                        *extra)  # fmt: skip
        self.code = {STUB: MODERN, **(code or {})}

    def query(self, address: int) -> Region | None:
        return next((r for r in self.regions if r.start <= address < r.end), None)

    def read(self, address: int, size: int) -> bytes | None:
        if self.query(address) is None:
            return None
        out = bytearray(b"\xcc" * size)
        for at, data in self.code.items():
            for i, byte in enumerate(data):
                if address <= at + i < address + size:
                    out[at + i - address] = byte
        return bytes(out)

    def export(self, base: int, name: str) -> int | None:
        return STUB if base == NT_BASE and name == "NtOpenProcess" else None

    def unwind_covers(self, address: int) -> bool:
        region = self.query(address)
        return region is not None and region.type == MEM_IMAGE


TEB = (0x00A0_0010_0000 - 0xC000, 0x00A0_0010_0000)
ORDINARY = (STUB + 0x14, KB_BASE + 0x21E4E, EXE_BASE + 0x133F4, KB_BASE + 0x17574, NT_BASE + 0x5AF21)
IMPORT_CALL = {KB_BASE + 0x21E4E - 6: bytes.fromhex("FF15D27E1600")}
NEAR_CALL = {NT_BASE + 0x7AB63 - 5: bytes.fromhex("E8A43BFFFF")}


# -- 3.1 gating -------------------------------------------------------------------------------------------------------


def test_q_any_bit_of_process_all_access_is_memory_intent():
    # [Q] "mask AND PROCESS_ALL_ACCESS != 0": even QUERY_LIMITED_INFORMATION or SYNCHRONIZE count
    assert intent_flags(0x1000, False, False) == 1
    assert intent_flags(0x100000, False, False) == 1
    # only masks purely above 0x1FFFFF (ACCESS_SYSTEM_SECURITY, MAXIMUM_ALLOWED, generic bits) are ignored
    assert intent_flags(0x01000000 | 0x02000000 | 0x80000000, False, False) == 0


def test_thread_handles_are_gated_by_the_three_context_bits_only():
    assert intent_flags(0x10, True, False) == 2  # SET_CONTEXT
    assert intent_flags(0x8, True, False) == 2  # GET_CONTEXT
    assert intent_flags(0x2, True, False) == 2  # SUSPEND_RESUME
    assert intent_flags(0x800 | 0x40 | 0x1, True, False) == 0  # query-limited, query, terminate: no intent


def test_duplicate_adds_dup_handle_only_to_an_intent():
    assert intent_flags(0x1FFFFF, False, True) == 1 | 4
    assert intent_flags(0x02000000, False, True) == 0


def test_q_memory_related_on_thread_records_and_stack_capture_always():
    # [Q] MEMORY_RELATED uses the same any-bit test whatever the object: a SET_CONTEXT thread open has it
    assert memory_related(0x10)
    assert not memory_related(0x02000000)
    assert captures_stack(0x1000, False) and captures_stack(0x02000000, True)


# -- 3.2 classification ---------------------------------------------------------------------------------------------


def test_ordinary_call_through_kernelbase_is_unknown_origin():
    # [Q][INF] the 6-byte `FF 15` import call is not recognised: ReturnAddressValid false, class UNKNOWN
    cls = classify(Space(code=IMPORT_CALL), ORDINARY, teb=TEB)
    assert cls.class_id == HandleClass.UNKNOWN
    assert cls.flags == F.EXEC_PROTECT | F.FROM_NTDLL | F.STACK_VALIDATED | F.MODULE_CHAIN_SANE \
        | F.UNWIND_METADATA_VALID | F.TEB_STACK_BOUNDS_VALID | F.FRAMES_OUTSIDE_TEB_STACK  # fmt: skip
    assert cls.origin_path == NTDLL and cls.status_open == cls.status_basic == cls.status_section == 0
    assert cls.anomaly  # RETURN_ADDRESS_VALID clear is an integrity anomaly (it matters only with DIRECT)


def test_near_call_from_ntdll_is_legitimate():
    frames = (STUB + 0x14, NT_BASE + 0x7AB63, EXE_BASE + 0x170C8, KB_BASE + 0x17574, NT_BASE + 0x5AF21)
    cls = classify(Space(code=NEAR_CALL), frames, teb=TEB)
    assert cls.class_id == HandleClass.LEGITIMATE_SYSCALL
    assert cls.flags & F.RETURN_ADDRESS_VALID


@pytest.mark.parametrize(("before", "valid"), [
    (bytes.fromhex("488BCFE8A43BFFFF"), True),  # E8 rel32: the byte 5 before is E8
    (bytes.fromhex("4C8BC6488BD3FFD0"), True),  # FF D0 (call rax): reg field 2
    (bytes.fromhex("4C8BC6488BD3FF10"), True),  # FF 10 (call [rax])
    (bytes.fromhex("8BCBFF15D27E1600"), False),  # ...FF 15 disp32 right before it: not recognised [Q]
    (bytes.fromhex("4C8BC6488BD3FFE0"), False),  # FF E0 is jmp rax (reg field 4)
])  # fmt: skip
def test_return_address_check(before, valid):
    ret = KB_BASE + 0x5000
    space = Space(code={ret - 8: before})
    assert return_address_valid(space, (STUB + 0x14, ret)) is valid


def test_q_modern_stub_syscall_number_is_not_found_but_a_direct_stub_is():
    # [Q][INF] `syscall` 15 bytes after `mov eax` is outside the 5..12 window
    space = Space(extra=(Region(SHELL, SHELL + 0x1000, SHELL, 0x20, MEM_COMMIT, MEM_PRIVATE),),
                  code={SHELL + 0x40: DIRECT})  # fmt: skip
    assert syscall_number(space, STUB) is None
    assert syscall_number(space, STUB + 0x14) is None
    assert syscall_number(space, SHELL + 0x4A) == 0x26
    cls = classify(space, (SHELL + 0x4A, SHELL + 0x1B7), teb=TEB)
    assert not cls.flags & (F.SYSCALL_EXPORT_MATCH | F.SYSCALL_EXPORT_MISMATCH)  # the expected number is never found


def test_direct_syscall_from_unbacked_memory_with_deep_path():
    shell = Region(SHELL, SHELL + 0x1000, SHELL, 0x20, MEM_COMMIT, MEM_PRIVATE)
    space = Space(extra=(shell,), code={SHELL: bytes(range(64)), SHELL + 0x40: DIRECT})
    cls = classify(space, (SHELL + 0x4A, SHELL + 0x1B7, KB_BASE + 0x17574, NT_BASE + 0x5AF21), teb=TEB)
    assert cls.class_id == HandleClass.DIRECT_SYSCALL_SUSPECT and cls.anomaly
    assert cls.flags & F.STACK_SPOOF_SUSPECT and cls.flags & F.STACK_VALIDATED
    assert not cls.flags & (F.MODULE_CHAIN_SANE | F.UNWIND_METADATA_VALID)
    assert cls.status_section < 0 and cls.origin_path == ""  # private memory has no mapped file
    assert cls.deep_key == (SHELL, 0x1000, 0x20, MEM_COMMIT, MEM_PRIVATE)
    cache = DeepCache()
    flags, sample = deep_sample(cache, space, 42, cls, 1_000_000)
    assert flags == F.DEEP_PATH_CAPTURED and sample == bytes(range(64))  # 64 bytes at the region base
    assert deep_sample(cache, space, 42, cls, 1_000_000 + 3_000_999)[0] == F.DEEP_PATH_CAPTURED | F.DEEP_PATH_CACHE_HIT
    assert deep_sample(cache, space, 42, cls, 1_000_000 + 3_001_000)[0] == F.DEEP_PATH_CAPTURED  # TTL 3000 ms passed
    assert deep_sample(cache, space, 43, cls, 1_000_000)[0] == F.DEEP_PATH_CAPTURED  # keyed by caller pid too


def test_no_deep_path_for_ntdll_origin_and_region_size_from_the_page():
    cls = classify(Space(code=IMPORT_CALL), ORDINARY, teb=TEB)
    assert cls.deep_key is None and not cls.flags & F.DEEP_PATH_CANDIDATE
    assert cls.deep_alloc_base == NT_BASE
    assert cls.deep_region_size == NT_BASE + 0x131000 - ((STUB + 0x14) & ~0xFFF)  # RegionSize from BaseAddress


def test_exec_exe_origin_with_every_integrity_check_passing_is_direct_without_anomaly():
    # class DIRECT via "execProtect AND NOT fromNtdll" only: DIRECT without STACK (spec 3.2 outputs)
    frames = (EXE_BASE + 0x2040, NT_BASE + 0x7AB63, KB_BASE + 0x17574, NT_BASE + 0x5AF21)
    cls = classify(Space(code=NEAR_CALL), frames, teb=TEB)
    assert cls.class_id == HandleClass.DIRECT_SYSCALL_SUSPECT
    assert not cls.anomaly and cls.flags & F.FROM_EXE


def test_frames_inside_the_teb_stack_and_unqueryable_frames():
    stack_frame = TEB[0] + 0x100
    cls = classify(Space(code=IMPORT_CALL), (*ORDINARY[:2], stack_frame), teb=TEB)
    assert not cls.flags & F.STACK_VALIDATED and cls.flags & F.TEB_STACK_BOUNDS_VALID
    assert not cls.flags & F.FRAMES_OUTSIDE_TEB_STACK and cls.class_id == HandleClass.DIRECT_SYSCALL_SUSPECT
    # a TEB stack smaller than 0x4000 bytes is not valid
    small = classify(Space(code=IMPORT_CALL), ORDINARY, teb=(TEB[1] - 0x3000, TEB[1]))
    assert not small.flags & F.TEB_STACK_BOUNDS_VALID and small.class_id == HandleClass.DIRECT_SYSCALL_SUSPECT


def test_no_frames_or_caller_gone():
    assert classify(Space(), ()).class_id == HandleClass.UNKNOWN
    gone = classify(None, ORDINARY)
    assert gone.class_id == HandleClass.UNKNOWN and gone.status_open < 0 and gone.status_basic == -0x3FFFFFFF


# -- section 1 of docs/detections.md: the rules over rows ---------------------------------------------------------


def names(rows, **kw):
    return [d.rule for d in analyze(rows, **kw)]


def test_direct_and_stack_rules():
    # "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION: class_id = 2"; "STACK_INTEGRITY_...: class_id = 2 AND flags IS NOT NULL
    # AND anomaly"
    spoofed = rowkit.CLEAN_FLAGS | F.STACK_SPOOF_SUSPECT
    rows = [rowkit.handle(1, 0, 100, 200, 0x1010, class_id=2, flags=spoofed)]
    out = analyze(rows)
    assert [d.rule for d in out] == ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION", "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP"]
    assert (out[0].corr_flags, out[0].corr_access_mask, out[0].corr_age_ms) == (0, 0x1010, 0)
    assert out[0].evidence == (1,) and out[0].attack == "T1106"


@pytest.mark.parametrize(("class_id", "flags", "expected"), [
    (0, rowkit.CLEAN_FLAGS | F.STACK_SPOOF_SUSPECT, []),  # not DIRECT: nothing, whatever the flags
    (1, rowkit.CLEAN_FLAGS, []),
    (2, None, ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION"]),  # ETW-only row: the anomaly is unknown, never fires
    (2, rowkit.CLEAN_FLAGS | F.RETURN_ADDRESS_VALID, ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION"]),  # all checks pass
    (2, rowkit.CLEAN_FLAGS, ["DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION", "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP"]),
])  # fmt: skip
def test_direct_and_stack_near_misses(class_id, flags, expected):
    assert names([rowkit.handle(1, 0, 100, 200, class_id=class_id, flags=flags)]) == expected
