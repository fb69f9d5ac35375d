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
from typing import ClassVar

from swk.capture.simulate.bulk import Bulk
from swk.capture.simulate.host import Process
from swk.capture.simulate.sim import MS, Simulation
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
CONSOLE_CHILDREN = (
    "ipconfig.exe /all",
    "whoami.exe /groups",
    "ping.exe -n 2 10.0.0.1",
    "tasklist.exe",
    "where.exe git",
)
SERVICE_KEY = (
    "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces"  # RTL_REGISTRY_SERVICES
)
RUN_KEYS = ("Software\\Microsoft\\Windows\\CurrentVersion\\Run", "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
            "Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce")  # fmt: skip


@dataclass(frozen=True)
class Mix:
    """Relative weights of the benign activities (each activity is one or a few operations).

    The defaults follow the proportions of a busy Windows 11 workstation's kernel telemetry: registry opens first,
    then handle opens, a few DLL loads, threadpool threads, and a process start every second or two.
    """

    registry: float = 55.0
    handle: float = 33.0
    image: float = 4.0
    thread: float = 2.4
    run_key_read: float = 0.05
    service_key_read: float = 0.05
    spawn: float = 0.06
    browser: float = 0.04
    ctrl_event: float = 0.005
    ti_write: float = 0.3

    SIMPLE: ClassVar[tuple[str, ...]] = ("registry", "handle", "image")  # generated in bulk (`bulk.py`)
    COMPLEX: ClassVar[tuple[str, ...]] = ("thread", "run_key_read", "service_key_read", "spawn", "browser",
                                          "ctrl_event", "ti_write")  # fmt: skip

    def rows_per_activity(self) -> float:
        """Average case rows per activity (its records and the noise detections they raise, measured)."""
        cost = {"registry": 1.0, "handle": 1.0, "image": 1.0, "thread": 2.6, "run_key_read": 4.0,
                "service_key_read": 2.0, "spawn": 60.0, "browser": 45.0, "ctrl_event": 3.0, "ti_write": 1.0}  # fmt: skip
        total = sum(getattr(self, k) for k in cost)
        return sum(getattr(self, k) * v for k, v in cost.items()) / total

    def share(self, names: tuple[str, ...]) -> float:
        """The fraction of activities among `names`."""
        total = sum(getattr(self, k) for k in self.SIMPLE + self.COMPLEX)
        return sum(getattr(self, k) for k in names) / total


class Benign:
    """Generates benign activities into a simulation between `start_us` and `end_us`."""

    def __init__(self, sim: Simulation, base: Baseline, *, events_per_s: float, mix: Mix = Mix(), seed: int = 1,
                 reference: bool = False) -> None:  # fmt: skip
        self.sim = sim
        self.base = base
        self.rng = random.Random(f"benign:{seed}")
        self.mix = mix
        activities = events_per_s / mix.rows_per_activity()
        self.complex_rate = activities * mix.share(Mix.COMPLEX)
        weights = tuple(getattr(mix, k) for k in Mix.SIMPLE)
        self.bulk = (
            Bulk(sim, base, activities * mix.share(Mix.SIMPLE), weights, seed, reference) if sum(weights) else None
        )
        self.alive: list[Process] = [p for p in base.all() if not p.wow64]
        self.consoles: list[Process] = []
        self.renderers: list[Process] = list(base.edge_children[2:])
        self._names = [n for n in Mix.COMPLEX if getattr(mix, n) > 0]
        self._cum: list[float] = []
        acc = 0.0
        for name in self._names:
            acc += getattr(mix, name)
            self._cum.append(acc)
        self.activities = 0

    def run(self, start_us: int, end_us: int) -> None:
        """Interleave benign activities with the simulation's scheduled actions until `end_us`."""
        sim, rng, bulk = self.sim, self.rng, self.bulk
        if bulk is not None:
            sim.before = bulk.flush_until
        handlers = {name: getattr(self, "_" + name) for name in self._names}
        names, cum = self._names, self._cum
        ts = float(start_us)
        while self.complex_rate > 0:
            ts += rng.expovariate(self.complex_rate) * 1e6  # the rate is per second, times are µs
            now = int(ts)
            if now >= end_us:
                break
            sim.run_until(now)
            if bulk is not None:
                bulk.flush_until(now)
            sim.now = now
            handlers[rng.choices(names, cum_weights=cum)[0]](now)
            self.activities += 1
        sim.run_until(end_us)
        if bulk is not None:
            bulk.flush_until(end_us)
            self.activities += bulk.applied
        sim.before = None

    # -- activities ---------------------------------------------------------------------------------------------

    def _pick(self) -> Process:
        return self.alive[self.rng.randrange(len(self.alive))]

    def _service_key_read(self, ts: int) -> None:
        """RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, ...) builds an absolute path under CurrentControlSet."""
        self.sim.registry(ts, self._pick(), "OPEN_KEY", SERVICE_KEY)

    def _run_key_read(self, ts: int) -> None:
        proc = self.rng.choice((self.base.explorer, self.base.defender, *self.base.svchosts[3:5]))
        key = self.rng.choice(RUN_KEYS)
        self.sim.registry(ts, proc, "OPEN_KEY", key)
        again = key if key[0] != "S" else "\\REGISTRY\\MACHINE\\" + key.upper()
        self.sim.at(ts + 150, self.sim.registry, proc, "OPEN_KEY", again)

    def _thread(self, ts: int) -> None:
        """A threadpool worker; it exits after idling (threadpool workers time out after seconds to minutes)."""
        proc = self._pick()
        thread = self.sim.new_thread(ts, proc, "threadpool")
        lifetime = int(self.rng.uniform(1, 120) * 1e6)
        self.sim.at_host(ts + lifetime, lambda _ts, p=proc, th=thread: self.sim.host.exit_thread(p, th))

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
        sim.at(
            ts + 700,
            lambda t: sim.threat_intel(t, 7, edge, child, base=0x7FFB_0000_0000, size=0x28) if child.alive else None,
        )
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
            self.sim.threat_intel(
                ts, 7, self.base.edge, self.rng.choice(self.renderers), base=0x7FFB_0000_0000, size=0x10
            )
