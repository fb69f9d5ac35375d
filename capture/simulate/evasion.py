"""Evasion and persistence techniques as Sleepwalker would have seen them: direct and indirect syscalls, ntdll
unhooking, registry persistence, and tampering with the driver itself (one function each, registered by name)."""

from __future__ import annotations

from collections import Counter

from swk.capture.simulate import stacks
from swk.capture.simulate.host import Process
from swk.capture.simulate.modules import NTDLL, PAGE_EXECUTE_READ
from swk.capture.simulate.scenario import scenario
from swk.capture.simulate.sim import MS, Simulation, hkcu
from swk.capture.simulate.techniques import SHELLCODE, TEMP, _implant, spawn_noise
from swk.capture.simulate.world import Baseline
from swk.kernel.abi import TamperFlag


def _own_shellcode(sim: Simulation, proc: Process) -> int:
    """A private RX page in the implant itself holding shellcode with a direct NtOpenProcess stub at +0x40."""
    base = 0x0000_0211_6A4E_0000
    proc.space.allocate(base, 0x1000, PAGE_EXECUTE_READ, SHELLCODE)
    return base


@scenario("direct-syscall", "T1106", {"DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION": 2,
                                      "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP": 2})  # fmt: skip
def direct_syscall(sim: Simulation, base: Baseline, t0: int) -> None:
    """Direct syscalls from unbacked memory: shellcode opens lsass twice through its own NtOpenProcess stub.

    The origin is executable private memory not in ntdll: DIRECT-SYSCALL-SUSPECT, and the private frames fail the
    module-chain, unwind and spoof checks, so every open is DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION plus
    STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP. The second open, 1.2 s later, takes the deep sample from the 3000 ms cache.
    """
    inject = _implant(sim, base, "procdump_helper.exe")
    shell = _own_shellcode(sim, inject)
    frames = (shell + 0x4A, shell + 0x1B7, stacks.at(sim.host, stacks.KERNEL32, "BaseThreadInitThunk", 0x14),
              stacks.at(sim.host, NTDLL, "RtlUserThreadStart", 0x21))  # fmt: skip
    sim.at(t0, lambda ts: sim.open_process(ts, inject, base.lsass, 0x1010, frames=frames))
    sim.at(t0 + 1200 * MS, lambda ts: sim.open_process(ts, inject, base.lsass, 0x1410, frames=frames))


@scenario("spoofed-stack", "T1106", {"DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION": 1,
                                     "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP": 1})  # fmt: skip
def spoofed_stack(sim: Simulation, base: Baseline, t0: int) -> None:
    """An indirect syscall with a spoofed return chain: ntdll's own `syscall`, a KERNELBASE gadget, private code.

    The stack: `syscall` inside ntdll's real stub, a KERNELBASE gadget as return address, the implant's private code
    above it. The origin is ntdll, so the deep path stays closed, but a frame in non-image executable memory sets
    STACK_SPOOF_SUSPECT and breaks the module chain and unwind checks: DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION and
    STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP.
    """
    inject = _implant(sim, base, "teams_helper.exe")
    shell = _own_shellcode(sim, inject)
    frames = (stacks.at(sim.host, NTDLL, "NtOpenProcess", 0x14),
              stacks.at(sim.host, stacks.KERNELBASE, "CtrlRoutine", 0x1B3), shell + 0x2C4,
              stacks.at(sim.host, stacks.KERNEL32, "BaseThreadInitThunk", 0x14),
              stacks.at(sim.host, NTDLL, "RtlUserThreadStart", 0x21))  # fmt: skip
    sim.at(t0, lambda ts: sim.open_process(ts, inject, base.lsass, 0x1010, frames=frames))


@scenario("ntdll-remap", "T1562.001", dict(spawn_noise(1) + Counter({"SUSPICIOUS_NTDLL_IMAGE_PATH": 1,
                                                                    "MULTIPLE_NTDLL_IMAGE_MAPPINGS": 1})))  # fmt: skip
def ntdll_remap(sim: Simulation, base: Baseline, t0: int) -> None:
    """ntdll unhooking: the user starts an implant, which maps a second, clean ntdll from disk.

    Spawn noise (explorer starts it). The second mapping is an ntdll load in the same process:
    SUSPICIOUS_NTDLL_IMAGE_PATH again (the System32 needle never matches [Q]) and MULTIPLE_NTDLL_IMAGE_MAPPINGS (the
    512-slot counter reaches 2 for the pid).
    """
    child: dict[str, Process] = {}
    sim.at(t0, lambda ts: child.setdefault("p", sim.spawn(ts, base.explorer, "C:\\Users\\alice\\Downloads\\Invoice_0326.exe",
                                                          '"C:\\Users\\alice\\Downloads\\Invoice_0326.exe"')))  # fmt: skip

    def remap(ts: int) -> None:
        proc = child["p"]
        mapping = proc.space.map_image(NTDLL, 0x0000_0255_3A10_0000)
        sim.driver.load_image(ts, proc.pid, proc.threads[0].tid, mapping.base, NTDLL.size, NTDLL.path)

    sim.at(t0 + 400 * MS, remap)


