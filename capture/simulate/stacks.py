"""User-mode call stacks (innermost first) of the API calls the simulated processes make, as the driver walks them.

Ordinary calls go `ntdll!NtXxx+0x14 <- KERNELBASE!Xxx+0x4E <- the caller <- KERNEL32!BaseThreadInitThunk+0x14 <-
ntdll!RtlUserThreadStart+0x21`; KERNELBASE reaches ntdll through its import table (`FF 15`), so the driver's
return-address check fails and the class is UNKNOWN-ORIGIN [Q]. A call made from inside ntdll (`E8 rel32`) passes
every check and is LEGITIMATE-SYSCALL. WOW64 processes run the 64-bit ntdll through wow64.dll and wow64cpu.dll.
"""

from __future__ import annotations

from swk.capture.simulate.host import Host, Process
from swk.capture.simulate.modules import KERNEL32, KERNELBASE, NTDLL, WOW64, WOW64CPU

# api -> (ntdll stub, [(module, export, offset) between the stub and the caller])
APIS: dict[str, tuple[str, tuple[tuple[object, str, int], ...]]] = {
    "OpenProcess": ("NtOpenProcess", ((KERNELBASE, "OpenProcess", 0x4E),)),
    "OpenThread": ("NtOpenThread", ((KERNELBASE, "OpenThread", 0x4E),)),
    "DuplicateHandle": ("NtDuplicateObject", ((KERNELBASE, "DuplicateHandle", 0x4F),)),
    "CreateProcess": ("NtCreateUserProcess", ((KERNELBASE, "CreateProcessInternalW", 0x1F5E),
                                              (KERNELBASE, "CreateProcessW", 0x66),
                                              (KERNEL32, "CreateProcessWStub", 0x53))),
    "CreateRemoteThread": ("NtCreateThreadEx", ((KERNELBASE, "CreateRemoteThreadEx", 0x29E),
                                                (KERNEL32, "CreateRemoteThreadStub", 0x3A))),
    "QueryDebugInformation": ("NtOpenProcess", ((NTDLL, "RtlQueryProcessDebugInformation", 0x1A3),)),
}  # fmt: skip
_WOW64_PATH = ((WOW64, "whNtOpenProcess", 0x3A), (WOW64, "Wow64SystemServiceEx", 0x15E), (WOW64CPU, "ServiceNoTurbo", 0xB),
               (WOW64CPU, "BTCpuSimulate", 0x9), (WOW64, "RunCpuSimulation", 0xD), (WOW64, "Wow64LdrpInitialize", 0x12D))  # fmt: skip
# Return addresses in the caller's `.text` (every simulated exe has at least 0x1C000 bytes of code).
CALLER_RVA = {"OpenProcess": 0x133F4, "OpenThread": 0x135A8, "DuplicateHandle": 0x141E0, "CreateProcess": 0x1577C,
              "CreateRemoteThread": 0x162B4, "QueryDebugInformation": 0x170C8}  # fmt: skip


def at(host: Host, module: object, export: str, offset: int) -> int:
    """The address of `module!export+offset` in this boot."""
    return host.bases[module] + module.exports[export] + offset  # type: ignore[attr-defined]


def api_frames(host: Host, proc: Process, api: str, *, threadpool: bool = False) -> tuple[int, ...]:
    """Frames of `proc` calling `api` from its main image (a threadpool worker when `threadpool`)."""
    stub, path = APIS[api]
    frames = [at(host, NTDLL, stub, 0x14)]
    if proc.wow64:
        frames += [at(host, m, e, o) for m, e, o in _WOW64_PATH]
        frames.append(at(host, NTDLL, "LdrInitializeThunk", 0xE))
        return tuple(frames)
    frames += [at(host, m, e, o) for m, e, o in path]
    frames.append(proc.exe.base + CALLER_RVA[api])
    if threadpool:
        frames.append(at(host, NTDLL, "TppWorkerThread", 0x2F5))
    frames += [at(host, KERNEL32, "BaseThreadInitThunk", 0x14), at(host, NTDLL, "RtlUserThreadStart", 0x21)]
    return tuple(frames[:8])


def thread_start(host: Host, what: str) -> int:
    """Win32 start address of a common thread kind (`threadpool`, `ctrl`, `loadlibrary`)."""
    if what == "threadpool":
        return at(host, NTDLL, "TppWorkerThread", 0)
    if what == "ctrl":
        return at(host, KERNELBASE, "CtrlRoutine", 0)
    if what == "loadlibrary":
        return at(host, KERNEL32, "LoadLibraryW", 0)
    raise KeyError(what)
