"""Kernel mark chain (spec 3.6; docs/detections.md section 4) over the per-key table and the driver's 256 slots."""

from __future__ import annotations

import random

import pytest

from swk.kernel.model import analyze, rowkit
from swk.kernel.model.chains import DriverTable
from swk.kernel.model.timing import within_us

MEM, CTX, DUP = 1, 2, 4
MEDIUM, STRONG = "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"


def chain(rows, **kw):
    return [(d.rule, d.trigger_event_id) for d in analyze(rows, **kw) if "MARK_CHAIN" in d.rule]


def test_medium_and_strong():
    # medium = REMOTE & suspicious & (MEMORY | CTX | DUP); strong = REMOTE & suspicious & MEMORY & (CTX | DUP)
    assert chain([rowkit.thread(1, 0, 100, 200, MEM)]) == [(MEDIUM, 1)]
    assert chain([rowkit.thread(1, 0, 100, 200, CTX)]) == [(MEDIUM, 1)]
    assert chain([rowkit.thread(1, 0, 100, 200, MEM | DUP)]) == [(STRONG, 1)]
    assert chain([rowkit.thread(1, 0, 100, 200, 0)]) == []  # REMOTE and OUTSIDE but no intent mark
    assert chain([rowkit.thread(1, 0, 100, 200, MEM, outside_main_image=False)]) == []  # not suspicious
    assert chain([rowkit.thread(1, 0, 200, 200, MEM | CTX)]) == []  # not remote


def test_marks_accumulate_across_rows_of_the_key():
    rows = [rowkit.thread(1, 0, 100, 200, MEM), rowkit.thread(2, 10, 100, 200, CTX, outside_main_image=False)]
    assert chain(rows) == [(MEDIUM, 1), (STRONG, 2)]  # row 2 alone is not suspicious; the entry is


@pytest.mark.parametrize(("gap_ms", "again"), [(2999, False), (2999.999, False), (3000, True), (3001, True)])
def test_kernel_cooldown_is_greater_or_equal_3000(gap_ms, again):
    rows = [rowkit.thread(1, 0, 100, 200, MEM), rowkit.thread(2, gap_ms, 100, 200, MEM)]
    assert chain(rows) == [(MEDIUM, 1)] + ([(MEDIUM, 2)] if again else [])


def test_medium_while_strong_cools_down():
    rows = [rowkit.thread(1, 0, 100, 200, MEM | CTX), rowkit.thread(2, 1000, 100, 200, MEM)]
    assert chain(rows) == [(STRONG, 1), (MEDIUM, 2)]


@pytest.mark.parametrize(("gap_ms", "reset"), [(29999, False), (30000, False), (30000.999, False), (30001, True)])
def test_q_window_reset_loses_the_triggering_marks(gap_ms, reset):
    # "If now - FirstSeen > 30000: reset ... and return without emitting" [Q]: the row's own marks are lost
    rows = [rowkit.thread(1, 0, 100, 200, 0), rowkit.thread(2, gap_ms, 100, 200, MEM),
            rowkit.thread(3, gap_ms + 1, 100, 200, 0)]  # fmt: skip
    assert chain(rows) == ([] if reset else [(MEDIUM, 2)])


def test_chain_corr_and_evidence_are_the_windows():
    rows = [rowkit.handle(1, 0, 100, 200, 0x1000), rowkit.thread(2, 1, 100, 200, MEM, corr_access_mask=0x1000,
                                                                corr_age_ms=1),
            rowkit.thread(3, 31000, 100, 200, 0), rowkit.handle(4, 31001, 100, 200, 0x0010),  # row 3 resets
            rowkit.thread(5, 31002, 100, 200, MEM, corr_access_mask=0x10, corr_age_ms=0),
            rowkit.thread(6, 34003, 100, 200, CTX, corr_access_mask=None, corr_age_ms=None)]  # fmt: skip
    out = [d for d in analyze(rows) if "MARK_CHAIN" in d.rule]
    assert [(d.rule, d.evidence) for d in out] == [(MEDIUM, (1, 2)), (MEDIUM, (4, 5)), (STRONG, (4, 5, 6))]
    assert (out[1].corr_flags, out[1].corr_access_mask, out[1].corr_age_ms) == (1, 0x10, 0)  # age known, only zero
    assert (out[2].corr_flags, out[2].corr_access_mask, out[2].corr_age_ms) == (3, 0x10, 0)  # NULLs ignored


