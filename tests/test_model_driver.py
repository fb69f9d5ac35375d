"""The forward driver (spec 3.1-3.5): what it records, in which order, and what a burst drops."""

from __future__ import annotations

import pytest

from swk.capture.simulate.sim import Simulation
from swk.capture.simulate.world import build
from swk.kernel.abi import HandleFlag
from swk.kernel.model.driver import Driver
from swk.kernel.model.worker import HANDLE_WORK_LIMIT, THREAD_WORK_LIMIT, WorkSlots

T0 = 1_772_442_000_000_000


class ListSink:
    """Records what the driver emits, as (family, details)."""

    def __init__(self) -> None:
        self.records: list[tuple] = []

    def _add(self, *record: object) -> int:
        self.records.append(record)
        return len(self.records)

    def handle(self, ts, header, caller, target, access, cls, flags, sample, is_thread, is_dup, seq):
        return self._add("handle", caller, target, flags, seq, header)

    def apc(self, ts, header, caller, target, access, class_name, is_dup):
        return self._add("apc", caller, target, class_name, header)

    def thread(self, ts, header, rec, seq):
        return self._add("thread", rec.actor, rec.pid, rec.corr_flags, rec.frames, seq)

    def image(self, ts, header, pid, base, size, path, system_mode, signature):
        return self._add("image", pid, path)

    def registry(self, ts, header, pid, session, op, key, value, data, high):
        return self._add("registry", pid, key, high)

    def process(self, ts, header, fields):
        return self._add("process", fields["target_pid"])

    def ti(self, ts, header, fields):
        return self._add("ti", fields["event_name"])

    def detection(self, ts, header, raised):
        return self._add("detection", raised.rule, header)


@pytest.fixture
def world():
    sim = Simulation("H", 7, T0, T0 - 10**10, lambda batch: None)
    return sim, build(sim)


def driver(sim, **kw):
    sink = ListSink()
    return Driver("H", sim.host, sink, loaded_us=T0, worker_frames=sim.host.worker_frames, **kw), sink


def test_apc_records_precede_the_handle_telemetry_of_the_same_open(world):
    sim, base = world
    drv, sink = driver(sim)
    tid = base.defender.threads[0].tid
    drv.open_handle(T0, base.defender.pid, tid, base.explorer.pid, 0x1A, sim.frames(base.defender, "OpenThread"),
                    thread=True)  # fmt: skip
    assert [r[0] for r in sink.records] == ["apc", "detection", "handle"]
    assert sink.records[0][4] == (base.defender.pid, tid)  # written in the pre-callback, in the caller's context
    assert sink.records[1][1] == "THREAD_HIJACK_INTENT/apc"
    flags = sink.records[2][3]
    assert flags & HandleFlag.THREAD_OBJECT and flags & HandleFlag.MEMORY_RELATED  # [Q] MEMORY_RELATED on a thread
    assert sink.records[2][5][0] == 4  # the work item runs in System


def test_a_caller_thread_without_a_sane_teb_makes_the_open_direct(world):
    sim, base = world
    drv, sink = driver(sim)
    drv.open_handle(T0, base.defender.pid, 4, base.explorer.pid, 0x1000, sim.frames(base.defender, "OpenProcess"))
    assert [r[1] for r in sink.records if r[0] == "detection"] == [
        "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION",
        "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP",
    ]


def test_default_work_slot_limits():
    assert (HANDLE_WORK_LIMIT, THREAD_WORK_LIMIT) == (2048, 4096)
    slots = WorkSlots(2048, 20)
    assert all(slots.take(0) for _ in range(2048))
    assert not slots.take(0) and slots.dropped == 1
    assert slots.take(20)  # the first item finished


def test_burst_drops_telemetry_but_keeps_intents(world):
    sim, base = world
    drv, sink = driver(sim, handle_slots=(4, 1000))
    target = base.user[0]
    for i in range(6):  # a burst of six opens within 6 µs: four slots, two silent drops
        caller = base.svchosts[i]
        drv.open_handle(
            T0 + i, caller.pid, caller.threads[0].tid, target.pid, 0x1000, sim.frames(caller, "OpenProcess")
        )
    handles = [r for r in sink.records if r[0] == "handle"]
    assert len(handles) == 4 and [r[4] for r in handles] == [1, 2, 3, 4] and drv.handle_work.dropped == 2
    # the dropped open of svchosts[5] still left its intent: a self-created thread is resolved to it [Q]
    drv.create_thread(T0 + 10, target.pid, 5000, target.pid, sim.host.bases[next(iter(sim.host.bases))] + 0x10)
    thread = next(r for r in sink.records if r[0] == "thread")
    assert thread[1] == base.svchosts[5].pid and thread[3] == 1


def test_q_worker_frames_only_for_remote_outside_or_correlated_threads(world):
    sim, base = world
    drv, sink = driver(sim)
    proc = base.user[1]
    drv.create_thread(T0, proc.pid, 5000, proc.pid, proc.exe.base + 0x800)  # inside the header page, local
    drv.create_thread(T0 + 1, proc.pid, 5004, proc.pid, proc.exe.base + 0x1A2B0)  # .text: "outside" [Q]
    frames = [r[4] for r in sink.records if r[0] == "thread"]
    assert frames[0] == () and frames[1] == sim.host.worker_frames
    assert all(f >= 0xFFFF_0000_0000_0000 for f in frames[1])  # kernel frames of the analysing worker [Q]


def test_tamper_check_records_its_detection(world):
    sim, _ = world
    drv, sink = driver(sim)
    assert drv.tamper_check(T0 + 5_000_000, 0) is None
    eid = drv.tamper_check(T0 + 10_000_000, 0x101)
    assert sink.records[-1][1] == "DRIVER_DISPATCH_OR_OBJECT_TAMPER" and drv.raised[-1].corr == (0x101, 0, 0)
    assert drv.raised[-1].trigger == drv.raised[-1].live_event_id == eid
