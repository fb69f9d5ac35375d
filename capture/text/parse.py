"""Values as the text formats print them, back to case columns, with every range checked (a bad value is `DamagedError`).

Addresses and pids are unsigned 64-bit on the wire and BIGINT in the case (same bits); NTSTATUS values are signed
32-bit; masks and flags unsigned 32-bit. The printers' renderings (protections, memory states, flag names, resolved
addresses) are inverted here with the spellings of `swk.kernel.names`.
"""

from __future__ import annotations

import re
from typing import Any

from swk.capture.text.lines import Block, DamagedError
from swk.kernel import names
from swk.kernel.abi import HANDLE_CLASS_ETW, HandleFlag, ThreadFlag

MASK64 = (1 << 64) - 1
CONTROLLER_NAMES = frozenset({"PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "PROCESS_HOLLOWING_MARK_CHAIN_STRONG",
                              "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN"})  # fmt: skip
_STATES = {text: value for value, text in names.MEMORY_STATES.items()}
_TYPES = {text: value for value, text in names.MEMORY_TYPES.items()}
# `Module!Symbol+0xN`, `Symbol+0xN`, `Module+0xN`, a bare name (the printer's image hint), or a placeholder.
_SYMBOL = re.compile(r"(?:(?P<module>[^!\s()]+)!)?(?P<name>[^!\s()+]+)(?:\+0x(?P<offset>[0-9A-F]+))?(?: \(.*\))?")


def u64(text: str, base: int = 16) -> int:
    """An unsigned 64-bit value as the case stores it (BIGINT with the same bits)."""
    value = int(text, base)
    if value > MASK64:
        raise DamagedError(f"{text} does not fit 64 bits")
    return value - (1 << 64) if value >= 1 << 63 else value


def u32(text: str, base: int = 16) -> int:
    """An unsigned 32-bit value."""
    value = int(text, base)
    if value > 0xFFFFFFFF:
        raise DamagedError(f"{text} does not fit 32 bits")
    return value


def i32(text: str, base: int = 16) -> int:
    """A 32-bit NTSTATUS printed as `0x%08X`, as the signed value Windows defines."""
    value = u32(text, base)
    return value - (1 << 32) if value >= 1 << 31 else value


def small(text: str, limit: int = 0x7FFFFFFF) -> int:
    """A decimal that must fit a signed 32-bit column (severity, counts, session ids...)."""
    value = int(text)
    if value > limit:
        raise DamagedError(f"{text} is out of range")
    return value


def protect(text: str) -> int:
    """`0x%08X (text)` back to the protection value (the text must be the one the printer would print)."""
    match = re.fullmatch(r"0x([0-9A-F]{8}) \((.*)\)", text)
    if not match:
        raise DamagedError(f"bad protection {text!r}")
    value = u32(match[1])
    if names.protect_text(value) != match[2]:
        raise DamagedError(f"protection 0x{value:08X} printed as {match[2]!r}")
    return value


def state(text: str) -> int:
    """`COMMIT`/`RESERVE`/`FREE` or `0x%08X`."""
    return _STATES[text] if text in _STATES else u32(_hex8(text))


def mem_type(text: str) -> int:
    """`IMAGE`/`MAPPED`/`PRIVATE` or `0x%08X`."""
    return _TYPES[text] if text in _TYPES else u32(_hex8(text))


def _hex8(text: str) -> str:
    if not re.fullmatch(r"0x[0-9A-F]{8}", text):
        raise DamagedError(f"bad value {text!r}")
    return text[2:]


def status_word(text: str) -> int:
    """`SUCCESS(0x%08X)` / `FAIL(0x%08X)` back to the signed NTSTATUS (the word must agree with the sign)."""
    match = re.fullmatch(r"(SUCCESS|FAIL)\(0x([0-9A-F]{8})\)", text)
    if not match:
        raise DamagedError(f"bad status {text!r}")
    value = i32(match[2])
    if (value >= 0) != (match[1] == "SUCCESS"):
        raise DamagedError(f"status {text} has the wrong word for its sign")
    return value


def flag_names(text: str, table: tuple[tuple[str, int], ...]) -> int:
    """Space-separated flag names (each followed by a space, as printed) back to the bits they stand for."""
    bits = dict(table)
    value = 0
    for word in text.split(" ")[:-1] if text.endswith(" ") else text.split(" "):
        if word not in bits:
            raise DamagedError(f"unknown flag name {word!r}")
        value |= bits[word]
    return value


