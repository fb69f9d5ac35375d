"""Evidence indexes of the replay: `intents(t)` (handle rows of the pair within 5000 ms before a thread row) and the
pending route-A APC detections that wait for the handle row of the same operation."""

from __future__ import annotations

from swk.kernel.model.timing import APC_EVIDENCE_MS, INTENT_WINDOW_MS, within_us

Pair = tuple[int, int]
Evidence = list[tuple[int, int]]  # (event_id, ts)


class HandleIndex:
    """Handle rows by (actor, target) in two time buckets of 5001 ms, so memory stays bounded by the window."""

    SPAN = within_us(INTENT_WINDOW_MS)  # h.ts > t.ts - SPAN  <=>  ms(h, t) <= 5000

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._current: dict[Pair, Evidence] = {}
        self._previous: dict[Pair, Evidence] = {}

    def _advance(self, ts: int) -> None:
        epoch = ts // self.SPAN
        if epoch != self._epoch:
            self._previous = self._current if self._epoch is not None and epoch == self._epoch + 1 else {}
            self._current = {}
            self._epoch = epoch

    def add(self, actor: int, target: int, event_id: int, ts: int) -> None:
        """Index a handle row (rows arrive in (ts, event_id) order)."""
        self._advance(ts)
        pair = (actor, target)
        rows = self._current.get(pair)
        if rows is None:
            self._current[pair] = [(event_id, ts)]
        else:
            rows.append((event_id, ts))

    def add_many(self, actors: list[int], targets: list[int], event_ids: list[int], times: list[int]) -> None:
        """`add` of each row in turn."""
        if (
            not times
            or min(times) // self.SPAN != max(times) // self.SPAN
            or not (len(actors) == len(targets) == len(event_ids) == len(times))
        ):
            add = self.add
            for actor, target, event_id, ts in zip(actors, targets, event_ids, times, strict=True):
                add(actor, target, event_id, ts)
            return
        # every row falls in one bucket: it is advanced to once, as the first `add` would, and the others are no-ops
        self._advance(times[0])
        current = self._current
        for pair, row in zip(zip(actors, targets, strict=True), zip(event_ids, times, strict=True), strict=True):
            rows = current.get(pair)
            if rows is None:
                current[pair] = [row]
            else:
                rows.append(row)

    def intents(self, actor: int, target: int, ts: int) -> Evidence:
        """Handle rows of the pair seen so far with ms(h, ts) <= 5000."""
        self._advance(ts)
        pair = (actor, target)
        older = self._previous.get(pair)
        newer = self._current.get(pair, [])
        if not older:
            return list(newer)
        low = ts - self.SPAN
        return [p for p in older if p[1] > low] + newer


class PendingApc:
    """Route-A detections waiting for the first matching handle row after them (within 1000 ms)."""

    SPAN = within_us(APC_EVIDENCE_MS)

    def __init__(self) -> None:
        self._waiting: dict[tuple[int, int, int], list[tuple[int, Evidence]]] = {}

    def wait(self, key: tuple[int, int, int], ts: int, evidence: Evidence) -> None:
        """Register an apc row's evidence list, to be completed by the operation's handle row."""
        self._waiting.setdefault(key, []).append((ts, evidence))

    def offer(self, key: tuple[int, int, int], event_id: int, ts: int) -> None:
        """A handle row: it completes every waiting detection of its key still within 1000 ms."""
        if not self._waiting:
            return
        waiting = self._waiting.pop(key, None)
        if waiting:
            for since, evidence in waiting:
                if ts - since < self.SPAN:
                    evidence.append((event_id, ts))
        if len(self._waiting) > 4096:
            self._expire(ts)

    def offer_many(self, actors: list[int], targets: list[int], accesses: list[int], event_ids: list[int],
                   times: list[int]) -> None:  # fmt: skip
        """`offer` of each row in turn."""
        for actor, target, access, event_id, ts in zip(actors, targets, accesses, event_ids, times, strict=True):
            if not self._waiting:
                return  # nothing can start waiting in between
            self.offer((actor, target, access), event_id, ts)

    def _expire(self, ts: int) -> None:
        self._waiting = {k: kept for k, v in self._waiting.items() if (kept := [w for w in v if ts - w[0] < self.SPAN])}
