"""The simulation: a host, the forward driver, a clock-ordered action queue, and the actions techniques are made of.

Every action runs at its time, in (time, order of scheduling) order, so the driver sees operations in the order
they happened and every record's time is the operation's time. Composite actions (spawning a process, injecting a
thread) schedule their steps at the small offsets Windows takes between them.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from typing import Any

from swk.capture.simulate import stacks
from swk.capture.simulate.host import USER_SID, Host, Process, Thread, nt_path
from swk.capture.simulate.modules import COMMON_DLLS, KERNEL32, KERNELBASE, NTDLL, WOW64_MODULES, ModuleSpec
from swk.capture.simulate.rows import CaseSink
from swk.kernel.model.driver import Driver

PROCESS_ALL_ACCESS = 0x1FFFFF
THREAD_ALL_ACCESS = 0x1FFFFF
TI_EVENT = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 7: 14, 8: 15}  # task -> the stock manifest's "remote" event id (version 1)
TI_TASK_NAME = {1: "KERNEL_THREATINT_TASK_ALLOCVM", 2: "KERNEL_THREATINT_TASK_PROTECTVM",
                3: "KERNEL_THREATINT_TASK_MAPVIEW", 4: "KERNEL_THREATINT_TASK_QUEUEUSERAPC",
                5: "KERNEL_THREATINT_TASK_SETTHREADCONTEXT", 7: "KERNEL_THREATINT_TASK_WRITEVM",
                8: "KERNEL_THREATINT_TASK_SUSPENDRESUME_THREAD"}  # fmt: skip
# The stock template's name for the size of each task's event (MAPVIEW's ViewSize, WRITEVM's BytesCopied); a field
# the template does not have is lost in an .etl, whose writer follows the template.
TI_SIZE_FIELD = {3: "ViewSize", 7: "BytesCopied"}
US = 1
MS = 1000
# json.dumps(..., sort_keys=True), whose non-default argument builds a new encoder on every call
_sorted_json = json.JSONEncoder(sort_keys=True).encode


class Simulation:
    """One host under simulation; actions are scheduled with `at` and run by `run_until`."""

    def __init__(self, host_name: str, seed: int, start_us: int, boot_us: int, deliver: Callable[[Any], None],
                 qpc_frequency: int = 10_000_000, handle_work: tuple[int, int] | None = None) -> None:  # fmt: skip
        self.host = Host(host_name, seed)
        self.start_us = start_us
        self.boot_us = boot_us
        self.sink = CaseSink(host_name, boot_us, qpc_frequency, deliver)
        limits = {"handle_slots": handle_work} if handle_work else {}
        self.driver = Driver(host_name, self.host, self.sink, loaded_us=start_us,
                             worker_frames=self.host.worker_frames, worker_tids=self.host.worker_tids,
                             **limits)  # fmt: skip
        self.rng = random.Random(f"sim:{seed}")
        self.now = start_us
        self._queue: list[tuple[int, int, Callable[..., Any], tuple, bool]] = []
        self.before: Callable[[int], None] | None = None  # runs before each action (the bulk stream catches up)
        self._seq = 0
        self._next_alloc: dict[Process, int] = {}

    # -- scheduling -------------------------------------------------------------------------------------------------

    def at(self, ts: int, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(ts, *args)` at `ts` (never before the current time)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(ts, self.now), self._seq, fn, args, True))

    def at_host(self, ts: int, fn: Callable[..., Any], *args: Any) -> None:
        """`at` for a change of the host's own bookkeeping (an id freed, a thread list shortened) that makes no
        driver call and no record: `before` does not run for it, since no operation of the bulk stream reads what
        it changes. (A thread's exit was a third of the bulk stream's catch-ups, each with its own overhead.)"""
        self._seq += 1
        heapq.heappush(self._queue, (max(ts, self.now), self._seq, fn, args, False))

    def next_time(self) -> int | None:
        """Time of the next scheduled action."""
        return self._queue[0][0] if self._queue else None

    def run_until(self, end_us: int) -> None:
        """Run every action scheduled before `end_us`, in order (`before(ts)` first, when set and not `at_host`)."""
        queue, before = self._queue, self.before
        while queue and queue[0][0] < end_us:
            ts, _, fn, args, catch_up = heapq.heappop(queue)
            if catch_up and before is not None:
                before(ts)
            self.now = ts
            fn(ts, *args)

    # -- processes and threads --------------------------------------------------------------------------------------

    def frames(self, proc: Process, api: str, threadpool: bool = False) -> tuple[int, ...]:
        """The stack of `proc` calling `api` (cached per process and api)."""
        frames = proc.stacks.get((api, threadpool))
        if frames is None:
            frames = proc.stacks[api, threadpool] = stacks.api_frames(self.host, proc, api, threadpool=threadpool)
        return frames

    def existing(self, path: str, parent: Process | None = None, cmdline: str | None = None, *, session: int = 1,
                 wow64: bool = False, gui: bool = True, threads: int = 2, pid: int | None = None,
                 exe: ModuleSpec | None = None) -> Process:  # fmt: skip
        """A process already running when the capture started (no telemetry)."""
        proc = self.host.make_process(path, parent.pid if parent else 4, cmdline, session=session, wow64=wow64,
                                      gui=gui, exe=exe, pid=pid)  # fmt: skip
        for _ in range(threads):
            self.host.add_thread(proc)
        return proc

    def caller_tid(self, proc: Process) -> int:
        """A thread of `proc` making a call."""
        return proc.threads[0].tid if proc.threads else 0

    def spawn(self, ts: int, parent: Process, path: str, cmdline: str | None = None, *, suspended: bool = False,
              wow64: bool = False, gui: bool = True, workers: int = 1, session: int | None = None,
              dlls: int | None = None) -> Process:  # fmt: skip
        """CreateProcess: the parent's handle to the child, the create notification, the exe and ntdll mappings,
        the initial thread (creator = parent) and the parent's handle to it; then, unless suspended, the loader."""
        child = self.host.make_process(path, parent.pid, cmdline, session=parent.session if session is None else session,
                                       wow64=wow64, gui=gui)  # fmt: skip
        ptid = self.caller_tid(parent)
        frames = self.frames(parent, "CreateProcess")
        self.driver.open_handle(ts, parent.pid, ptid, child.pid, PROCESS_ALL_ACCESS, frames)
        self.at(ts + 40, self._created, parent, child)
        self.at(ts + 90, self._map, child, child.exe.spec, child.exe.base, child.image, (parent.pid, ptid))
        self.at(ts + 120, self._map, child, NTDLL, self.host.bases[NTDLL], "\\SystemRoot\\System32\\ntdll.dll",
                (parent.pid, ptid))  # fmt: skip
        first = self.host.add_thread(child)
        self.at(ts + 180, self._thread, child, first, parent.pid, child.exe.base + child.exe.spec.entry)
        self.at(ts + 230, self._thread_handle, parent, child, first, frames)
        if not suspended:
            self.at(ts + 900, self.resume, child, workers, dlls)
        return child

    def _created(self, ts: int, parent: Process, child: Process) -> None:
        self.driver.process(ts, (parent.pid, self.caller_tid(parent)), {
            "actor_pid": parent.pid, "target_pid": child.pid, "is_create": True, "create_status": 0,
            "parent_pid": parent.pid, "creator_pid": parent.pid, "creator_tid": self.caller_tid(parent),
            "process_start_key": child.start_key, "session_id": child.session,
            "image_path": "\\??\\" + child.path, "command_line": child.cmdline})  # fmt: skip

    def _map(self, ts: int, proc: Process, spec: ModuleSpec, base: int, path: str, header: tuple[int, int]) -> None:
        if not proc.alive:
            return
        self.driver.load_image(ts, proc.pid, header[1], base, spec.size, path, signature=(12, 1))

    def _thread(self, ts: int, proc: Process, thread: Thread, creator: int, start: int) -> None:
        if proc.alive:
            self.driver.create_thread(ts, proc.pid, thread.tid, creator, start)

    def _thread_handle(self, ts: int, caller: Process, target: Process, thread: Thread,
                       frames: tuple[int, ...]) -> None:  # fmt: skip
        if target.alive:
            self.driver.open_handle(ts, caller.pid, self.caller_tid(caller), target.pid, THREAD_ALL_ACCESS, frames,
                                    thread=True)  # fmt: skip

    def resume(self, ts: int, child: Process, workers: int = 1, dlls: int | None = None) -> None:
        """ResumeThread of a new process: the loader maps its DLLs and starts its worker threads."""
        tid = child.threads[0].tid
        step = ts + 300
        if child.wow64:
            for spec in self.host.modules_of(True, False)[1:]:
                path = "\\SystemRoot\\SysWOW64\\ntdll.dll" if spec in WOW64_MODULES[:1] else spec.path
                self.at(step, self._map, child, spec, self.host.bases[spec], path, (child.pid, tid))
                step += 150
        else:
            mods = (KERNEL32, KERNELBASE, *COMMON_DLLS[: (18 if dlls is None else dlls)])
            for spec in mods:
                self.at(step, self._map, child, spec, self.host.bases[spec], spec.path, (child.pid, tid))
                step += self.rng.randrange(120, 400)
        for _ in range(workers):
            worker = self.host.add_thread(child)
            self.at(ts + self.rng.randrange(1500, 4000), self._thread, child, worker, child.pid,
                    stacks.thread_start(self.host, "threadpool"))  # fmt: skip

    def new_thread(
        self, ts: int, proc: Process, start: str | int = "threadpool", creator: Process | None = None
    ) -> Thread:
        """A thread created in `proc` (by itself unless `creator`)."""
        thread = self.host.add_thread(proc)
        address = start if isinstance(start, int) else stacks.thread_start(self.host, start)
        self._thread(ts, proc, thread, (creator or proc).pid, address)
        return thread

    def exit(self, ts: int, proc: Process) -> None:
        """The process exits: its exit notification; its ids are freed a little later."""
        if not proc.alive:
            return
        self.driver.process(ts, (proc.pid, self.caller_tid(proc)), {
            "actor_pid": proc.pid, "target_pid": proc.pid, "is_create": False, "create_status": 0, "parent_pid": 0,
            "creator_pid": 0, "creator_tid": 0, "process_start_key": proc.start_key, "session_id": proc.session,
            "image_path": "", "command_line": ""})  # fmt: skip
        proc.alive = False
        self.at_host(ts + 50 * MS, lambda _ts, pid: self.host.exit_process(pid), proc.pid)

    # -- handles ----------------------------------------------------------------------------------------------------

    def open_process(self, ts: int, caller: Process, target: Process, access: int, api: str = "OpenProcess", *,
                     frames: tuple[int, ...] | None = None, threadpool: bool = False) -> int | None:  # fmt: skip
        """OpenProcess (or another path to a process handle)."""
        return self.driver.open_handle(ts, caller.pid, self.caller_tid(caller), target.pid, access,
                                       frames or self.frames(caller, api, threadpool))  # fmt: skip

    def open_thread(self, ts: int, caller: Process, target: Process, thread: Thread, access: int, *,
                    frames: tuple[int, ...] | None = None) -> int | None:  # fmt: skip
        """OpenThread on a thread of `target`."""
        return self.driver.open_handle(ts, caller.pid, self.caller_tid(caller), target.pid, access,
                                       frames or self.frames(caller, "OpenThread"), thread=True)  # fmt: skip

    def duplicate(self, ts: int, caller: Process, target: Process, access: int) -> int | None:
        """DuplicateHandle of a handle to `target` into the caller."""
        return self.driver.open_handle(ts, caller.pid, self.caller_tid(caller), target.pid, access,
                                       self.frames(caller, "DuplicateHandle"), duplicate=True)  # fmt: skip

    def create_remote_thread(self, ts: int, caller: Process, target: Process, start: int) -> Thread:
        """CreateRemoteThread: the thread notification (creator = caller), then the caller's handle to the thread."""
        thread = self.host.add_thread(target)
        self._thread(ts, target, thread, caller.pid, start)
        self.at(ts + 25, self._thread_handle, caller, target, thread, self.frames(caller, "CreateRemoteThread"))
        return thread

    # -- memory and Threat-Intelligence -----------------------------------------------------------------------------

    def allocate(self, ts: int, caller: Process, target: Process, size: int, protect: int, data: bytes = b"") -> int:
        """VirtualAllocEx: a private region in the target (and the TI ALLOCVM event for a remote allocation)."""
        base = self._next_alloc.get(target)
        if base is None:
            base = 0x0000_01F0_0000_0000 + self.host.rng.randrange(0x100, 0xF000) * 0x10000
        self._next_alloc[target] = base + (size + 0xFFFF) // 0x10000 * 0x10000 + 0x10000
        target.space.allocate(base, size, protect, data)
        if caller.pid != target.pid:
            self.threat_intel(ts, 1, caller, target, base=base, size=size, protect=protect)
        return base

    def write(self, ts: int, caller: Process, target: Process, address: int, size: int) -> None:
        """WriteProcessMemory (TI WRITEVM)."""
        self.threat_intel(ts, 7, caller, target, base=address, size=size)

    def protect(self, ts: int, caller: Process, target: Process, address: int, new: int) -> None:
        """VirtualProtectEx of a private allocation (TI PROTECTVM with the old protection)."""
        old = target.space.query(address)
        target.space.protect(address, new)
        self.threat_intel(ts, 2, caller, target, base=address, size=old.end - old.start if old else 0, protect=new,
                          old_protect=old.protect if old else 0)  # fmt: skip

    def threat_intel(self, ts: int, task: int, caller: Process, target: Process, *, name: str | None = None,
                     base: int | None = None, size: int | None = None, protect: int | None = None,
                     old_protect: int | None = None, creation_flags: int | None = None,
                     thread: Thread | None = None) -> None:  # fmt: skip
        """A Microsoft-Windows-Threat-Intelligence event in the caller's context.

        Stock tasks use the stock manifest's remote events and field names (`ProtectionMask`, ...). `name` gives an
        event the stock provider does not have (spec 3.11 [AMB]): only the scenarios that need the controller's
        CREATE_SUSPENDED or TXF_SUSPECT marks use it, and say so.
        """
        tid = self.caller_tid(caller)
        values = {"CallingProcessId": caller.pid, "CallingThreadId": tid, "TargetProcessId": target.pid,
                  "CallingProcessStartKey": caller.start_key, "TargetProcessStartKey": target.start_key}  # fmt: skip
        for key, value in (("BaseAddress", base), (TI_SIZE_FIELD.get(task, "RegionSize"), size),
                           ("ProtectionMask", protect), ("LastProtectionMask", old_protect),
                           ("CreationFlags", creation_flags), ("TargetThreadId", thread.tid if thread else None)):  # fmt: skip
            if value is not None:
                values[key] = value
        stock = name is None
        self.driver.threat_intel(ts, (caller.pid, tid), {
            "actor_pid": caller.pid, "target_pid": target.pid, "tid": thread.tid if thread else None,
            "event_name": TI_TASK_NAME[task] if stock else name, "task": task,
            "etw_event_id": TI_EVENT.get(task) if stock else None, "etw_version": 1 if stock else None,
            "opcode": 0, "keyword": -(1 << 63) if stock else None,  # 0x8000000000000000 as BIGINT
            "base_address": base,
            "region_size": size, "protect": protect, "old_protect": old_protect, "creation_flags": creation_flags,
            "fields_json": _sorted_json(values)})  # fmt: skip

    # -- registry and the driver object -----------------------------------------------------------------------------

    def registry(self, ts: int, proc: Process, operation: str, key_path: str, value_name: str = "",
                 data: tuple[int, int] | None = None) -> None:  # fmt: skip
        """A registry operation the driver's callback handles (SET_VALUE, CREATE_KEY, OPEN_KEY, DELETE_VALUE)."""
        self.driver.registry(ts, proc.pid, self.caller_tid(proc), proc.session, operation, key_path, value_name,
                             data if operation == "SET_VALUE" else None)  # fmt: skip

    def tamper_timer(self, ts: int) -> None:
        """The anti-tamper timer: the driver checks its object against the integrity mask the host now has."""
        self.driver.tamper_check(ts, self.host.integrity_mask)

    def schedule_tamper_checks(self, end_us: int) -> None:
        """Every 5000 ms from the driver's load until `end_us`."""
        for ts in self.driver.tamper.ticks(self.start_us, end_us):
            self.at(ts, self.tamper_timer)


def hkcu(path: str) -> str:
    """A key under the interactive user's hive, as the kernel names it."""
    return f"\\REGISTRY\\USER\\{USER_SID}\\{path}"


__all__ = ["MS", "US", "Simulation", "hkcu", "nt_path"]
