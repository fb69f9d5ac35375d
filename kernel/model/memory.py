"""What the driver can learn about a process's memory, as the handle and thread monitors query it.

The monitors ask the same questions the driver asks Windows (`ZwQueryVirtualMemory` basic and mapped-file-name
information, `ZwReadVirtualMemory`, the PE export and exception directories, the thread's TEB): `AddressSpace` and
`ProcessView` are those questions. The generator answers them from its simulated processes; tests answer them with
a few regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from swk.kernel.abi import EXECUTE_PROTECT_BITS, MEM_COMMIT, MEM_IMAGE

PAGE = 0x1000
STATUS_SUCCESS = 0
STATUS_INVALID_CID = -0x3FFFFFF5  # 0xC000000B: the caller exited before its work item ran
STATUS_INVALID_PARAMETER = -0x3FFFFFF3  # 0xC000000D: no region at the address
STATUS_INVALID_ADDRESS = -0x3FFFFEBF  # 0xC0000141: no mapped file at the address (private memory)


@dataclass(frozen=True, slots=True)
class Region:
    """One uniform region [start, end): what a basic query reports, plus the mapped file's NT path if any."""

    start: int
    end: int
    alloc_base: int
    protect: int
    state: int
    type: int
    path: str | None = None

    def base_of(self, address: int) -> int:
        """MEMORY_BASIC_INFORMATION.BaseAddress for a query at `address`: its page."""
        return address & ~(PAGE - 1)

    def size_from(self, address: int) -> int:
        """RegionSize for a query at `address`: from its page to the end of the region."""
        return self.end - self.base_of(address)


class AddressSpace(Protocol):
    """A process's memory as the driver queries it. `version` changes whenever a region changes and is never
    shared with another space's state, so it can key a cache of classifications."""

    version: int

    def query(self, address: int) -> Region | None: ...

    def read(self, address: int, size: int) -> bytes | None: ...

    def export(self, module_base: int, name: str) -> int | None: ...

    def unwind_covers(self, address: int) -> bool: ...


class ProcessView(Protocol):
    """What the driver can open: a process's memory, its main image's section base, a thread's TEB stack bounds."""

    def space(self, pid: int) -> AddressSpace | None: ...

    def main_image_base(self, pid: int) -> int | None: ...

    def teb_stack(self, pid: int, tid: int) -> tuple[int, int] | None: ...


def is_exec(protect: int) -> bool:
    """The driver's execute test: any of PAGE_EXECUTE, _READ, _READWRITE, _WRITECOPY."""
    return bool(protect & EXECUTE_PROTECT_BITS)


def executable_committed(region: Region) -> bool:
    """Committed and executable: what every validated stack frame must be."""
    return region.state == MEM_COMMIT and is_exec(region.protect)


def is_image(region: Region) -> bool:
    """Backed by an image section."""
    return region.type == MEM_IMAGE


def syscall_number(space: AddressSpace, address: int) -> int | None:
    """The syscall number of the stub around `address`, the driver's way (spec 3.2, syscall-export check).

    Reads 64 bytes from 32 before `address`; a candidate is `B8 imm32` followed 5..12 bytes later by `0F 05`
    located at or before `address`; the candidate whose `syscall` is closest to `address` wins. [Q][INF] A modern
    x64 ntdll stub puts `syscall` 15 bytes after `mov eax, imm32`, outside that window, so its number is not found.
    """
    start = address - 32
    window = space.read(start, 64)
    if window is None:
        return None
    best: tuple[int, int] | None = None
    for i in range(len(window) - 4):
        if window[i] != 0xB8:
            continue
        for gap in range(5, 13):
            j = i + gap
            if j + 1 < len(window) and window[j] == 0x0F and window[j + 1] == 0x05 and start + j <= address:
                distance = address - (start + j)
                if best is None or distance < best[0]:
                    best = (distance, int.from_bytes(window[i + 1 : i + 5], "little"))
    return None if best is None else best[1]
