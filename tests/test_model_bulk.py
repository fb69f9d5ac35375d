"""The batch methods of the driver's work queue, intent ring and evidence index (the generator's bulk handle opens)
leave exactly the state their one-at-a-time rule leaves, on random batches that do and do not take the fast paths."""

from __future__ import annotations

import random

import pytest

from swk.kernel.model.evidence import HandleIndex
from swk.kernel.model.intents import RING, IntentStore
from swk.kernel.model.worker import WorkSlots


def _batches(rng: random.Random, count: int, largest: int, gap_us: int) -> list[list[int]]:
    """Ascending times cut into batches of random size (bursts and quiet stretches)."""
    now, out = 0, []
    for _ in range(count):
        times = []
        for _ in range(rng.randrange(largest + 1)):
            now += rng.choice((0, 1, rng.randrange(gap_us)))
            times.append(now)
        out.append(times)
        now += rng.randrange(gap_us * 50)
    return out


@pytest.mark.parametrize("limit, service", [(2048, 20), (3, 2000), (8, 30), (5, 0)])
def test_work_slots_take_many_is_take_one_by_one(limit, service):
    rng = random.Random(limit * 7 + service)
    bulk, single = WorkSlots(limit, service), WorkSlots(limit, service)
    fast = 0
    for times in _batches(rng, 400, min(40, limit + 2), 60):
        fast += bool(times) and len(bulk._done_at) + len(times) <= limit
        assert bulk.take_many(times) == [single.take(t) for t in times]
        assert bulk._done_at == single._done_at
        assert bulk.dropped == single.dropped
    assert fast  # the fast path ran


def test_work_slots_take_many_out_of_order_is_take_one_by_one():
    bulk, single = WorkSlots(16, 50), WorkSlots(16, 50)
    for times in ([100, 90, 95], [300, 300, 120, 400], [500]):
        assert bulk.take_many(times) == [single.take(t) for t in times]
        assert bulk._done_at == single._done_at


def _ring_state(store: IntentStore) -> tuple:
    return (store.writes, store._caller, store._target, store._access, store._flags, store._ts, store._by_pair,
            store._by_target)  # fmt: skip


def test_intent_record_many_is_record_one_by_one():
    rng = random.Random(4)
    bulk, single = IntentStore(), IntentStore()
    # batch sizes up to past the ring, so some batches wrap it, some cross a compaction and some exceed it
    for times in _batches(rng, 600, RING + 40, 3000):
        n = len(times)
        callers = [rng.choice((4, 8, 12, 16)) for _ in range(n)]
        targets = [rng.choice((8, 12, 20, 24, 28)) for _ in range(n)]
        accesses = [rng.choice((0x1000, 0x1410, 0x1FFFFF, 0x0A)) for _ in range(n)]
        flags = [rng.choice((1, 2, 4, 5)) for _ in range(n)]
        bulk.record_many(callers, targets, accesses, flags, times)
        for row in zip(callers, targets, accesses, flags, times, strict=True):
            single.record(*row)
        assert _ring_state(bulk) == _ring_state(single)
        now = (times[-1] if times else 0) + rng.randrange(6_000_000)
        for target in (8, 12, 20):
            assert bulk.query(4, target, now) == single.query(4, target, now)
            assert bulk.query_for_target(target, now) == single.query_for_target(target, now)
    assert single.writes > 4 * 4096


def test_intent_record_many_refuses_columns_of_different_lengths():
    with pytest.raises(ValueError):
        IntentStore().record_many([4, 8], [8, 12], [1, 1], [1, 1], [0])


def test_handle_index_add_many_is_add_one_by_one():
    rng = random.Random(9)
    bulk, single = HandleIndex(), HandleIndex()
    eid = 0
    # gaps of up to ~2.5 s per row: some batches stay in one 5001 ms bucket, others span two or three
    for times in _batches(rng, 500, 30, 250_000):
        n = len(times)
        actors = [rng.choice((4, 8, 12)) for _ in range(n)]
        targets = [rng.choice((8, 12, 20, 24)) for _ in range(n)]
        eids = list(range(eid, eid + n))
        eid += n
        bulk.add_many(actors, targets, eids, times)
        for row in zip(actors, targets, eids, times, strict=True):
            single.add(*row)
        assert (bulk._epoch, bulk._current, bulk._previous) == (single._epoch, single._current, single._previous)
        if times:
            assert bulk.intents(4, 8, times[-1]) == single.intents(4, 8, times[-1])