def frame(address: str, text: str | None) -> dict[str, Any]:
    """A frame struct from a hex address and its resolved text: module + offset where the text names them.

    `Module!Symbol+0xN` names the module (the offset is the symbol's, so it is not kept); `Module+0xN` names both;
    a bare name is the ETW printer's image hint; placeholders (`[unresolved]`, `<null>`) name nothing.
    """
    module = offset = None
    if text and "[" not in text and not text.startswith("<"):
        match = _SYMBOL.fullmatch(text)
        if match:
            if match["module"]:
                module = match["module"]
            elif match["offset"] is not None or "." in match["name"]:
                module = match["name"]
                offset = int(match["offset"], 16) if match["offset"] is not None else None
    return {"address": u64(address), "module": module, "offset": offset}


def image(text: str) -> str | None:
    """A printed process image, or None for the printer's placeholders (`<pid:N ...>`)."""
    return None if text.startswith("<pid:") else text


def kernel_class(printed: str, exec_: bool, ntdll: bool, exe: bool, path: str) -> int | None:
    """The kernel ClassId behind the ETW printer's class string, when it is certain (4.4).

    The printer shows the kernel class when it is LEGITIMATE or DIRECT, else its own heuristic, which can *upgrade*
    a kernel UNKNOWN [Q]. So UNKNOWN-ORIGIN means 0; a class the heuristic would also have printed is ambiguous.
    """
    ids = {text: cid for cid, text in HANDLE_CLASS_ETW.items()}
    if printed not in ids:
        return None
    if printed == "UNKNOWN-ORIGIN":
        return 0
    heuristic = ("LEGITIMATE-SYSCALL" if exec_ and ntdll else
                 "DIRECT-SYSCALL-SUSPECT" if exec_ and (exe or not path) else "UNKNOWN-ORIGIN")  # fmt: skip
    return None if heuristic == printed else ids[printed]


def detection_kind(name: str) -> str:
    """Controller mark-chain names are the controller's synthetic detections (spec 3.0); the rest are kernel ones."""
    return "sleepwalker:controller:detection" if name in CONTROLLER_NAMES else "sleepwalker:etw:DetectionTelemetry"


def ti_kind(event: str | None, task: int | None) -> str:
    """`ti:etw:<event name or taskN>`."""
    if event:
        return f"ti:etw:{event}"
    return f"ti:etw:task{task}" if task is not None else "ti:etw:unknown"


def handle_flag_columns(bits: int) -> dict[str, bool]:
    """The booleans handle flag bits stand for (the ones the IOCTL reader derives from Flags)."""
    return {"exec_protect": bool(bits & HandleFlag.EXEC_PROTECT), "from_ntdll": bool(bits & HandleFlag.FROM_NTDLL),
            "from_exe": bool(bits & HandleFlag.FROM_EXE), "is_thread_object": bool(bits & HandleFlag.THREAD_OBJECT),
            "is_duplicate": bool(bits & HandleFlag.DUPLICATE_OPERATION)}  # fmt: skip


def thread_flag_columns(flags: int) -> dict[str, Any]:
    """The columns thread flags stand for: the booleans and the correlation flags of the CORR_* bits."""
    corr = ((1 if flags & ThreadFlag.CORR_MEMORY else 0) | (2 if flags & ThreadFlag.CORR_THREAD_CTX else 0)
            | (4 if flags & ThreadFlag.CORR_DUP_HANDLE else 0))  # fmt: skip
    return {"got_start": bool(flags & ThreadFlag.GOT_START), "got_range": bool(flags & ThreadFlag.GOT_RANGE),
            "is_remote": bool(flags & ThreadFlag.REMOTE_CREATOR),
            "outside_main_image": bool(flags & ThreadFlag.OUTSIDE_MAIN_IMG), "corr_flags": corr,
            "start_region_exec": bool(flags & ThreadFlag.START_REGION_EXEC)}  # fmt: skip


def frame_lines(block: Block, count: int, pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    """The next `min(count, 8)` frame lines of a block, `#0` first (`pattern` captures index, hex, text)."""
    frames = []
    for i in range(min(count, 8)):
        m = block.take(pattern, f"frame #{i}")
        if int(m[1]) != i:
            raise DamagedError(f"frame #{m[1]} where #{i} belongs")
        frames.append(frame(m[2], m[3]))
    return frames
