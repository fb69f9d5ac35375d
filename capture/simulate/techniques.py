"""Injection techniques as Sleepwalker would have seen them (spec section 3), one function each.

Common to the techniques that start a process: CreateProcess gives the parent a PROCESS_ALL_ACCESS handle to the
child and a THREAD_ALL_ACCESS handle to its first thread, both through the object callbacks. So, from spec 3.1-3.6:
the first thread (creator = the parent) is remote with the parent's memory intent and starts outside the 0x1000-byte
"main image" [Q] (REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT, REMOTE_THREAD_OUTSIDE_MAIN_IMAGE,
POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION, KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM); the thread handle is a remote
set-context + suspend/resume open (THREAD_HIJACK_INTENT, APC variant); the kernel-mapped ntdll raises
SUSPICIOUS_NTDLL_IMAGE_PATH [Q]; each loader worker thread the child creates within 5 s is resolved to the parent
[Q] with memory and thread-context intent (REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT, REMOTE_THREAD_OUTSIDE_MAIN_IMAGE,
THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT, THREAD_HIJACK_INTENT thread variant,
POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN, POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION, and the first one
KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG). These are listed in each `expects` as "spawn noise".
"""

from __future__ import annotations

from collections import Counter

from swk.capture.simulate import stacks
from swk.capture.simulate.host import Process
from swk.capture.simulate.modules import PAGE_EXECUTE_READ, PAGE_READWRITE, direct_stub
from swk.capture.simulate.scenario import scenario
from swk.capture.simulate.sim import MS, Simulation
from swk.capture.simulate.world import Baseline

PAGE_EXECUTE_READWRITE = 0x40
TEMP = "C:\\Users\\alice\\AppData\\Local\\Temp\\"
# msfvenom-style x64 shellcode prologue (cld; and rsp,-16; call ...), then a SysWhispers stub at +0x40.
SHELLCODE = bytes.fromhex("FC4883E4F0E8C0000000415141505251564831D265488B5260488B5218488B5220488B7250480FB74A4A4D31C9"
                          "4831C0AC3C617C022C2041C1C90D4101C1E2ED") + b"\x90" * 5  # fmt: skip
SHELLCODE = SHELLCODE[:0x40] + direct_stub(0x26) + b"\xc3" * 5

REMOTE_THREAD = {"REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT": 1, "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE": 1,
                 "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION": 1}  # fmt: skip
SELF_THREAD_AFTER_SPAWN = {"REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT": 1, "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE": 1,
                           "THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT": 1, "THREAD_HIJACK_INTENT/thread": 1,
                           "POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN": 1,
                           "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION": 1}  # fmt: skip


def spawn_noise(workers: int = 1) -> Counter:
    """What a CreateProcess raises (module docstring), with `workers` loader threads started within 5 s."""
    noise = Counter({"SUSPICIOUS_NTDLL_IMAGE_PATH": 1, "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": 1,
                     "THREAD_HIJACK_INTENT/apc": 1, **REMOTE_THREAD})  # fmt: skip
    for _ in range(workers):
        noise.update(SELF_THREAD_AFTER_SPAWN)
    if workers:
        noise["KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"] += 1
    return noise


def _implant(sim: Simulation, base: Baseline, name: str = "svcupd.exe") -> Process:
    return sim.existing(TEMP + name, base.explorer, f'"{TEMP}{name}" /silent', threads=3)


def _victim(sim: Simulation, base: Baseline, name: str = "notepad.exe", threads: int = 3) -> Process:
    return sim.existing("C:\\Windows\\System32\\" + name, base.explorer, name, threads=threads)


def _stage_shellcode(sim: Simulation, inject: Process, victim: Process, t0: int) -> dict[str, int]:
    """VirtualAllocEx one RW page, write the shellcode, protect it RX, 1 ms apart; the address lands in ["a"]."""
    region: dict[str, int] = {}
    sim.at(t0, lambda ts: region.setdefault("a", sim.allocate(ts, inject, victim, 0x1000, PAGE_READWRITE, SHELLCODE)))
    sim.at(t0 + 1 * MS, lambda ts: sim.write(ts, inject, victim, region["a"], len(SHELLCODE)))
    sim.at(t0 + 2 * MS, lambda ts: sim.protect(ts, inject, victim, region["a"], PAGE_EXECUTE_READ))
    return region


@scenario("crt-shellcode", "T1055.002", dict(REMOTE_THREAD, **{
    "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION": 1, "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": 1,
    "THREAD_HIJACK_INTENT/apc": 1}))  # fmt: skip