@scenario("run-key", "T1547.001", {"HIGH_VALUE_REGISTRY_ACTIVITY": 2})
def run_key(sim: Simulation, base: Baseline, t0: int) -> None:
    """Run-key persistence: the implant opens HKCU\\...\\CurrentVersion\\Run (relative name) and sets a value there.

    Both the open's relative CompleteName and the set-value's full path contain `\\currentversion\\run`: two
    HIGH_VALUE_REGISTRY_ACTIVITY.
    """
    inject = _implant(sim, base, "updater.exe")
    sim.at(t0, sim.registry, inject, "OPEN_KEY", "Software\\Microsoft\\Windows\\CurrentVersion\\Run")
    sim.at(t0 + 1 * MS, sim.registry, inject, "SET_VALUE", hkcu("Software\\Microsoft\\Windows\\CurrentVersion\\Run"),
           "OneDriveUpdate", (1, 2 * len(TEMP + "updater.exe") + 2))  # fmt: skip


@scenario("ifeo-debugger", "T1546.012", {"HIGH_VALUE_REGISTRY_ACTIVITY": 2})
def ifeo_debugger(sim: Simulation, base: Baseline, t0: int) -> None:
    """Image File Execution Options persistence: a Debugger for sethc.exe.

    The key create (relative to HKLM) and the value set (full path) both contain `\\image file execution options`:
    two HIGH_VALUE_REGISTRY_ACTIVITY with ATT&CK T1546.012.
    """
    inject = _implant(sim, base, "sticky.exe")
    key = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options\\sethc.exe"
    sim.at(t0, sim.registry, inject, "CREATE_KEY", key)
    sim.at(t0 + 1 * MS, sim.registry, inject, "SET_VALUE", "\\REGISTRY\\MACHINE\\" + key, "Debugger", (1, 46))


@scenario("service-persistence", "T1543.003", {"HIGH_VALUE_REGISTRY_ACTIVITY": 1})
def service_persistence(sim: Simulation, base: Baseline, t0: int) -> None:
    """Service persistence through the native API: NtCreateKey of a CurrentControlSet service key, then its values.

    The create of `...\\CurrentControlSet\\Services\\UpdaterSvc` by its absolute name: its absolute CompleteName contains `\\system\\currentcontrolset\\services\\` (one
    HIGH_VALUE_REGISTRY_ACTIVITY, T1543.003); the value sets are reported with the key's real path through
    `ControlSet001`, which the needle does not name, so they raise nothing.
    """
    inject = _implant(sim, base, "svcinstall.exe")
    sim.at(
        t0, sim.registry, inject, "CREATE_KEY", "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\UpdaterSvc"
    )
    real = "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\UpdaterSvc"
    for i, (value, data) in enumerate((("ImagePath", (2, 96)), ("Type", (4, 4)), ("Start", (4, 4)),
                                       ("ObjectName", (1, 24)))):  # fmt: skip
        sim.at(t0 + (1 + i) * MS, sim.registry, inject, "SET_VALUE", real, value, data)


@scenario("driver-tamper", "T1014", {"DRIVER_DISPATCH_OR_OBJECT_TAMPER": 2,
                                     "DRIVER_DISPATCH_OR_OBJECT_TAMPER_CLEARED": 1}, span_ms=21000)  # fmt: skip
def driver_tamper(sim: Simulation, base: Baseline, t0: int) -> None:
    """Driver tamper: a vulnerable driver patches Sleepwalker's dispatch table, then its unload routine; then restores.

    Both are restored 16 s after the first patch. The 5000 ms integrity timer reports each change of its mask: DRIVER_DISPATCH_OR_OBJECT_TAMPER for 0x1, again for
    0x3, then DRIVER_DISPATCH_OR_OBJECT_TAMPER_CLEARED. The driver's load is an ImageTelemetry of a kernel image.
    """

    def load(ts: int) -> None:
        sim.driver.load_image(ts, 4, 0, 0xFFFFF806_3B400000, 0x10000, "\\??\\C:\\Windows\\Temp\\iqvw64e.sys",
                              system_mode=True, signature=(8, 1))  # fmt: skip

    def patch(ts: int, mask: int) -> None:
        sim.host.integrity_mask = mask

    sim.at(t0, load)
    sim.at(t0 + 50 * MS, patch, int(TamperFlag.MAJOR_FN_CHANGED))
    sim.at(t0 + 7000 * MS, patch, int(TamperFlag.MAJOR_FN_CHANGED | TamperFlag.UNLOAD_CHANGED))
    sim.at(t0 + 16000 * MS, patch, 0)
