"""Sleepwalker's driver and controller run forward over what happened on a host (the generator's engine).

Each method is one operation as Windows would deliver it to the driver (a handle pre-callback, a thread-create
notification, an image load, a registry callback, a process notification, a Threat-Intelligence event, an
anti-tamper timer firing). The driver computes its telemetry exactly as spec 3.1-3.5, 3.7, 3.8 and 3.10 say, hands
each record to the `Sink` (which returns the record's event id), and raises the detections the driver and the
controller would have raised, through the same `HostEngine` the replay uses, with the driver's 256-slot tables.

No work-queue delay is simulated: a record's time is the operation's time, and the work item's queries (intent
store, memory) see the state at that time. The work-slot limits still drop events of a burst.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Protocol

from swk.kernel.abi import THREAD_SET_CONTEXT, HandleFlag
from swk.kernel.model.access import captures_stack, intent_flags, memory_related
from swk.kernel.model.apc import APC_CLASS, ApcMonitor
from swk.kernel.model.classify import Classification, DeepCache, classify, deep_sample
from swk.kernel.model.detection import Raised
from swk.kernel.model.engine import HostEngine
from swk.kernel.model.intents import IntentStore
from swk.kernel.model.memory import ProcessView, is_exec
from swk.kernel.model.tamper import AntiTamper
from swk.kernel.model.threads import image_range, outside_main_image, resolve_actor, start_region, thread_flags
from swk.kernel.model.worker import (
    HANDLE_SERVICE_US,
    HANDLE_WORK_LIMIT,
    THREAD_SERVICE_US,
    THREAD_WORK_LIMIT,
    WorkSlots,
)

SYSTEM_PID = 4
_SET_CONTEXT = int(THREAD_SET_CONTEXT)
_MEMORY_RELATED, _THREAD_OBJECT, _DUPLICATE = (int(HandleFlag.MEMORY_RELATED), int(HandleFlag.THREAD_OBJECT),
                                              int(HandleFlag.DUPLICATE_OPERATION))  # fmt: skip


@dataclass(slots=True, eq=False)  # one per thread event: a generated __init__, not a setattr loop
class ThreadRecord:
    """Everything the driver knows about one analysed thread (ThreadTelemetry + the IOCTL record)."""

    pid: int
    tid: int
    actor: int
    start: int
    image_base: int
    image_size: int
    got_start: bool
    got_range: bool
    remote: bool
    outside: bool
    corr_flags: int
    corr_mask: int
    corr_age: int
    start_protect: int
    start_state: int
    start_type: int
    start_status: int
    start_exec: bool
    frames: tuple[int, ...]
    flags: int


class Sink(Protocol):
    """Receives the driver's records in emission order; every method returns the record's event id."""

    def handle(
        self,
        ts: int,
        header: tuple[int, int],
        caller: int,
        target: int,
        access: int,
        cls: Classification,
        flags: int,
        sample: bytes,
        is_thread: bool,
        is_duplicate: bool,
        sequence: int,
    ) -> int: ...

    def apc(
        self,
        ts: int,
        header: tuple[int, int],
        caller: int,
        target: int,
        access: int,
        class_name: str,
        is_duplicate: bool,
    ) -> int: ...

    def thread(self, ts: int, header: tuple[int, int], rec: ThreadRecord, sequence: int) -> int: ...

    def image(
        self,
        ts: int,
        header: tuple[int, int],
        pid: int,
        base: int,
        size: int,
        path: str,
        system_mode: bool,
        signature: tuple[int, int],
    ) -> int: ...

    def registry(
        self,
        ts: int,
        header: tuple[int, int],
        pid: int,
        session: int,
        operation: str,
        key_path: str,
        value_name: str,
        data: tuple[int, int] | None,
        high_value: bool,
    ) -> int: ...

    def process(self, ts: int, header: tuple[int, int], fields: dict) -> int: ...

    def ti(self, ts: int, header: tuple[int, int], fields: dict) -> int: ...

    def detection(self, ts: int, header: tuple[int, int], raised: Raised) -> int: ...


class Driver:
    """The driver (and its controller) on one host."""

    def __init__(self, host: str, world: ProcessView, sink: Sink, *, loaded_us: int,
                 worker_frames: tuple[int, ...] = (), worker_tids: tuple[int, ...] = (212,),
                 handle_slots: tuple[int, int] = (HANDLE_WORK_LIMIT, HANDLE_SERVICE_US),
                 thread_slots: tuple[int, int] = (THREAD_WORK_LIMIT, THREAD_SERVICE_US)) -> None:  # fmt: skip
        self.host = host
        self.world = world
        self.sink = sink
        self.engine = HostEngine(host, table="driver", route="A", keep=False)
        self.intents = IntentStore()
        self.apc = ApcMonitor()
        self.deep = DeepCache()
        self.tamper = AntiTamper(loaded_us)
        self.handle_work = WorkSlots(*handle_slots)
        self.thread_work = WorkSlots(*thread_slots)
        self.worker_frames = worker_frames
        self._workers = cycle(worker_tids)
        self.sequence = 0  # IOCTL Header.Sequence of the one consuming client
        self.raised: deque[Raised] = deque()  # live detections in emission order, until drained
        self._classified: dict[tuple, Classification] = {}

    def drain(self, before_us: int | None = None) -> list[Raised]:
        """Take the live detections raised before `before_us` (all when None) off the driver.

        A detection is final once nothing later can add to its evidence (route A waits up to 1000 ms for the
        handle row of its operation), so drain with a margin of a few seconds behind the simulation's clock.
        """
        out = []
        raised = self.raised
        while raised and (before_us is None or raised[0].ts < before_us):
            out.append(raised.popleft())
        return out

    def _emit(self, raised: list[Raised], header: tuple[int, int]) -> None:
        for r in raised:
            r.live_event_id = self.sink.detection(r.ts, header, r)
            self.raised.append(r)

    def _work_item(self) -> tuple[int, int]:
        """Header of records written from a system work item (pid 4, a worker thread)."""
        return SYSTEM_PID, next(self._workers)

    # -- 3.1-3.3 handle pre-callback and work item ---------------------------------------------------------------

    def open_handle(self, ts: int, caller: int, caller_tid: int, target: int, access: int, frames: tuple[int, ...],
                    *, thread: bool = False, duplicate: bool = False, kernel_handle: bool = False) -> int | None:  # fmt: skip
        """A user-mode handle create/duplicate on a process or thread object; returns the HandleTelemetry's id."""
        if kernel_handle:
            return None
        flags = intent_flags(access, thread, duplicate)
        if not flags:
            return None
        self.intents.record(caller, target, access, flags, ts)  # before any queue-limit check
        if thread:
            kind = self.apc.check(caller, target, access, ts)
            if kind:
                eid = self.sink.apc(ts, (caller, caller_tid), caller, target, access, APC_CLASS[kind], duplicate)
                self._emit(self.engine.apc_row(eid, ts, caller, target, access, APC_CLASS[kind]), (caller, caller_tid))
        if not self.handle_work.take(ts):
            return None
        if not captures_stack(access, duplicate):
            frames = ()
        space = self.world.space(caller)
        cls = self._classify(caller, caller_tid, space, frames, "duplicate" if duplicate else
                             ("thread" if thread else "process"))  # fmt: skip
        deep_flags, sample = deep_sample(self.deep, space, caller, cls, ts)
        out_flags = cls.flags | deep_flags | (_MEMORY_RELATED if memory_related(access) else 0)
        out_flags |= (_THREAD_OBJECT if thread else 0) | (_DUPLICATE if duplicate else 0)
        self.sequence += 1
        header = self._work_item()
        eid = self.sink.handle(ts, header, caller, target, access, cls, out_flags, sample, thread, duplicate,
                               self.sequence)  # fmt: skip
        # The caller thread is always known in a pre-callback, so the TEB check ran and the flag-based anomaly of
        # the replay equals the driver's own `cls.anomaly`.
        self._emit(self.engine.handle(eid, ts, caller, target, access, cls.class_id, out_flags, thread), header)
        return eid

    def open_handles(self, ts: list[int], callers: list[int], targets: list[int], accesses: list[int],
                     kinds: list[str], flags: list[int] | None = None) -> tuple[list[bool], list[int], list[int]]:  # fmt: skip
        """The pre-callback and queue effects of many handle opens (kind `process`, `duplicate` or `thread`), as
        `open_handle` has them one by one, for opens that raise nothing by themselves; then `index_handles` with
        the published records' event ids. `flags`: each open's `intent_flags` when the caller has them. Returns
        (published, sequence numbers, work-item thread ids).

        The intent ring, the APC ring and the work queue do not read each other, so each takes the whole batch in
        turn, in the batch's order."""
        if flags is None:
            flags = [intent_flags(a, k == "thread", k == "duplicate") for a, k in zip(accesses, kinds, strict=True)]
        if all(flags):
            picked = None
            ts_f, callers_f, targets_f, accesses_f, kinds_f, flags_f = ts, callers, targets, accesses, kinds, flags
        else:  # an open with no intent is ignored altogether: no intent, no telemetry, no work item
            picked = [i for i, f in enumerate(flags) if f]
            ts_f, callers_f, targets_f, accesses_f, kinds_f, flags_f = (
                [column[i] for i in picked] for column in (ts, callers, targets, accesses, kinds, flags))  # fmt: skip
        self.intents.record_many(callers_f, targets_f, accesses_f, flags_f, ts_f)
        check = self.apc.check
        for t, caller, target, access, kind in zip(ts_f, callers_f, targets_f, accesses_f, kinds_f, strict=True):
            if kind == "thread" and access & _SET_CONTEXT and check(caller, target, access, t):
                raise ValueError("a thread open with SET_CONTEXT raises an APC event: use open_handle")
        taken = self.handle_work.take_many(ts_f)
        published = taken.count(True)
        sequences = list(range(self.sequence + 1, self.sequence + 1 + published))
        self.sequence += published
        workers = list(islice(self._workers, published))
        if picked is None:
            return taken, sequences, workers
        kept = [False] * len(ts)
        for i, ok in zip(picked, taken, strict=True):
            kept[i] = ok
        return kept, sequences, workers

    def index_handles(self, event_ids: list[int], ts: list[int], callers: list[int], targets: list[int],
                      accesses: list[int], classes: list[Classification]) -> None:  # fmt: skip
        """The work item's effects of the published records of `open_handles` (their classes raise nothing)."""
        for cls in {id(c): c for c in classes}.values():
            if cls.class_id == 2 or cls.deep_key is not None:
                raise ValueError("a DIRECT or deep-path stack raises detections: use open_handle")
        self.engine.handle_index_many(event_ids, ts, callers, targets, accesses)

    def _classify(self, caller: int, tid: int, space: object, frames: tuple[int, ...], kind: str) -> Classification:
        teb = self.world.teb_stack(caller, tid) if space is not None else None
        key = (getattr(space, "version", None), frames, kind, teb)
        cls = self._classified.get(key)
        if cls is None:
            if len(self._classified) > 65536:
                self._classified.clear()
            cls = self._classified[key] = classify(space, frames, kind=kind, teb=teb)  # type: ignore[arg-type]
        return cls

    # -- 3.5 thread monitor ---------------------------------------------------------------------------------------

    def create_thread(self, ts: int, pid: int, tid: int, creator: int, start: int) -> int | None:
        """A thread-create notification (non-System processes); returns the ThreadTelemetry's id."""
        if not self.thread_work.take(ts):
            return None
        space = self.world.space(pid)
        got_start = bool(start) and space is not None
        base, size = image_range(space, self.world.main_image_base(pid))
        got_range = bool(base and size)
        outside = got_start and got_range and outside_main_image(start, base, size)
        region, status = start_region(space, start if got_start else 0)
        start_exec = region is not None and is_exec(region.protect)
        actor, intent = resolve_actor(self.intents, creator, pid, ts)
        corr = (intent.flags, intent.access_mask, intent.age_ms) if intent is not None else (0, 0, 0)
        remote = actor != pid
        rec = ThreadRecord(pid=pid, tid=tid, actor=actor, start=start if got_start else 0, image_base=base,
                           image_size=size, got_start=got_start, got_range=got_range, remote=remote, outside=outside,
                           corr_flags=corr[0], corr_mask=corr[1], corr_age=corr[2],
                           start_protect=region.protect if region else 0, start_state=region.state if region else 0,
                           start_type=region.type if region else 0, start_status=status, start_exec=start_exec,
                           frames=self.worker_frames if (remote or outside or corr[0]) else (),
                           flags=thread_flags(got_start, got_range, remote, outside, corr[0], start_exec))  # fmt: skip
        self.sequence += 1
        header = self._work_item()
        eid = self.sink.thread(ts, header, rec, self.sequence)
        self._emit(self.engine.thread(eid, ts, actor, pid, True, got_start, start_exec, status, rec.start_type,
                                      rec.start_protect, outside, corr[0], corr[1], corr[2], base, size,
                                      rec.start), header)  # fmt: skip
        return eid

    # -- 3.7-3.10 ----------------------------------------------------------------------------------------------------

    def load_image(self, ts: int, pid: int, tid: int, base: int, size: int, path: str, *, system_mode: bool = False,
                   signature: tuple[int, int] = (12, 1)) -> int:  # fmt: skip
        """An image-load notification (ImageTelemetry, then the ntdll checks)."""
        header = (pid if not system_mode else SYSTEM_PID, tid)
        eid = self.sink.image(ts, header, 0 if system_mode else pid, base, size, path, system_mode, signature)
        self._emit(self.engine.image(eid, ts, 0 if system_mode else pid, path, system_mode), header)
        return eid

    def registry(self, ts: int, pid: int, tid: int, session: int, operation: str, key_path: str,
                 value_name: str = "", data: tuple[int, int] | None = None) -> int:  # fmt: skip
        """A registry callback (set/delete value, create/open key) in the acting thread."""
        from swk.kernel.model.registry import high_value_attack

        high = high_value_attack(key_path) is not None
        eid = self.sink.registry(ts, (pid, tid), pid, session, operation, key_path, value_name, data, high)
        self._emit(self.engine.registry(eid, ts, pid, key_path), (pid, tid))
        return eid

    def process(self, ts: int, header: tuple[int, int], fields: dict) -> int:
        """A process create or exit notification (ProcessTelemetry; no detections)."""
        return self.sink.process(ts, header, fields)

    def threat_intel(self, ts: int, header: tuple[int, int], fields: dict) -> int:
        """A Threat-Intelligence event on the controller's session (one controller step)."""
        eid = self.sink.ti(ts, header, fields)
        target = fields.get("target_pid")
        self._emit(self.engine.ti(eid, ts, fields.get("actor_pid"), target, fields.get("event_name"),
                                  fields.get("task"), fields.get("creation_flags"), fields.get("region_size"),
                                  fields.get("protect"), fields.get("old_protect")), header)  # fmt: skip
        return eid

    def tamper_check(self, ts: int, mask: int) -> int | None:
        """The anti-tamper timer's check with the integrity mask it computes; returns the detection's id if any."""
        rule = self.tamper.check(mask)
        if rule is None:
            return None
        corr = (mask, 0, 0) if mask else (0, 0, 0)
        raised = Raised(self.host, rule, ts, 0, SYSTEM_PID, 0, corr, [])
        header = self._work_item()
        raised.live_event_id = raised.trigger = self.sink.detection(ts, header, raised)
        raised.evidence = [(raised.trigger, ts)]
        self.raised.append(raised)
        return raised.trigger