def crt_shellcode(sim: Simulation, base: Baseline, t0: int) -> None:
    """CreateRemoteThread shellcode injection: OpenProcess, VirtualAllocEx RW, write, protect RX, CreateRemoteThread.

    The thread starts in private executable memory, with the injector's memory intent 4 ms old:
    REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT, REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION,
    REMOTE_THREAD_OUTSIDE_MAIN_IMAGE, POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION and
    KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM (memory intent without thread-context or duplicate). The handle
    CreateRemoteThread returns (THREAD_ALL_ACCESS) is THREAD_HIJACK_INTENT (APC variant). The controller stays
    silent: a one-page allocation is under its 0x8000 large-allocation threshold, so ALLOC never joins WRITE and
    PROTECT.
    """
    inject, victim = _implant(sim, base), _victim(sim, base)
    sim.at(t0, sim.open_process, inject, victim, 0x43A)
    region = _stage_shellcode(sim, inject, victim, t0 + 1 * MS)
    sim.at(t0 + 4 * MS, lambda ts: sim.create_remote_thread(ts, inject, victim, region["a"]))


@scenario("loadlibrary-dll", "T1055.001", dict(REMOTE_THREAD, **{
    "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": 1, "THREAD_HIJACK_INTENT/apc": 1}))  # fmt: skip
def loadlibrary_dll(sim: Simulation, base: Baseline, t0: int) -> None:
    """LoadLibrary DLL injection: the DLL path written into the target, a remote thread at KERNEL32!LoadLibraryW.

    The start is image-backed (kernel32), so REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION does not fire;
    REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT, REMOTE_THREAD_OUTSIDE_MAIN_IMAGE, POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION
    and KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM do, and the returned thread handle is THREAD_HIJACK_INTENT (APC
    variant). The DLL's image load raises nothing.
    """
    inject, victim = _implant(sim, base, "OneDriveStandaloneUpdater.exe"), _victim(sim, base, "mspaint.exe")
    path = "C:\\Users\\alice\\AppData\\Local\\Temp\\wpt64.dll"
    sim.at(t0, sim.open_process, inject, victim, 0x43A)
    region: dict[str, int] = {}
    sim.at(t0 + 1 * MS, lambda ts: region.setdefault("a", sim.allocate(ts, inject, victim, 0x1000, PAGE_READWRITE)))
    sim.at(t0 + 2 * MS, lambda ts: sim.write(ts, inject, victim, region["a"], len(path) * 2 + 2))
    sim.at(t0 + 3 * MS, lambda ts: sim.create_remote_thread(ts, inject, victim, stacks.thread_start(sim.host,
                                                                                                    "loadlibrary")))  # fmt: skip

    def load(ts: int) -> None:
        from swk.capture.simulate.modules import exe_spec

        spec = exe_spec("\\Device\\HarddiskVolume3" + path[2:], size=0x2B000)
        mapping = victim.space.map_image(spec, 0x7FFC_8A00_0000)
        sim.driver.load_image(ts, victim.pid, victim.threads[-1].tid, mapping.base, spec.size, spec.path)

    sim.at(t0 + 5 * MS, load)


@scenario("thread-hijack", "T1055.003", {"THREAD_HIJACK_INTENT/apc": 1})
def thread_hijack(sim: Simulation, base: Baseline, t0: int) -> None:
    """Thread execution hijacking: OpenThread(suspend/get/set context), write shellcode, SetThreadContext, resume.

    No thread is created, so only the APC monitor sees it: a remote thread open with SET_CONTEXT and SUSPEND_RESUME
    is THREAD_HIJACK_INTENT (APC variant). The controller gets THREAD_CONTEXT_INTENT, WRITE and PROTECT but no
    thread mark, so it raises nothing.
    """
    inject, victim = _implant(sim, base, "dllhost_upd.exe"), _victim(sim, base, "Notepad.exe", threads=4)
    thread = victim.threads[1]
    sim.at(t0, sim.open_thread, inject, victim, thread, 0x1A | 0x40)
    sim.at(t0 + 1 * MS, sim.open_process, inject, victim, 0x38)
    sim.at(t0 + 2 * MS, lambda ts: sim.threat_intel(ts, 8, inject, victim, thread=thread))
    _stage_shellcode(sim, inject, victim, t0 + 3 * MS)
    sim.at(t0 + 6 * MS, lambda ts: sim.threat_intel(ts, 5, inject, victim, thread=thread))
    sim.at(t0 + 7 * MS, lambda ts: sim.threat_intel(ts, 8, inject, victim, thread=thread))