def test_null_corr_in_every_row_gives_null_mask_and_age():
    out = [d for d in analyze([rowkit.thread(1, 0, 100, 200, MEM, corr_access_mask=None, corr_age_ms=None)])
           if d.rule == MEDIUM]  # fmt: skip
    assert (out[0].corr_flags, out[0].corr_access_mask, out[0].corr_age_ms) == (1, None, None)


def test_actor_zero_is_replaced_by_the_target_and_target_zero_does_nothing():
    # the rows' own rule 1 needs actor != target; the chain keys (0, 200) as (200, 200)
    out = [d for d in analyze([rowkit.thread(1, 0, 0, 200, MEM)]) if "MARK_CHAIN" in d.rule]
    assert [(d.actor_pid, d.target_pid) for d in out] == [(200, 200)]
    assert chain([rowkit.thread(1, 0, 100, 0, MEM)]) == []


def test_q_stale_slot_below_the_keys_entry_is_taken_over():
    # [Q] driver table: a stale entry at a lower slot than the key's own is taken over, orphaning the old entry
    rows = [
        rowkit.thread(1, 0, 300, 400, MEM),  # key (300, 400) takes slot 0
        rowkit.thread(2, 1, 100, 200, MEM),  # key (100, 200) takes slot 1
        rowkit.thread(3, 61000, 100, 200, MEM),
    ]  # both stale; slot 0 is walked first
    mine = lambda out: [t for r, t in out if t != 1]  # noqa: E731
    assert mine(chain(rows)) == [2]  # per-key: the entry's window is 61 s old, so row 3 resets it
    assert mine(chain(rows, table="driver")) == [2, 3]  # driver: a fresh duplicate entry emits again


def test_driver_table_evicts_the_oldest_entry():
    rows = [rowkit.thread(1 + i, i, 1000 + 4 * i, 200, MEM) for i in range(256)]  # 256 keys fill the table
    rows += [
        rowkit.thread(300, 300, 5000, 200, MEM),  # evicts the oldest (key of row 1)
        rowkit.thread(301, 400, 1000, 200, MEM),
    ]  # row 1's key again: a new entry, its cooldown forgotten
    assert (MEDIUM, 301) not in chain(rows)
    assert (MEDIUM, 301) in chain(rows, table="driver")


def naive_lookup(slots: list, key: tuple, now: int, gap: int) -> tuple[int, str]:
    """The driver's walk as the spec writes it: (slot, what happened)."""
    oldest = None
    for i, entry in enumerate(slots):
        if entry is None:
            return i, "new"
        if entry[0] == key:
            return i, "found"
        if now - entry[1] >= gap:
            return i, "takeover"
        if oldest is None or entry[1] < slots[oldest][1]:
            oldest = i
    return oldest, "reuse"


@pytest.mark.parametrize("seed", range(6))
def test_driver_table_walks_like_a_linear_scan(seed):
    rng = random.Random(seed)
    size, gap = 16, within_us(60000)
    table = DriverTable(size=size)
    slots: list = [None] * size
    now = 0
    for _ in range(3000):
        now += rng.choice((0, 10, 1000, 5_000_000, 20_000_000))
        key = (rng.randrange(24), 1)
        slot, _ = naive_lookup(slots, key, now, gap)
        slots[slot] = (key, now)
        entry = table.get(key, now)
        assert entry.slot == slot and entry.key == key
