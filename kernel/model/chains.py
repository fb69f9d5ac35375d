"""Mark-chain entry tables: per key (the reconstruction semantics) and the driver's exact 256-slot table.

The driver (spec 3.6, and the controller in 3.11) looks an (actor, target) key up by walking 256 slots in index
order and stopping at the first slot that is inactive (new entry), holds the key (returned), or is stale, idle for
more than 60000 ms (taken over for the new key). When the walk ends without a stop, the slot with the oldest
LastSeen is reused (lowest index on a tie). A taken-over or reused slot is zeroed with FirstSeen = LastSeen = now.
[Q] A stale slot below the key's own entry is taken over first, creating a fresh duplicate entry for the key and
orphaning the old one's marks. `DriverTable` reproduces that walk with heaps instead of a linear scan;
`PerKeyTable` is the unbounded table the evidence supports (docs/detections.md section 4).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Hashable

from swk.kernel.model.timing import STALE_MS, within_us

DRIVER_SLOTS = 256


class Entry:
    """One chain entry: accumulated marks and corr values of the current window, emission times, evidence."""

    __slots__ = ("age", "evidence", "first_seen", "flags", "key", "last_medium", "last_seen", "last_strong", "marks",
                 "mask", "slot", "version")  # fmt: skip

    def __init__(self, key: Hashable, now_us: int, slot: int = -1) -> None:
        self.key = key
        self.slot = slot
        self.version = 0
        self.first_seen = self.last_seen = now_us
        self.last_strong: int | None = None
        self.last_medium: int | None = None
        self.reset_window(now_us)

    def reset_window(self, now_us: int) -> None:
        """Start a new window at `now_us` (marks and accumulated corr cleared; emission times kept)."""
        self.first_seen = now_us
        self.marks = 0
        self.flags: int | None = None  # OR of the window's non-NULL values; NULL while all were NULL
        self.mask: int | None = None
        self.age: int | None = None  # last non-zero age; 0 if only zeros were known
        self.evidence: dict[int, int] = {}  # event_id -> ts of the window's rows and their intents


class PerKeyTable:
    """One entry per key, never evicted."""

    def __init__(self) -> None:
        self.entries: dict[Hashable, Entry] = {}

    def get(self, key: Hashable, now_us: int) -> Entry:
        """The key's entry (created with FirstSeen = now), with LastSeen = now."""
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = Entry(key, now_us)
        entry.last_seen = now_us
        return entry


class DriverTable:
    """The driver's 256-slot table, walk for walk (see the module docstring)."""

    def __init__(self, size: int = DRIVER_SLOTS, stale_ms: int = STALE_MS) -> None:
        self.size = size
        self.slots: list[Entry | None] = [None] * size
        self.active = 0  # slots are never freed, so the active ones are always a prefix
        self.stale_gap = within_us(stale_ms)  # now - LastSeen >= gap  <=>  ms(LastSeen, now) > stale_ms
        self.key_slots: dict[Hashable, list[int]] = {}
        self._by_last: list[tuple[int, int, int]] = []  # (LastSeen, slot, version), lazily invalidated
        self._stale: list[tuple[int, int]] = []  # (slot, version) of slots found stale
        self.takeovers = 0
        self.evictions = 0

    def get(self, key: Hashable, now_us: int) -> Entry:
        """The entry the driver's walk yields for `key` at `now_us`, with LastSeen = now."""
        self._promote_stale(now_us)
        stale = self._first_stale()
        slots = self.key_slots.get(key)
        own = slots[0] if slots else None
        if own is not None and (stale is None or own <= stale):
            entry = self.slots[own]
            assert entry is not None
            self._touch(entry, now_us)
            return entry
        if stale is not None:
            heapq.heappop(self._stale)
            self.takeovers += 1
            return self._reset(stale, key, now_us)
        if self.active < self.size:
            self.active += 1
            return self._reset(self.active - 1, key, now_us)
        self.evictions += 1
        return self._reset(self._oldest(), key, now_us)

    def _promote_stale(self, now_us: int) -> None:
        limit = now_us - self.stale_gap
        heap = self._by_last
        while heap and heap[0][0] <= limit:
            _, slot, version = heapq.heappop(heap)
            entry = self.slots[slot]
            if entry is not None and entry.version == version:
                heapq.heappush(self._stale, (slot, version))

    def _first_stale(self) -> int | None:
        heap = self._stale
        while heap:
            slot, version = heap[0]
            entry = self.slots[slot]
            if entry is not None and entry.version == version:
                return slot
            heapq.heappop(heap)
        return None

    def _oldest(self) -> int:
        heap = self._by_last
        while True:
            _, slot, version = heap[0]
            entry = self.slots[slot]
            if entry is not None and entry.version == version:
                return slot
            heapq.heappop(heap)

    def _touch(self, entry: Entry, now_us: int) -> None:
        entry.last_seen = now_us
        entry.version += 1
        heapq.heappush(self._by_last, (now_us, entry.slot, entry.version))
        if len(self._by_last) > 8 * self.size:
            self._rebuild()

    def _reset(self, slot: int, key: Hashable, now_us: int) -> Entry:
        old = self.slots[slot]
        version = 0
        if old is not None:
            holders = self.key_slots[old.key]
            holders.remove(slot)
            if not holders:
                del self.key_slots[old.key]
            version = old.version + 1
        entry = Entry(key, now_us, slot)
        entry.version = version
        self.slots[slot] = entry
        bisect.insort(self.key_slots.setdefault(key, []), slot)
        heapq.heappush(self._by_last, (now_us, slot, version))
        return entry

    def _rebuild(self) -> None:
        """Drop invalidated heap items (stale slots are found again by the next walk)."""
        self._by_last = [(e.last_seen, e.slot, e.version) for e in self.slots if e is not None]
        heapq.heapify(self._by_last)
        self._stale = []


def make_table(table: str) -> PerKeyTable | DriverTable:
    """`per-key` or `driver`."""
    if table == "per-key":
        return PerKeyTable()
    if table == "driver":
        return DriverTable()
    raise ValueError(f"table must be 'per-key' or 'driver', not {table!r}")