@scenario("remote-apc", "T1055.004", {"REMOTE_APC_CREATION_SUSPECT": 1})
def remote_apc(sim: Simulation, base: Baseline, t0: int) -> None:
    """Remote APC injection: shellcode written into the target, QueueUserAPC on three of its threads 2 ms apart.

    Each OpenThread with SET_CONTEXT (and no SUSPEND_RESUME) is a RemoteApc intent; the first raises
    REMOTE_APC_CREATION_SUSPECT, the next two fall inside its 2000 ms cooldown. No thread is created.
    """
    inject, victim = _implant(sim, base, "msupdate.exe"), _victim(sim, base, "SnippingTool.exe", threads=5)
    sim.at(t0, sim.open_process, inject, victim, 0x38)
    _stage_shellcode(sim, inject, victim, t0 + 1 * MS)
    for i, thread in enumerate(victim.threads[1:4]):
        sim.at(t0 + (4 + 2 * i) * MS, sim.open_thread, inject, victim, thread, 0x10)
        sim.at(t0 + (4 + 2 * i) * MS + 100, lambda ts, th=thread: sim.threat_intel(ts, 4, inject, victim, thread=th))


@scenario("early-bird-apc", "T1055.004", dict(spawn_noise(1), PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM=1))
def early_bird_apc(sim: Simulation, base: Baseline, t0: int) -> None:
    """Early-bird APC: a suspended process, shellcode written into it, an APC queued to its first thread, resume.

    Spawn noise with one loader thread (module docstring). The controller: CREATE_SUSPENDED, the first thread's
    marks and THREAD_CONTEXT_INTENT from the APC-variant THREAD_HIJACK_INTENT make its MEDIUM (SUSPENDED, thread,
    CTX); the RWX page is too small for ALLOC, so no STRONG. Assumption (spec 3.11 [AMB]): the stock TI provider has
    no process-creation event; a TI event named `KERNEL_THREATINT_TASK_CREATEPROCESS` with CreationFlags 0x4 is
    emitted here to exercise the controller's CREATE_SUSPENDED mark.
    """
    inject = _implant(sim, base, "AdobeARMhelper.exe")
    child: dict[str, Process] = {}

    def start(ts: int) -> None:
        child["p"] = sim.spawn(ts, inject, "C:\\Windows\\System32\\RuntimeBroker.exe", "RuntimeBroker.exe -Embedding",
                               suspended=True)  # fmt: skip
        sim.at(ts + 60, lambda t: sim.threat_intel(t, 0, inject, child["p"], name="KERNEL_THREATINT_TASK_CREATEPROCESS",
                                                   creation_flags=0x4))  # fmt: skip

    sim.at(t0, start)
    region: dict[str, int] = {}
    sim.at(t0 + 5 * MS, lambda ts: region.setdefault("a", sim.allocate(ts, inject, child["p"], 0x1000,
                                                                      PAGE_EXECUTE_READWRITE, SHELLCODE)))  # fmt: skip
    sim.at(t0 + 6 * MS, lambda ts: sim.write(ts, inject, child["p"], region["a"], len(SHELLCODE)))
    sim.at(t0 + 7 * MS, lambda ts: sim.threat_intel(ts, 4, inject, child["p"], thread=child["p"].threads[0]))
    sim.at(t0 + 8 * MS, lambda ts: sim.resume(ts, child["p"], 1))


def _hollow(sim: Simulation, base: Baseline, t0: int, implant: str, target: str, cmdline: str, workers: int,
            transacted: bool) -> None:  # fmt: skip
    inject = _implant(sim, base, implant)
    child: dict[str, Process] = {}

    def start(ts: int) -> None:
        child["p"] = sim.spawn(ts, inject, target, cmdline, suspended=True)
        sim.at(ts + 60, lambda t: sim.threat_intel(t, 0, inject, child["p"], name="KERNEL_THREATINT_TASK_CREATEPROCESS",
                                                   creation_flags=0x4))  # fmt: skip

    sim.at(t0, start)
    if transacted:
        sim.at(t0 + 3 * MS, lambda ts: sim.threat_intel(ts, 3, inject, child["p"], size=0x24000,
                                                        name="KERNEL_THREATINT_TASK_MAPVIEW_TRANSACTED"))  # fmt: skip
    region: dict[str, int] = {}
    sim.at(t0 + 4 * MS, lambda ts: region.setdefault("a", sim.allocate(ts, inject, child["p"], 0x24000,
                                                                      PAGE_READWRITE)))  # fmt: skip
    for i, size in enumerate((0x400, 0x1A000, 0x6000, 0x2000)):
        sim.at(t0 + (5 + i) * MS, lambda ts, n=size: sim.write(ts, inject, child["p"], region["a"], n))
    sim.at(t0 + 9 * MS, lambda ts: sim.protect(ts, inject, child["p"], region["a"], PAGE_EXECUTE_READ))
    sim.at(t0 + 10 * MS, lambda ts: sim.threat_intel(ts, 5, inject, child["p"], thread=child["p"].threads[0]))
    sim.at(t0 + 11 * MS, lambda ts: sim.resume(ts, child["p"], workers))


