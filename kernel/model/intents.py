"""The intent store (spec 3.4): a 256-entry ring of handle intents, written round-robin, never keyed or cleared.

Entries are (caller, target, access, flags, time); self-opens are recorded too. A query sees exactly the entries the
ring still holds, i.e. the last 256 writes. Scanning 256 entries per thread event is what the driver does; the model
keeps per-pair and per-target lists of write serials beside the ring (appended to, and rebuilt from the ring every
4096 writes) so a query touches only the entries that can match, with the same answer (a serial older than
`writes - 256` has been overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass

from swk.kernel.model.timing import INTENT_WINDOW_MS, ms

RING = 256
_COMPACT_EVERY = 4096


@dataclass(frozen=True, slots=True)
class Intent:
    """An aggregated answer: the caller it is about, OR of flags, OR of access masks, age of the newest (ms)."""

    caller: int
    flags: int
    access_mask: int
    age_ms: int


class IntentStore:
    """The ring and its two query kinds."""

    def __init__(self) -> None:
        self._caller = [0] * RING
        self._target = [0] * RING
        self._access = [0] * RING
        self._flags = [0] * RING
        self._ts = [0] * RING
        self.writes = 0
        self._by_pair: dict[tuple[int, int], list[int]] = {}
        self._by_target: dict[int, list[int]] = {}

    def record(self, caller: int, target: int, access: int, flags: int, now_us: int) -> None:
        """Write an intent into the next slot (overwriting the oldest)."""
        serial = self.writes
        slot = serial % RING
        self._caller[slot], self._target[slot], self._access[slot] = caller, target, access
        self._flags[slot], self._ts[slot] = flags, now_us
        self.writes = serial + 1
        # append-only between compactions: a query stops at the first overwritten serial anyway
        pairs = self._by_pair.get((caller, target))
        if pairs is None:
            self._by_pair[(caller, target)] = [serial]
        else:
            pairs.append(serial)
        targets = self._by_target.get(target)
        if targets is None:
            self._by_target[target] = [serial]
        else:
            targets.append(serial)
        if self.writes % _COMPACT_EVERY == 0:
            self._compact()

    def record_many(self, callers: list[int], targets: list[int], accesses: list[int], flags: list[int],
                    times: list[int]) -> None:  # fmt: skip
        """`record` of each write in turn (the generator's bulk handle opens)."""
        first, n = self.writes, len(callers)
        if (
            n > RING
            or (first + n) // _COMPACT_EVERY != first // _COMPACT_EVERY
            or not (n == len(targets) == len(accesses) == len(flags) == len(times))
        ):
            record = self.record
            for caller, target, access, flag, now_us in zip(callers, targets, accesses, flags, times, strict=True):
                record(caller, target, access, flag, now_us)
            return
        # No compaction falls inside the batch and no slot is written twice, so the ring takes the batch as one or
        # two slice assignments and the indexes the batch's serials in order, as `record` would one by one.
        slot = first % RING
        head = min(n, RING - slot)
        for ring, values in ((self._caller, callers), (self._target, targets), (self._access, accesses),
                             (self._flags, flags), (self._ts, times)):  # fmt: skip
            ring[slot : slot + head] = values[:head]
            ring[: n - head] = values[head:]
        self.writes = first + n
        by_pair, by_target = self._by_pair, self._by_target
        for serial, caller, target in zip(range(first, first + n), callers, targets, strict=True):
            pairs = by_pair.get((caller, target))
            if pairs is None:
                by_pair[(caller, target)] = [serial]
            else:
                pairs.append(serial)
            serials = by_target.get(target)
            if serials is None:
                by_target[target] = [serial]
            else:
                serials.append(serial)

    def _compact(self) -> None:
        """Rebuild the indexes from the ring (memory stays bounded by the 256 live entries)."""
        self._by_pair, self._by_target = {}, {}
        for serial in range(max(0, self.writes - RING), self.writes):
            slot = serial % RING
            self._by_pair.setdefault((self._caller[slot], self._target[slot]), []).append(serial)
            self._by_target.setdefault(self._target[slot], []).append(serial)

    def _recent(self, serials: list[int] | None, now_us: int, window_ms: int):  # noqa: ANN202
        """Serials still in the ring and within the window, newest first."""
        if not serials:
            return
        live = self.writes - RING
        ts = self._ts
        for serial in reversed(serials):
            if serial < live or ms(ts[serial % RING], now_us) > window_ms:
                return  # older serials are older still
            yield serial

    def query(self, caller: int, target: int, now_us: int, window_ms: int = INTENT_WINDOW_MS) -> Intent | None:
        """QueryRecentIntent: every entry with exactly (caller, target) and age <= window, aggregated."""
        flags = mask = 0
        age = None
        for serial in self._recent(self._by_pair.get((caller, target)), now_us, window_ms):
            slot = serial % RING
            flags |= self._flags[slot]
            mask |= self._access[slot]
            if age is None:
                age = ms(self._ts[slot], now_us)
        return None if age is None else Intent(caller, flags, mask, age)

    def query_for_target(self, target: int, now_us: int, window_ms: int = INTENT_WINDOW_MS,
                         prefer_external: bool = True) -> Intent | None:  # fmt: skip
        """QueryRecentIntentForTarget: pick the caller of the newest in-window entry for `target` (preferring one
        that is not the target itself), then aggregate that caller's in-window entries. Caller 0 means not found."""
        newest = external = None
        for serial in self._recent(self._by_target.get(target), now_us, window_ms):
            caller = self._caller[serial % RING]
            if newest is None:
                newest = caller
            if caller != target:
                external = caller
                break
            if not prefer_external:
                break
        chosen = external if prefer_external and external is not None else newest
        if not chosen:
            return None
        return self.query(chosen, target, now_us, window_ms)
