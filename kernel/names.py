"""Names the Sleepwalker printers give to masks, protections, states and flags (spec section 4.1-4.3).

The strings are part of the output contract: `swk` renders evidence with them, and the text writers and readers of
Sleepwalker's own console formats must produce and parse exactly these spellings.
"""

from __future__ import annotations

import math

from swk.kernel.abi import PROCESS_ALL_ACCESS, HandleFlag, IntentFlag, Stream, ThreadFlag

# ETW printer access table, in printing order. There is no thread table [Q]: a thread mask 0x1A prints as
# CREATE_THREAD|VM_OPERATION|VM_READ.
ACCESS_NAMES: tuple[tuple[str, int], ...] = (
    ("TERMINATE", 0x1),
    ("CREATE_THREAD", 0x2),
    ("SET_SESSIONID", 0x4),
    ("VM_OPERATION", 0x8),
    ("VM_READ", 0x10),
    ("VM_WRITE", 0x20),
    ("DUP_HANDLE", 0x40),
    ("CREATE_PROCESS", 0x80),
    ("SET_QUOTA", 0x100),
    ("SET_INFORMATION", 0x200),
    ("QUERY_INFORMATION", 0x400),
    ("SUSPEND_RESUME", 0x800),
    ("QUERY_LIMITED_INFO", 0x1000),
    ("SYNCHRONIZE", 0x100000),
)

# What a thread mask means (used by swk's own evidence rendering, never by the Sleepwalker printers).
THREAD_ACCESS_NAMES: tuple[tuple[str, int], ...] = (
    ("TERMINATE", 0x1),
    ("SUSPEND_RESUME", 0x2),
    ("GET_CONTEXT", 0x8),
    ("SET_CONTEXT", 0x10),
    ("SET_INFORMATION", 0x20),
    ("QUERY_INFORMATION", 0x40),
    ("SET_THREAD_TOKEN", 0x80),
    ("IMPERSONATE", 0x100),
    ("DIRECT_IMPERSONATION", 0x200),
    ("SET_LIMITED_INFORMATION", 0x400),
    ("QUERY_LIMITED_INFORMATION", 0x800),
    ("RESUME", 0x1000),
    ("SYNCHRONIZE", 0x100000),
)

PROTECT_PREFIXES = (("GUARD", 0x100), ("NOCACHE", 0x200), ("WRITECOMBINE", 0x400))
PROTECT_LOW = {
    0x01: "NOACCESS",
    0x02: "R",
    0x04: "RW",
    0x08: "WCOPY",
    0x10: "X",
    0x20: "XR",
    0x40: "XRW",
    0x80: "XWCOPY",
}
MEMORY_STATES = {0x1000: "COMMIT", 0x2000: "RESERVE", 0x10000: "FREE"}
MEMORY_TYPES = {0x1000000: "IMAGE", 0x40000: "MAPPED", 0x20000: "PRIVATE"}
CORR_NAMES = (("ProcessMemory", IntentFlag.PROCESS_MEMORY), ("ThreadContext", IntentFlag.THREAD_CONTEXT),
              ("DuplicateHandle", IntentFlag.DUP_HANDLE))  # fmt: skip
STREAM_NAMES = (("HANDLE", Stream.HANDLE), ("MEMORY", Stream.MEMORY), ("THREAD", Stream.THREAD))

# Client console (4.2): bits 0x200 and above are never printed there.
CLIENT_HANDLE_FLAG_NAMES = (
    ("ExecProtect", HandleFlag.EXEC_PROTECT),
    ("FromNtdll", HandleFlag.FROM_NTDLL),
    ("FromExe", HandleFlag.FROM_EXE),
    ("MemoryRelated", HandleFlag.MEMORY_RELATED),
    ("ThreadObject", HandleFlag.THREAD_OBJECT),
    ("DuplicateOp", HandleFlag.DUPLICATE_OPERATION),
    ("DeepCandidate", HandleFlag.DEEP_PATH_CANDIDATE),
    ("DeepCaptured", HandleFlag.DEEP_PATH_CAPTURED),
    ("DeepCacheHit", HandleFlag.DEEP_PATH_CACHE_HIT),
)

# Test-suite printer (4.3): the three Deep* flags are not printed there.
SUITE_HANDLE_FLAG_NAMES = (
    ("ExecProtect", HandleFlag.EXEC_PROTECT),
    ("FromNtdll", HandleFlag.FROM_NTDLL),
    ("FromExe", HandleFlag.FROM_EXE),
    ("MemoryRelated", HandleFlag.MEMORY_RELATED),
    ("ThreadObject", HandleFlag.THREAD_OBJECT),
    ("DuplicateOp", HandleFlag.DUPLICATE_OPERATION),
    ("ReturnAddressValid", HandleFlag.RETURN_ADDRESS_VALID),
    ("StackValidated", HandleFlag.STACK_VALIDATED),
    ("StackSpoofSuspect", HandleFlag.STACK_SPOOF_SUSPECT),
    ("SyscallExportMatch", HandleFlag.SYSCALL_EXPORT_MATCH),
    ("SyscallExportMismatch", HandleFlag.SYSCALL_EXPORT_MISMATCH),
    ("ModuleChainSane", HandleFlag.MODULE_CHAIN_SANE),
    ("UnwindMetadataValid", HandleFlag.UNWIND_METADATA_VALID),
    ("TebStackBoundsValid", HandleFlag.TEB_STACK_BOUNDS_VALID),
    ("FramesOutsideTebStack", HandleFlag.FRAMES_OUTSIDE_TEB_STACK),
)

