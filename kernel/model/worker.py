"""Work-slot limits (spec 3.1 step 7, 3.5): at most 2048 handle and 4096 thread work items outstanding.

The driver analyses each event in a system work item. When the limit is reached the event is silently dropped (no
ETW, no IOCTL record), while the intent and APC effects already applied in the pre-callback remain. The model runs
the queue as one FIFO worker with a fixed service time per item; it does not delay telemetry (the model's telemetry
time is the operation's time), it only decides what a burst would have dropped.
"""

from __future__ import annotations

from collections import deque

HANDLE_WORK_LIMIT = 2048
THREAD_WORK_LIMIT = 4096
HANDLE_SERVICE_US = 20  # one handle analysis (several memory queries in the caller) on a busy worker
THREAD_SERVICE_US = 30


class WorkSlots:
    """Outstanding work items of one kind; `take` says whether a new item gets a slot."""

    def __init__(self, limit: int, service_us: int) -> None:
        self.limit = limit
        self.service_us = service_us
        self._done_at: deque[int] = deque()  # completion times of accepted items, ascending
        self.dropped = 0

    def take(self, now_us: int) -> bool:
        """Queue an item at `now_us`, or drop it when `limit` items are still outstanding."""
        done = self._done_at
        while done and done[0] <= now_us:
            done.popleft()
        if len(done) >= self.limit:
            self.dropped += 1
            return False
        start = done[-1] if done and done[-1] > now_us else now_us
        done.append(start + self.service_us)
        return True

    def take_many(self, times: list[int]) -> list[bool]:
        """`take` of each item in turn (times ascending)."""
        done = self._done_at
        if times and len(done) + len(times) <= self.limit and self.service_us > 0:
            # No item can be dropped: fewer than `limit` would be outstanding even if none finished. Then the queue
            # only appends completion times and forgets those not after the current time, which for ascending times
            # is the same as forgetting, once, those not after the last one (the last item ends after it).
            ends = []
            last = done[-1] if done else times[0]
            previous = times[0]
            service = self.service_us
            for now_us in times:
                if now_us < previous:
                    break  # not ascending: one by one
                previous = now_us
                last = (last if last > now_us else now_us) + service
                ends.append(last)
            else:
                done.extend(ends)
                while done[0] <= previous:
                    done.popleft()
                return [True] * len(times)
        take = self.take
        return [take(now_us) for now_us in times]

    def outstanding(self, now_us: int) -> int:
        """Items not finished at `now_us`."""
        return sum(1 for t in self._done_at if t > now_us)
