"""Benign background activity of a Windows 11 workstation, at a chosen rate, deterministic for a seed.

Activities and their weights (`Mix`): handle opens (Defender scanning processes with QUERY_INFORMATION|VM_READ,
services and WMI querying with QUERY_LIMITED_INFORMATION, a WOW64 client going through wow64.dll, a few
ntdll-internal opens that are LEGITIMATE-SYSCALL, handle duplicates from RPC servers, stack-walking thread opens),
registry opens and sets (Run-key reads among them), threadpool threads, DLL loads, process trees (services, COM
surrogates, shells with their children, WOW64 processes), browser churn (renderers started and opened by the browser,
sandbox setup writes reported by TI), and console Ctrl events delivered by csrss on a CtrlRoutine remote thread.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from swk.capture.simulate.host import Process
from swk.capture.simulate.modules import COMMON_DLLS
from swk.capture.simulate.sim import MS, Simulation, hkcu
from swk.capture.simulate.world import EDGE, S32, Baseline

# Spawn templates: (parent role, image, command line, gui, wow64, loader threads, lifetime range s).
SPAWNS = (
    ("dcom", S32 + "dllhost.exe", "C:\\Windows\\system32\\DllHost.exe /Processid:{3EB3C877-1F16-487C-9050-104DBCD66683}", False, False, 2, (2, 40)),
    ("dcom", S32 + "RuntimeBroker.exe", "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding", True, False, 2, (20, 300)),
    ("dcom", S32 + "wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding", False, False, 3, (10, 120)),
    ("schedule", S32 + "taskhostw.exe", "taskhostw.exe Install $(Arg0)", True, False, 2, (5, 60)),
    ("services", S32 + "svchost.exe", "C:\\Windows\\system32\\svchost.exe -k LocalServiceNoNetwork -p", False, False, 3, (30, 600)),
    ("explorer", S32 + "notepad.exe", '"C:\\Windows\\system32\\notepad.exe"', True, False, 2, (30, 900)),
    ("explorer", S32 + "cmd.exe", '"C:\\Windows\\system32\\cmd.exe"', False, False, 1, (20, 600)),
    ("explorer", "C:\\Program Files\\WindowsApps\\Microsoft.WindowsCalculator_11.2311.0.0_x64__8wekyb3d8bbwe\\CalculatorApp.exe", '"CalculatorApp.exe" -ServerName:App.AppXsm3pg4n7er43kdh1qp4e79f1j7am68r8.mca', True, False, 3, (10, 300)),
    ("defender", "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe", '"MpCmdRun.exe" SignatureUpdate -ScheduleJob -RestrictPrivileges', False, False, 1, (3, 30)),
    ("steam", "C:\\Program Files (x86)\\Steam\\steamerrorreporter.exe", '"steamerrorreporter.exe" -silent', False, True, 1, (2, 20)),
    ("steam", "C:\\Program Files (x86)\\Steam\\bin\\steamservice.exe", '"C:\\Program Files (x86)\\Steam\\bin\\steamservice.exe" /RunAsService', False, True, 2, (30, 600)),
)  # fmt: skip
CONSOLE_CHILDREN = ("ipconfig.exe /all", "whoami.exe /groups", "ping.exe -n 2 10.0.0.1", "tasklist.exe", "where.exe git")
RELATIVE_KEYS = (
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced", "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
    "System\\CurrentControlSet\\Control\\Nls\\CodePage", "Software\\Classes\\CLSID\\{9BA05972-F6A8-11CF-A442-00A0C90A8F39}\\InprocServer32",
    "SOFTWARE\\Microsoft\\Cryptography\\Defaults\\Provider", "Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings",
    "SOFTWARE\\Policies\\Microsoft\\Windows\\System", "System\\CurrentControlSet\\Services\\Tcpip\\Parameters",
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders", "SOFTWARE\\Microsoft\\Ole",
    "Control Panel\\Desktop", "Software\\Microsoft\\Windows\\DWM", "SOFTWARE\\Microsoft\\Windows Defender\\Features",
)  # fmt: skip
ABSOLUTE_KEYS = (
    "\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList",
    "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Environment",
    "\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\FolderDescriptions",
)  # fmt: skip
SERVICE_KEY = "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces"  # RTL_REGISTRY_SERVICES
RUN_KEYS = ("Software\\Microsoft\\Windows\\CurrentVersion\\Run", "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
            "Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce")  # fmt: skip
SET_KEYS = (("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\UserAssist\\{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}\\Count", "HRZR_PGYFRFFVBA", (3, 72)),
            ("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs", "MRUListEx", (3, 40)),
            ("Software\\Microsoft\\Edge\\BLBeacon", "failed_count", (4, 4)))  # fmt: skip


@dataclass(frozen=True)
class Mix:
    """Relative weights of the benign activities (each activity is one or a few operations)."""

    handle: float = 40.0
    registry: float = 34.0
    run_key_read: float = 0.3
    thread: float = 7.0
    image: float = 6.0
    spawn: float = 0.35
    browser: float = 0.25
    ctrl_event: float = 0.03
    ti_write: float = 1.0

    # Rows an activity yields on average (its records plus the noise detections they raise), measured on the
    # default mix; used to turn an events-per-second target into an activity rate.
    def rows_per_activity(self) -> float:
        """Average case rows per activity."""
        cost = {"handle": 1.0, "registry": 1.0, "run_key_read": 2.0, "thread": 2.5, "image": 1.0, "spawn": 46.0,
                "browser": 36.0, "ctrl_event": 3.0, "ti_write": 1.0}  # fmt: skip
        total = sum(getattr(self, k) for k in cost)
        return sum(getattr(self, k) * v for k, v in cost.items()) / total


class Benign:
    """Generates benign activities into a simulation between `start_us` and `end_us`."""

    def __init__(self, sim: Simulation, base: Baseline, *, events_per_s: float, mix: Mix = Mix(), seed: int = 1) -> None:
        self.sim = sim
        self.base = base
        self.rng = random.Random(f"benign:{seed}")
        self.mix = mix
        self.gap_us = 1e6 / (events_per_s / mix.rows_per_activity())
        self.alive: list[Process] = [p for p in base.all() if not p.wow64]
        self.consoles: list[Process] = []
        self.renderers: list[Process] = list(base.edge_children[2:])
        weights = [(name, getattr(mix, name)) for name in ("handle", "registry", "run_key_read", "thread", "image",
                                                            "spawn", "browser", "ctrl_event", "ti_write")]  # fmt: skip
        self._names = [n for n, w in weights if w > 0]
        self._cum = []
        acc = 0.0
        for _, w in weights:
            if w > 0:
                acc += w
                self._cum.append(acc)
        self.activities = 0

    def run(self, start_us: int, end_us: int) -> None:
        """Interleave benign activities with the simulation's scheduled actions until `end_us`."""
        sim, rng = self.sim, self.rng
        expovariate, choose = rng.expovariate, rng.choices
        ts = float(start_us)
        rate = 1.0 / self.gap_us
        handlers = {name: getattr(self, "_" + name) for name in self._names}
        names, cum = self._names, self._cum
        while True:
            ts += expovariate(rate)
            now = int(ts)
            if now >= end_us:
                break
            sim.run_until(now)
            sim.now = now
            handlers[choose(names, cum_weights=cum)[0]](now)
            self.activities += 1
        sim.run_until(end_us)

    # -- activities ---------------------------------------------------------------------------------------------

    def _pick(self) -> Process:
        return self.alive[self.rng.randrange(len(self.alive))]

    def _handle(self, ts: int) -> None:
        rng, sim, base = self.rng, self.sim, self.base
        r = rng.random()
        target = self._pick()
        if r < 0.35:
            sim.open_process(ts, base.defender, target, 0x1410, threadpool=True)
        elif r < 0.70:
            caller = rng.choice(base.svchosts)
            sim.open_process(ts, caller, target, rng.choice((0x1000, 0x1000, 0x101000, 0x1400)), threadpool=True)
        elif r < 0.80:
            sim.open_process(ts, rng.choice((base.explorer, *base.user)), target, rng.choice((0x1000, 0x100000, 0x1010)))
        elif r < 0.86:
            sim.open_process(ts, base.steam, target, 0x1000)
        elif r < 0.90:
            sim.open_process(ts, base.wmi, target, 0x1410, "QueryDebugInformation")
        elif r < 0.96:
            sim.duplicate(ts, rng.choice(base.svchosts[:3]), target, 0x101000)
        else:
            proc = self._pick()
            if proc.threads:
                sim.open_thread(ts, base.defender, proc, rng.choice(proc.threads), 0x0A)  # GET_CONTEXT|SUSPEND_RESUME

    def _registry(self, ts: int) -> None:
        rng, sim = self.rng, self.sim
        proc = self._pick()
        r = rng.random()
        if r < 0.70:
            sim.registry(ts, proc, "OPEN_KEY", rng.choice(RELATIVE_KEYS))
        elif r < 0.85:
            sim.registry(ts, proc, "OPEN_KEY", rng.choice(ABSOLUTE_KEYS))
        elif r < 0.87:
            sim.registry(ts, proc, "OPEN_KEY", SERVICE_KEY)
        elif r < 0.95:
            key, value, data = rng.choice(SET_KEYS)
            sim.registry(ts, self.base.explorer, "SET_VALUE", hkcu(key), value, data)
        else:
            sim.registry(ts, proc, "CREATE_KEY", "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\SessionInfo\\1")

    def _run_key_read(self, ts: int) -> None:
        proc = self.rng.choice((self.base.explorer, self.base.defender, *self.base.svchosts[3:5]))
        key = self.rng.choice(RUN_KEYS)
        self.sim.registry(ts, proc, "OPEN_KEY", key)
        again = key if key[0] != "S" else "\\REGISTRY\\MACHINE\\" + key.upper()
        self.sim.at(ts + 150, self.sim.registry, proc, "OPEN_KEY", again)

    def _thread(self, ts: int) -> None:
        proc = self._pick()
        self.sim.new_thread(ts, proc, "threadpool")

    def _image(self, ts: int) -> None:
        proc = self._pick()
        spec = self.rng.choice(COMMON_DLLS[16:])
        self.sim.driver.load_image(ts, proc.pid, proc.threads[0].tid if proc.threads else 0,
                                   self.sim.host.bases[spec], spec.size, spec.path)  # fmt: skip

    def _spawn(self, ts: int) -> None:
        rng, base = self.rng, self.base
        role, image, cmdline, gui, wow64, workers, life = rng.choice(SPAWNS)
        parent = {"dcom": base.svchosts[0], "schedule": base.svchosts[3], "services": base.services,
                  "explorer": base.explorer, "defender": base.defender, "steam": base.steam}[role]  # fmt: skip
        child = self.sim.spawn(ts, parent, image, cmdline, wow64=wow64, gui=gui, workers=workers)
        if image.endswith("cmd.exe"):
            self.sim.at(ts + 2 * MS, self._conhost, child)
            self.consoles.append(child)
        if not wow64:
            self.alive.append(child)
        self.sim.at(ts + int(rng.uniform(*life) * 1e6), self._exit, child)

    def _conhost(self, ts: int, console: Process) -> None:
        if console.alive:
            child = self.sim.spawn(ts, console, S32 + "conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
                                   gui=False, workers=1)  # fmt: skip
            self.sim.at(ts + 30 * MS, self._console_command, console)
            self.sim.at(ts + int(self.rng.uniform(20, 600) * 1e6), self._exit, child)

    def _console_command(self, ts: int, console: Process) -> None:
        if console.alive:
            command = self.rng.choice(CONSOLE_CHILDREN)
            child = self.sim.spawn(ts, console, S32 + command.split()[0], command, gui=False, workers=1, dlls=4)
            self.sim.at(ts + int(self.rng.uniform(0.2, 2) * 1e6), self._exit, child)

    def _exit(self, ts: int, proc: Process) -> None:
        if proc in self.alive:
            self.alive.remove(proc)
        if proc in self.consoles:
            self.consoles.remove(proc)
        if proc in self.renderers:
            self.renderers.remove(proc)
        self.sim.exit(ts, proc)

    def _browser(self, ts: int) -> None:
        """The browser starts a renderer, opens it for its broker, writes the sandbox's setup into it."""
        rng, sim, edge = self.rng, self.sim, self.base.edge
        child = sim.spawn(ts, edge, EDGE, f'"{EDGE}" --type=renderer --renderer-client-id={rng.randrange(8, 400)} '
                                         "--mojo-platform-channel-handle=2344 /prefetch:1", workers=3, dlls=10)  # fmt: skip
        sim.at(ts + 600, lambda t: sim.open_process(t, edge, child, 0x1478) if child.alive else None)
        sim.at(ts + 700, lambda t: sim.threat_intel(t, 7, edge, child, base=0x7FFB_0000_0000, size=0x28) if child.alive else None)
        self.renderers.append(child)
        self.alive.append(child)
        self.sim.at(ts + int(rng.uniform(5, 120) * 1e6), self._exit, child)

    def _ctrl_event(self, ts: int) -> None:
        """Ctrl+C in a console: csrss starts KERNELBASE!CtrlRoutine in the console process."""
        if self.consoles:
            console = self.rng.choice(self.consoles)
            self.sim.new_thread(ts, console, "ctrl", creator=self.base.csrss)

    def _ti_write(self, ts: int) -> None:
        """The browser broker writes into a renderer (TI WRITEVM); no Sleepwalker record."""
        if self.renderers:
            self.sim.threat_intel(ts, 7, self.base.edge, self.rng.choice(self.renderers), base=0x7FFB_0000_0000, size=0x10)