@scenario("process-hollowing", "T1055.012", dict(spawn_noise(2), PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM=1,
                                                 PROCESS_HOLLOWING_MARK_CHAIN_STRONG=1))  # fmt: skip
def process_hollowing(sim: Simulation, base: Baseline, t0: int) -> None:
    """Process hollowing: svchost.exe created suspended, its image replaced (alloc RW, writes, protect RX), set context.

    Spawn noise with two loader threads (the second within the STRONG's 3000 ms cooldown adds only per-thread rules).
    The controller: MEDIUM when THREAD_CONTEXT_INTENT joins CREATE_SUSPENDED and the thread marks, then STRONG at the
    protect (SUSPENDED, ALLOC >= 0x8000 RW, WRITE, PROTECT RW->RX, thread marks). Assumption (spec 3.11 [AMB]): the
    `KERNEL_THREATINT_TASK_CREATEPROCESS` TI event with CreationFlags 0x4 is not in the stock provider.
    """
    _hollow(sim, base, t0, "chrome_update.exe", "C:\\Windows\\System32\\svchost.exe",
            "C:\\Windows\\system32\\svchost.exe -k netsvcs", 2, transacted=False)  # fmt: skip


@scenario("txf-hollowing", "T1055.013", dict(spawn_noise(1), PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM=1,
                                             PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN=1))  # fmt: skip
def txf_hollowing(sim: Simulation, base: Baseline, t0: int) -> None:
    """Transacted hollowing (TxF / doppelganging family): the payload comes from a rolled-back transacted file.

    As process hollowing with one loader thread (spawn noise, then PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM), plus a TI
    event about mapping the transacted section into the target, which sets TXF_SUSPECT: the controller's strong
    chain is then PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN.
    Assumptions (spec 3.11 [AMB]): the stock TI provider has neither `KERNEL_THREATINT_TASK_CREATEPROCESS` (flags
    0x4) nor `KERNEL_THREATINT_TASK_MAPVIEW_TRANSACTED`; both are emitted only here and in the hollowing scenarios.
    """
    _hollow(sim, base, t0, "setup_x64.exe", "C:\\Windows\\System32\\notepad.exe", "notepad.exe", 1, transacted=True)


@scenario("manual-map", "T1055", {"REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT": 1,
                                  "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION": 1,
                                  "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE": 1,
                                  "POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN": 1,
                                  "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION": 1,
                                  "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG": 1, "THREAD_HIJACK_INTENT/apc": 1})  # fmt: skip
def manual_map(sim: Simulation, base: Baseline, t0: int) -> None:
    """Manual mapping through a duplicated handle: a DLL's sections copied into RWX memory, a thread at its loader.

    The handle to the victim is duplicated (DUP_HANDLE intent with PROCESS_MEMORY), so the thread in private RWX
    memory raises REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT, REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION,
    REMOTE_THREAD_OUTSIDE_MAIN_IMAGE, POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN (memory + duplicate) and
    POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION, and the kernel chain goes straight to
    KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG; the returned thread handle is THREAD_HIJACK_INTENT (APC variant). The controller has ALLOC and WRITE but no PROTECT
    (the memory was RWX from the start) and no CREATE_SUSPENDED, so it stays silent.
    """
    inject, victim = _implant(sim, base, "GoogleUpdateSetup.exe"), _victim(sim, base, "Taskmgr.exe", threads=6)
    sim.at(t0, sim.duplicate, inject, victim, 0x1FFFFF)
    region: dict[str, int] = {}
    sim.at(t0 + 1 * MS, lambda ts: region.setdefault("a", sim.allocate(ts, inject, victim, 0x2A000,
                                                                      PAGE_EXECUTE_READWRITE)))  # fmt: skip
    for i, size in enumerate((0x400, 0x1C000, 0x8000, 0x1200)):
        sim.at(t0 + (2 + i) * MS, lambda ts, n=size: sim.write(ts, inject, victim, region["a"], n))
    sim.at(t0 + 7 * MS, lambda ts: sim.create_remote_thread(ts, inject, victim, region["a"] + 0x1C30))
