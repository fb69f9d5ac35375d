"""APC monitor (spec 3.3) and its two replay routes (docs/detections.md section 2)."""

from __future__ import annotations

from swk.kernel.model import analyze, rowkit
from swk.kernel.model.apc import REMOTE_APC, THREAD_HIJACK, ApcMonitor, ApcRing, KeyedCooldown, apc_kind

MS = 1000
SET_CONTEXT, SUSPEND = 0x10, 0x2


def test_kind_of_a_thread_open():
    assert apc_kind(100, 200, SET_CONTEXT) == REMOTE_APC
    assert apc_kind(100, 200, SET_CONTEXT | SUSPEND | 0x8) == THREAD_HIJACK
    assert apc_kind(100, 200, 0x1FFFFF) == THREAD_HIJACK  # THREAD_ALL_ACCESS holds both bits
    assert apc_kind(100, 200, 0x8) == 0 and apc_kind(100, 200, SUSPEND) == 0  # GET_CONTEXT or SUSPEND alone
    assert apc_kind(200, 200, SET_CONTEXT) == 0  # self-opens are skipped


def test_cooldown_edges_1999_2000_2001():
    # "suppressed if a matching entry is younger than 2000 ms"
    for cooldown in (ApcRing(), KeyedCooldown()):
        assert cooldown.allow(100, 200, REMOTE_APC, 0)
        assert not cooldown.allow(100, 200, REMOTE_APC, 1999 * MS + 999)
        assert cooldown.allow(100, 200, THREAD_HIJACK, 1)  # another kind is another key
        assert cooldown.allow(100, 200, REMOTE_APC, 2000 * MS)
        assert not cooldown.allow(100, 200, REMOTE_APC, 2001 * MS)  # the allowed event restarted the cooldown


def test_q_unkeyed_ring_ends_a_cooldown_early():
    # 64 other allowed events overwrite the round-robin slot that held the pair's entry
    ring, keyed = ApcRing(), KeyedCooldown()
    for cooldown in (ring, keyed):
        cooldown.allow(100, 200, REMOTE_APC, 0)
        for other in range(64):
            cooldown.allow(1000 + 4 * other, 200, REMOTE_APC, 10)
    assert ring.allow(100, 200, REMOTE_APC, 20)
    assert not keyed.allow(100, 200, REMOTE_APC, 20)


def test_monitor_combines_kind_and_ring():
    monitor = ApcMonitor()
    assert monitor.check(100, 200, SET_CONTEXT, 0) == REMOTE_APC
    assert monitor.check(100, 200, SET_CONTEXT, 10) == 0


def test_route_a_detection_and_its_handle_row():
    # trigger: an apc row; evidence: + the first later handle row of the same (actor, target, access) within 1000 ms
    rows = [rowkit.handle(1, 0, 100, 200, SET_CONTEXT, is_thread_object=True),  # same µs, but before: not taken
            rowkit.apc(2, 0, 100, 200, SET_CONTEXT, "REMOTE_APC_INTENT"),
            rowkit.handle(3, 0, 100, 200, SET_CONTEXT | SUSPEND, is_thread_object=True),  # another mask
            rowkit.handle(4, 1000.999, 100, 200, SET_CONTEXT, is_thread_object=True),
            rowkit.handle(5, 1000.999, 100, 200, SET_CONTEXT, is_thread_object=True)]  # fmt: skip
    out = analyze(rows)
    assert [(d.rule, d.evidence, d.trigger_event_id) for d in out] == [("REMOTE_APC_CREATION_SUSPECT", (2, 4), 2)]
    assert (out[0].corr_flags, out[0].corr_access_mask, out[0].corr_age_ms) == (0, SET_CONTEXT, 0)
    late = [rowkit.apc(1, 0, 100, 200, 0x1A, "THREAD_CONTEXT_INTENT"),
            rowkit.handle(2, 1001, 100, 200, 0x1A, is_thread_object=True)]  # fmt: skip
    assert [(d.rule, d.evidence) for d in analyze(late)] == [("THREAD_HIJACK_INTENT/apc", (1,))]


def test_route_b_on_a_host_without_apc_rows():
    # trigger: a thread-object handle row, remote, with SET_CONTEXT; kind 2 with SUSPEND_RESUME; 2000 ms cooldown
    rows = [
        rowkit.handle(1, 0, 100, 200, SET_CONTEXT, is_thread_object=True),
        rowkit.handle(2, 1999, 100, 200, SET_CONTEXT, is_thread_object=True),
        rowkit.handle(3, 2000, 100, 200, SET_CONTEXT, is_thread_object=True),
        rowkit.handle(4, 2500, 100, 200, 0x1A, is_thread_object=True),
        rowkit.handle(5, 2600, 100, 200, SET_CONTEXT, is_thread_object=False),  # a process handle
        rowkit.handle(6, 2700, 200, 200, SET_CONTEXT, is_thread_object=True),  # self
        rowkit.handle(7, 2800, 100, 300, 0x8, is_thread_object=True),
    ]  # no SET_CONTEXT
    out = analyze(rows)
    assert [(d.rule, d.trigger_event_id) for d in out] == [
        ("REMOTE_APC_CREATION_SUSPECT", 1),
        ("REMOTE_APC_CREATION_SUSPECT", 3),
        ("THREAD_HIJACK_INTENT/apc", 4),
    ]


def test_route_is_chosen_per_host():
    # host A has an apc row, so its thread-object handle rows are not a second source; host B has none
    rows = [rowkit.handle(1, 0, 100, 200, SET_CONTEXT, is_thread_object=True, host="A"),
            rowkit.handle(2, 0, 100, 200, SET_CONTEXT, is_thread_object=True, host="B"),
            rowkit.apc(3, 5000, 100, 300, SET_CONTEXT, "REMOTE_APC_INTENT", host="A")]  # fmt: skip
    out = analyze(rows)
    assert sorted((d.host, d.trigger_event_id) for d in out) == [("A", 3), ("B", 2)]


def test_route_b_driver_table_uses_the_unkeyed_ring():
    rows = [rowkit.handle(1, 0, 100, 200, SET_CONTEXT, is_thread_object=True)]
    rows += [rowkit.handle(2 + i, 1, 1000 + 4 * i, 200, SET_CONTEXT, is_thread_object=True) for i in range(64)]
    rows.append(rowkit.handle(100, 2, 100, 200, SET_CONTEXT, is_thread_object=True))
    per_key = [d.trigger_event_id for d in analyze(rows) if d.actor_pid == 100]
    driver = [d.trigger_event_id for d in analyze(rows, table="driver") if d.actor_pid == 100]
    assert per_key == [1] and driver == [1, 100]
