"""The Windows 11 images the simulated host maps: layouts, exports, syscall stubs and call sites.

Only what the driver's checks read is modelled: each image's regions (header page, `.text`, read-only and writable
data), the exports the syscall-export check and the symbol resolver use, the bytes of ntdll's syscall stubs
(modern layout: `mov r10, rcx; mov eax, N; test byte ptr [7FFE0308h], 1; jne; syscall; ret`, so `syscall` sits 15
bytes after `mov eax` [Q]) and of the call instructions before the return addresses the stacks use (import calls
are 6-byte `FF 15 disp32`, which the return-address check does not recognise [Q]; internal calls are `E8 rel32`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM32 = "\\Device\\HarddiskVolume3\\Windows\\System32\\"
SYSWOW64 = "\\Device\\HarddiskVolume3\\Windows\\SysWOW64\\"
PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY, PAGE_EXECUTE_READ = 0x02, 0x04, 0x08, 0x20


def modern_stub(number: int) -> bytes:
    """A Windows 10/11 x64 ntdll syscall stub (0x20 bytes); `syscall` is at +0x12, the return address at +0x14."""
    return (bytes.fromhex("4C8BD1B8") + number.to_bytes(4, "little") + bytes.fromhex("F604250803FE7F017503")
            + bytes.fromhex("0F05C3CD2EC3") + bytes.fromhex("0F1F840000000000"))  # fmt: skip


def direct_stub(number: int) -> bytes:
    """A SysWhispers-style direct syscall stub: `mov r10, rcx; mov eax, N; syscall; ret` (return address at +0xA)."""
    return bytes.fromhex("4C8BD1B8") + number.to_bytes(4, "little") + bytes.fromhex("0F05C3")


IMPORT_CALL = bytes.fromhex("488BCBFF15D27E1600")  # mov rcx, rbx; call qword ptr [rip+0x167ED2]
NEAR_CALL = bytes.fromhex("8BD3488BCFE8A43BFFFF")  # mov edx, ebx; mov rcx, rdi; call rel32
REGISTER_CALL = bytes.fromhex("4C8BC6488BD3FFD0")  # mov r8, rsi; mov rdx, rbx; call rax


@dataclass(frozen=True, eq=False)  # identity: specs key per-boot base tables
class ModuleSpec:
    """An image: name, NT path, size, `.text` range, exports (rva), syscall numbers, code bytes at rvas."""

    name: str
    path: str
    size: int
    text: tuple[int, int]
    exports: dict[str, int] = field(default_factory=dict)
    syscalls: dict[str, int] = field(default_factory=dict)
    code: dict[int, bytes] = field(default_factory=dict)  # rva -> bytes there (stubs, call sites)
    entry: int = 0
    bits: int = 64

    @property
    def symbol(self) -> str:
        """The module name as dbghelp prints it (`ntdll`, `KERNELBASE`, `notepad`)."""
        return self.name.rsplit(".", 1)[0]

    def call_site(self, return_rva: int, kind: bytes = IMPORT_CALL) -> dict[int, bytes]:
        """Code bytes that end just before `return_rva` (a call instruction of `kind`)."""
        return {return_rva - len(kind): kind}


def _with_stubs(exports: dict[str, int], syscalls: dict[str, int]) -> dict[int, bytes]:
    return {exports[name]: modern_stub(number) for name, number in syscalls.items()}


def _calls(sites: dict[int, bytes]) -> dict[int, bytes]:
    """Call instructions ending at each return rva."""
    return {rva - len(kind): kind for rva, kind in sites.items()}


# ntdll: stubs are 0x20 apart in one run, as in the real image.
_STUB_BASE = 0x9D000
_NTDLL_SYSCALLS = {
    "NtOpenKey": 0x12, "NtAllocateVirtualMemory": 0x18, "NtOpenProcess": 0x26, "NtMapViewOfSection": 0x28,
    "NtWriteVirtualMemory": 0x3A, "NtDuplicateObject": 0x3C, "NtQueueApcThread": 0x45, "NtCreateSection": 0x4A,
    "NtProtectVirtualMemory": 0x50, "NtSetValueKey": 0x60, "NtCreateThreadEx": 0xC7, "NtCreateUserProcess": 0xCD,
    "NtOpenThread": 0x12E, "NtSetContextThread": 0x18D, "NtCreateProcessEx": 0x4D, "NtCreateTransaction": 0xC6,
}  # fmt: skip
_NTDLL_EXPORTS = {name: _STUB_BASE + 0x20 * i for i, name in enumerate(sorted(_NTDLL_SYSCALLS))}
_NTDLL_EXPORTS.update({
    "RtlUserThreadStart": 0x5AF00, "TppWorkerThread": 0x2F560, "LdrInitializeThunk": 0x5EE00,
    "RtlQueryProcessDebugInformation": 0x7A9C0, "LdrLoadDll": 0x3B1E0, "RtlpCreateUserThreadEx": 0x7B440,
    "LdrpInitializeProcess": 0x1E2F0, "RtlClearThreadWorkOnBehalfTicket": 0xA1C00,
})  # fmt: skip
NTDLL = ModuleSpec("ntdll.dll", SYSTEM32 + "ntdll.dll", 0x1F8000, (0x1000, 0x130000), _NTDLL_EXPORTS,
                   _NTDLL_SYSCALLS, {**_with_stubs(_NTDLL_EXPORTS, _NTDLL_SYSCALLS),
                                     **_calls({0x7A9C0 + 0x1A3: NEAR_CALL, 0x5AF00 + 0x21: REGISTER_CALL,
                                               0x2F560 + 0x2F5: REGISTER_CALL})})  # fmt: skip

KERNELBASE = ModuleSpec("KERNELBASE.dll", SYSTEM32 + "KernelBase.dll", 0x3B6000, (0x1000, 0x1A8000), {
    "OpenProcess": 0x21E00, "OpenThread": 0x22680, "DuplicateHandle": 0x23940, "CreateProcessInternalW": 0x4B2A0,
    "CreateProcessW": 0x4A1C0, "CreateRemoteThreadEx": 0x6E980, "VirtualAllocEx": 0x56B40,
    "WriteProcessMemory": 0x7F9C0, "CtrlRoutine": 0xE4A30, "LoadLibraryExW": 0x3A5F0, "RegOpenKeyExW": 0x2B210,
    "RegSetValueExW": 0x2F8A0, "QueueUserAPC": 0x7C1E0, "SetThreadContext": 0x7D7A0,
}, {}, _calls({0x21E00 + 0x4E: IMPORT_CALL, 0x22680 + 0x4E: IMPORT_CALL, 0x23940 + 0x4F: IMPORT_CALL,
               0x4B2A0 + 0x1F5E: IMPORT_CALL, 0x6E980 + 0x29E: IMPORT_CALL, 0x4A1C0 + 0x66: NEAR_CALL}))  # fmt: skip

KERNEL32 = ModuleSpec("KERNEL32.DLL", SYSTEM32 + "kernel32.dll", 0xC3000, (0x1000, 0x7E000), {
    "BaseThreadInitThunk": 0x17560, "LoadLibraryW": 0x1D2A0, "CreateProcessWStub": 0x1C5F0,
    "CreateRemoteThreadStub": 0x3D4C0, "OpenProcessStub": 0x1B8B0,
}, {}, _calls({0x17560 + 0x14: REGISTER_CALL}))  # fmt: skip

WOW64 = ModuleSpec("wow64.dll", SYSTEM32 + "wow64.dll", 0x5A000, (0x1000, 0x3F000), {
    "whNtOpenProcess": 0x13C40, "Wow64SystemServiceEx": 0x7A10, "RunCpuSimulation": 0x9C20,
    "Wow64LdrpInitialize": 0x2D7E0,
}, {}, _calls({0x13C40 + 0x3A: IMPORT_CALL}))  # fmt: skip
WOW64CPU = ModuleSpec("wow64cpu.dll", SYSTEM32 + "wow64cpu.dll", 0xD000, (0x1000, 0x8000),
                      {"ServiceNoTurbo": 0x1780, "BTCpuSimulate": 0x1A00})  # fmt: skip
WOW64WIN = ModuleSpec("wow64win.dll", SYSTEM32 + "wow64win.dll", 0x91000, (0x1000, 0x60000), {})
WOW64BASE = ModuleSpec("wow64base.dll", SYSTEM32 + "wow64base.dll", 0xB000, (0x1000, 0x6000), {})
NTDLL32 = ModuleSpec("ntdll.dll", SYSWOW64 + "ntdll.dll", 0x1A6000, (0x1000, 0x118000), {"RtlUserThreadStart": 0x7C0D0},
                     bits=32)  # fmt: skip
KERNEL32_32 = ModuleSpec("KERNEL32.DLL", SYSWOW64 + "kernel32.dll", 0xF0000, (0x10000, 0x70000),
                         {"BaseThreadInitThunk": 0x1F6A0}, bits=32)  # fmt: skip
KERNELBASE32 = ModuleSpec("KERNELBASE.dll", SYSWOW64 + "KernelBase.dll", 0x27C000, (0x1000, 0x1C0000), {}, bits=32)


def _plain(name: str, size: int, exports: dict[str, int] | None = None, folder: str = SYSTEM32) -> ModuleSpec:
    return ModuleSpec(name, folder + name.lower(), size, (0x1000, size // 2), exports or {})


# The DLLs a GUI or console process loads after kernel32/kernelbase, in load order (sizes of 22H2 builds).
COMMON_DLLS = (
    _plain("ucrtbase.dll", 0x121000), _plain("msvcrt.dll", 0xA7000), _plain("advapi32.dll", 0xB1000),
    _plain("sechost.dll", 0xA5000), _plain("RPCRT4.dll", 0x117000), _plain("combase.dll", 0x38A000),
    _plain("bcryptPrimitives.dll", 0x82000), _plain("user32.dll", 0x1AC000), _plain("win32u.dll", 0x27000),
    _plain("GDI32.dll", 0x29000), _plain("gdi32full.dll", 0x119000), _plain("msvcp_win.dll", 0x9D000),
    _plain("IMM32.DLL", 0x31000), _plain("uxtheme.dll", 0xAB000), _plain("kernel.appcore.dll", 0x19000),
    _plain("CRYPTBASE.DLL", 0xC000), _plain("shell32.dll", 0x8A5000), _plain("SHLWAPI.dll", 0x5D000),
    _plain("ole32.dll", 0x1A8000), _plain("OLEAUT32.dll", 0xD7000), _plain("clbcatq.dll", 0xAB000),
    _plain("WS2_32.dll", 0x71000), _plain("bcrypt.dll", 0x28000), _plain("CRYPT32.dll", 0x16E000),
)  # fmt: skip
SYSTEM_MODULES = (NTDLL, KERNELBASE, KERNEL32, WOW64, WOW64CPU, WOW64WIN, WOW64BASE, *COMMON_DLLS)
WOW64_MODULES = (NTDLL32, KERNEL32_32, KERNELBASE32)


def exe_spec(path: str, size: int = 0x38000, entry: int = 0x1A2B0, code: dict[int, bytes] | None = None,
             exports: dict[str, int] | None = None, bits: int = 64) -> ModuleSpec:  # fmt: skip
    """A main executable's image (entry point and a `.text` holding the code its stacks return into)."""
    name = path.rsplit("\\", 1)[-1]
    return ModuleSpec(name, path, size, (0x1000, size // 2), exports or {}, {}, code or {}, entry, bits)