# Both consoles (4.2, 4.3) print thread flags with these names.
THREAD_FLAG_NAMES = (
    ("GotStart", ThreadFlag.GOT_START),
    ("GotRange", ThreadFlag.GOT_RANGE),
    ("RemoteCreator", ThreadFlag.REMOTE_CREATOR),
    ("OutsideMainImage", ThreadFlag.OUTSIDE_MAIN_IMG),
    ("CorrelatedIntent", ThreadFlag.CORRELATED_INTENT),
    ("IntentProcessMemory", ThreadFlag.CORR_MEMORY),
    ("IntentThreadContext", ThreadFlag.CORR_THREAD_CTX),
    ("IntentDupHandle", ThreadFlag.CORR_DUP_HANDLE),
    ("StartRegionExec", ThreadFlag.START_REGION_EXEC),
)


def access_names(mask: int) -> str:
    """ETW printer rendering of an access mask: `PROCESS_ALL_ACCESS`, `A|B|...` or `<none>`."""
    mask &= 0xFFFFFFFF
    if mask == PROCESS_ALL_ACCESS:
        return "PROCESS_ALL_ACCESS"
    names = [name for name, bit in ACCESS_NAMES if mask & bit == bit]
    return "|".join(names) if names else "<none>"


def thread_access_names(mask: int) -> str:
    """What a thread-object access mask means (swk's evidence view; not a Sleepwalker spelling)."""
    mask &= 0xFFFFFFFF
    if mask & 0x1FFFFF == 0x1FFFFF:
        return "THREAD_ALL_ACCESS"
    names = [name for name, bit in THREAD_ACCESS_NAMES if mask & bit == bit]
    return "|".join(names) if names else "<none>"


def protect_text(protect: int) -> str:
    """Protection text without the hex prefix: `XRW`, `GUARD|RW`, `<unknown>`."""
    protect &= 0xFFFFFFFF
    parts = [name for name, bit in PROTECT_PREFIXES if protect & bit]
    low = PROTECT_LOW.get(protect & 0xFF)
    if low:
        parts.append(low)
    return "|".join(parts) if parts else "<unknown>"


def protect_display(protect: int) -> str:
    """`0x%08X (text)` as the ETW printer shows a protection."""
    return f"0x{protect & 0xFFFFFFFF:08X} ({protect_text(protect)})"


def memory_state(state: int) -> str:
    """`COMMIT`, `RESERVE`, `FREE`, else `0x%08X`."""
    return MEMORY_STATES.get(state & 0xFFFFFFFF, f"0x{state & 0xFFFFFFFF:08X}")


def memory_type(kind: int) -> str:
    """`IMAGE`, `MAPPED`, `PRIVATE`, else `0x%08X`."""
    return MEMORY_TYPES.get(kind & 0xFFFFFFFF, f"0x{kind & 0xFFFFFFFF:08X}")


def corr_names(flags: int) -> str:
    """Correlation flags as `ProcessMemory|ThreadContext|DuplicateHandle` or `<none>`."""
    names = [name for name, bit in CORR_NAMES if flags & bit]
    return "|".join(names) if names else "<none>"


def stream_names(mask: int) -> str:
    """Stream mask as `HANDLE|MEMORY` or `<none>` (test-suite header)."""
    names = [name for name, bit in STREAM_NAMES if mask & bit]
    return "|".join(names) if names else "<none>"


def flag_names(flags: int, table: tuple[tuple[str, int], ...]) -> list[str]:
    """Names of the set bits of `flags` in a printer's table order."""
    return [name for name, bit in table if flags & bit]


def status_text(status: int) -> str:
    """`SUCCESS(0x%08X)` if the NTSTATUS is >= 0 else `FAIL(0x%08X)`."""
    signed = status - (1 << 32) if status >= 0x80000000 else status
    return f"{'SUCCESS' if signed >= 0 else 'FAIL'}(0x{status & 0xFFFFFFFF:08X})"


def is_exec_protect(protect: int) -> bool:
    """The driver's 4-bit execute test (PAGE_EXECUTE / _READ / _READWRITE / _WRITECOPY)."""
    return bool(protect & 0xF0)


def entropy(sample: bytes) -> float:
    """Shannon entropy in bits per byte (0.0 for an empty sample), as the printers compute it."""
    if not sample:
        return 0.0
    counts: dict[int, int] = {}
    for byte in sample:
        counts[byte] = counts.get(byte, 0) + 1
    total = len(sample)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def opcodes(sample: bytes) -> str:
    """The first 16 sample bytes as `CC 48 ...`, then ` ...` if longer; `<none>` when empty."""
    if not sample:
        return "<none>"
    text = " ".join(f"{b:02X}" for b in sample[:16])
    return text + " ..." if len(sample) > 16 else text
