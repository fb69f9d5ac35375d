"""The simulated Windows 11 host: processes with their address spaces and threads, per-boot ASLR, pid/tid allocation.

It answers the driver's questions (`ProcessView`: a process's memory, its main image base, a thread's TEB stack
bounds) and an analyst's (which image a pid runs, which symbol an address is). Nothing here emits telemetry; the
`Simulation` does, through the driver.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from swk.capture.simulate.modules import (
    COMMON_DLLS,
    KERNEL32,
    KERNEL32_32,
    KERNELBASE,
    KERNELBASE32,
    NTDLL,
    NTDLL32,
    SYSTEM_MODULES,
    WOW64,
    WOW64_MODULES,
    WOW64BASE,
    WOW64CPU,
    WOW64WIN,
    ModuleSpec,
    exe_spec,
)
from swk.capture.simulate.space import Mapping, Space

USER_SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
VOLUME = "\\Device\\HarddiskVolume3"
# Kernel frames of the driver's analysis work item (sleepwlkr.sys on a system worker thread), per boot.
# (module, function or None, function rva, offset): sleepwlkr has no public symbols, nt does.
KERNEL_FRAMES = (("sleepwlkr", None, 0x14B2C, 0), ("sleepwlkr", None, 0x1D4F0, 0),
                 ("nt", "IopProcessWorkItem", 0x2D7A10, 0x105), ("nt", "ExpWorkerThread", 0x2A5C30, 0x25A),
                 ("nt", "PspSystemThreadStartup", 0x3F1B90, 0x5A))  # fmt: skip


def nt_path(win32: str) -> str:
    """`C:\\Windows\\...` as the kernel names it: `\\Device\\HarddiskVolume3\\Windows\\...`."""
    return VOLUME + win32[2:] if win32[1:3] == ":\\" else win32


@dataclass(eq=False)  # identity: a thread is itself, whatever its fields
class Thread:
    """A thread and its stack bounds (TEB NT_TIB StackLimit, StackBase)."""

    tid: int
    stack: tuple[int, int]


@dataclass(eq=False)  # identity: list membership must not compare every field
class Process:
    """A process as the host knows it."""

    pid: int
    ppid: int
    path: str  # Win32 path, C:\...
    cmdline: str
    session: int
    start_key: int
    space: Space
    exe: Mapping
    wow64: bool = False
    threads: list[Thread] = field(default_factory=list)
    alive: bool = True
    stacks: dict[tuple[str, bool], tuple[int, ...]] = field(default_factory=dict)  # api frames, built once

    @property
    def image(self) -> str:
        """NT device path of the main image."""
        return nt_path(self.path)

    @property
    def name(self) -> str:
        """Executable file name."""
        return self.path.rsplit("\\", 1)[-1]


class Host:
    """Processes, modules and identifiers of one simulated boot."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = random.Random(f"host:{seed}")
        self.processes: dict[int, Process] = {}
        self._threads: dict[int, tuple[int, Thread]] = {}
        self._cids: set[int] = {0, 4}
        self._start_key = 0x0002000000000000 + self.rng.randrange(0x100, 0x400)
        self.bases = self._layout()
        self.kernel_base = 0xFFFFF806_1A000000 + self.rng.randrange(0, 0x400) * 0x10000
        self.driver_base = 0xFFFFF806_2C000000 + self.rng.randrange(0, 0x400) * 0x10000
        self.worker_frames = tuple((self.driver_base if mod == "sleepwlkr" else self.kernel_base) + rva + off
                                   for mod, _, rva, off in KERNEL_FRAMES)  # fmt: skip
        self.worker_tids = tuple(sorted(self.rng.sample(range(152, 400, 4), 6)))
        self.integrity_mask = 0  # anti-tamper: what the driver's next check will find

    def _layout(self) -> dict[ModuleSpec, int]:
        """Per-boot ASLR: one base per system image, shared by every process (64K-aligned, no overlap)."""
        bases: dict[ModuleSpec, int] = {}
        top = 0x7FFE_0000_0000 - self.rng.randrange(0x100, 0x800) * 0x10000
        for spec in SYSTEM_MODULES:
            top -= (spec.size + 0xFFFF) // 0x10000 * 0x10000 + self.rng.randrange(1, 16) * 0x10000
            bases[spec] = top
        top32 = 0x7780_0000 - self.rng.randrange(0, 0x40) * 0x10000
        for spec in WOW64_MODULES:
            top32 -= (spec.size + 0xFFFF) // 0x10000 * 0x10000 + self.rng.randrange(1, 8) * 0x10000
            bases[spec] = top32
        return bases

    # -- identifiers ------------------------------------------------------------------------------------------------

    def new_cid(self) -> int:
        """A free client id (pids and tids share one table, multiples of 4, below 0x18000 like a busy host's)."""
        for _ in range(10_000):
            cid = self.rng.randrange(0x40, 0x6000) * 4
            if cid not in self._cids:
                self._cids.add(cid)
                return cid
        raise RuntimeError("client-id table full: threads or processes are never exiting")

    def new_start_key(self) -> int:
        """The next process start key."""
        self._start_key += 1
        return self._start_key

    # -- processes --------------------------------------------------------------------------------------------------

    def make_process(self, path: str, ppid: int, cmdline: str | None = None, *, session: int = 1, wow64: bool = False,
                     gui: bool = True, exe: ModuleSpec | None = None, pid: int | None = None) -> Process:  # fmt: skip
        """A process with its images mapped (no telemetry: the caller decides what the driver saw)."""
        pid = pid if pid is not None else self.new_cid()
        self._cids.add(pid)
        space = Space()
        spec = exe or exe_spec(nt_path(path), bits=32 if wow64 else 64)
        if wow64:
            exe_base = 0x0040_0000 + self.rng.randrange(0, 0xB0) * 0x10000
        else:
            exe_base = 0x7FF6_0000_0000 + self.rng.randrange(0, 0x1FFFF) * 0x10000
        mapping = space.map_image(spec, exe_base)
        for module in self.modules_of(wow64, gui):
            space.map_image(module, self.bases[module])
        proc = Process(pid, ppid, path, cmdline if cmdline is not None else f'"{path}"', session,
                       self.new_start_key(), space, mapping, wow64)  # fmt: skip
        self.processes[pid] = proc
        return proc

    def modules_of(self, wow64: bool, gui: bool) -> tuple[ModuleSpec, ...]:
        """The system images a process maps after its exe, in load order."""
        if wow64:
            return (NTDLL, WOW64, WOW64BASE, WOW64WIN, WOW64CPU, NTDLL32, KERNEL32_32, KERNELBASE32)
        return (NTDLL, KERNEL32, KERNELBASE, *(COMMON_DLLS[:18] if gui else COMMON_DLLS[:3]))

    def add_thread(self, proc: Process, tid: int | None = None) -> Thread:
        """A new thread of `proc` with its own stack."""
        tid = tid if tid is not None else self.new_cid()
        self._cids.add(tid)
        base = (0x0000_00A0_0000_0000 + self.rng.randrange(0, 0x3FFFF) * 0x100000) + 0x100000
        thread = Thread(tid, (base - self.rng.choice((0x4000, 0x6000, 0x9000, 0xC000, 0x11000)), base))
        proc.threads.append(thread)
        self._threads[tid] = (proc.pid, thread)
        return thread

    def exit_thread(self, proc: Process, thread: Thread) -> None:
        """A thread ends (the driver ignores exits); its id is free again."""
        if thread in proc.threads and len(proc.threads) > 1:
            proc.threads.remove(thread)
            self._threads.pop(thread.tid, None)
            self._cids.discard(thread.tid)

    def exit_process(self, pid: int) -> None:
        """Mark a process exited and free its ids for reuse."""
        proc = self.processes.pop(pid, None)
        if proc is None:
            return
        proc.alive = False
        self._cids.discard(pid)
        for thread in proc.threads:
            self._cids.discard(thread.tid)
            self._threads.pop(thread.tid, None)

    def find(self, name: str) -> Process:
        """The first live process with this executable name (case-insensitive)."""
        for proc in self.processes.values():
            if proc.name.lower() == name.lower():
                return proc
        raise KeyError(name)

    # -- the driver's questions (swk.kernel.model.memory.ProcessView) -------------------------------------------

    def space(self, pid: int) -> Space | None:
        """The address space of a live process."""
        proc = self.processes.get(pid)
        return proc.space if proc is not None else None

    def main_image_base(self, pid: int) -> int | None:
        """The section base of the process's main image."""
        proc = self.processes.get(pid)
        return proc.exe.base if proc is not None else None

    def teb_stack(self, pid: int, tid: int) -> tuple[int, int] | None:
        """(StackLimit, StackBase) of a thread of `pid`."""
        found = self._threads.get(tid)
        return found[1].stack if found is not None and found[0] == pid else None

    # -- an analyst's questions -------------------------------------------------------------------------------------

    def image_of(self, pid: int) -> str | None:
        """NT path of the image a live process runs."""
        proc = self.processes.get(pid)
        return proc.image if proc is not None else None

    def symbolize(self, pid: int, address: int) -> str | None:
        """`Module!Export+0xN` (nearest export at or below), `Module+0xN`, or None when nothing is mapped there."""
        address &= 0xFFFFFFFFFFFFFFFF
        if address >= 0xFFFF_0000_0000_0000:
            return self._kernel_symbol(address)
        proc = self.processes.get(pid)
        mapping = proc.space.mapping_at(address) if proc is not None else None
        if mapping is None or mapping.spec is None:
            return None
        spec, rva = mapping.spec, address - mapping.base
        best = max(((r, n) for n, r in spec.exports.items() if r <= rva), default=None)
        if best is None:
            return f"{spec.symbol}+0x{rva:X}"
        return f"{spec.symbol}!{best[1]}+0x{rva - best[0]:X}"

    def _kernel_symbol(self, address: int) -> str | None:
        if self.driver_base <= address < self.driver_base + 0x40000:
            return f"sleepwlkr+0x{address - self.driver_base:X}"
        for mod, function, rva, off in KERNEL_FRAMES:
            if function is not None and address == self.kernel_base + rva + off:
                return f"{mod}!{function}+0x{off:X}"
        return None
