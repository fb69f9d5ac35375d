"""Intent store (spec 3.4) and thread actor resolution (spec 3.5)."""

from __future__ import annotations

from swk.kernel.model.intents import RING, IntentStore
from swk.kernel.model.memory import Region
from swk.kernel.model.threads import image_range, outside_main_image, resolve_actor

MS = 1000


def test_query_aggregates_the_pair_within_5000_ms():
    store = IntentStore()
    store.record(100, 200, 0x1000, 1, 0)
    store.record(100, 200, 0x0010, 2, 2000 * MS)
    store.record(300, 200, 0x1FFFFF, 1, 2500 * MS)
    found = store.query(100, 200, 4000 * MS)
    assert (found.flags, found.access_mask, found.age_ms) == (3, 0x1010, 2000)  # age of the newest entry
    # age <= 5000 keeps an entry; 5000.999 ms truncates to 5000 and still counts; 5001 does not
    assert store.query(100, 200, 5000 * MS + 999).flags == 3
    assert store.query(100, 200, 5001 * MS).flags == 2
    assert store.query(100, 200, 7001 * MS) is None


def test_ring_keeps_only_the_last_256_writes():
    store = IntentStore()
    store.record(100, 200, 0x1000, 1, 0)
    for i in range(RING - 1):
        store.record(7, 8, 0x1000, 1, i)
    assert store.query(100, 200, 1000) is not None
    store.record(7, 8, 0x1000, 1, 1000)  # the 257th write overwrites the oldest entry
    assert store.query(100, 200, 1000) is None


def test_for_target_prefers_an_external_caller_then_aggregates_it():
    store = IntentStore()
    store.record(300, 200, 0x1000, 1, 0)
    store.record(300, 200, 0x0008, 1, 10)
    store.record(200, 200, 0x1FFFFF, 1, 20)  # a self-open, newest
    found = store.query_for_target(200, 30)
    assert (found.caller, found.access_mask) == (300, 0x1008)
    assert store.query_for_target(200, 30, prefer_external=False).caller == 200
    store2 = IntentStore()
    store2.record(200, 200, 0x1000, 1, 0)
    assert store2.query_for_target(200, 10).caller == 200  # no external caller: the newest entry's


def test_q_self_thread_reported_remote():
    # [Q] the creator (the process itself) has no intent on itself; an external opener within 5 s replaces the actor
    store = IntentStore()
    store.record(612, 4000, 0x1000, 1, 0)  # e.g. a service querying the process
    actor, intent = resolve_actor(store, 4000, 4000, 3000 * MS)
    assert actor == 612 and intent.flags == 1
    actor, intent = resolve_actor(store, 4000, 4000, 5001 * MS)  # outside the window: the creator stays
    assert actor == 4000 and intent is None
    store.record(4000, 4000, 0x1000, 1, 100)  # with a self-open on record, the creator keeps the thread
    assert resolve_actor(store, 4000, 4000, 3000 * MS)[0] == 4000


def test_creator_zero_means_the_process_itself():
    assert resolve_actor(IntentStore(), 0, 4000, 0) == (4000, None)


def test_q_image_size_is_the_header_page():
    # [Q] ImageSize = RegionSize of the first region at the base (the PE header page), so a start in .text is outside
    base = 0x7FF6_C0DE_0000

    class Space:
        def query(self, address):
            return Region(base, base + 0x1000, base, 0x02, 0x1000, 0x1000000) if address < base + 0x1000 else None

    assert image_range(Space(), base) == (base, 0x1000)
    assert outside_main_image(base + 0x1A2B0, base, 0x1000)
    assert not outside_main_image(base + 0x800, base, 0x1000)
    assert not outside_main_image(0, base, 0x1000)  # unknown start: not outside
    assert outside_main_image(0xFFFF_FFFF_FFFF_F000, 0xFFFF_FFFF_FFFF_F000, 0x2000)  # end overflows 2**64
