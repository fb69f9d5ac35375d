"""The live health line on stderr: events/s per family, queue depth, drops reported upstream, bytes written.

Drops are the counts the driver, the controller and ETW report (GET_STATS DroppedEvents, the session's
EventsLost/RealTimeBuffersLost) plus what swk itself had to drop; they are also in the manifest of every part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_DROP_KEYS = ("dropped", "events_lost", "buffers_lost", "swk_dropped")


def drops(infos: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Drop counts per channel (only the channels that report any drop counter)."""
    out = {}
    for channel, info in infos.items():
        found = [info[k] for k in _DROP_KEYS if isinstance(info.get(k), int)]
        if found:
            out[channel] = sum(found)
    return out


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


class Health:
    """Computes one line from counters sampled every `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float], say: Callable[[str], None] | None) -> None:
        self.interval, self.clock, self.say = interval, clock, say
        self.last = clock()
        self.families: dict[str, int] = {}

    def line(self, families: dict[str, int], rejects: int, queue: int, infos: dict[str, dict[str, Any]],
             written: int, parts: int, elapsed: float) -> str:  # fmt: skip
        """The health text for counts now versus the previous sample."""
        rates = {f: (n - self.families.get(f, 0)) / elapsed for f, n in sorted(families.items())}
        self.families = dict(families)
        total = sum(rates.values())
        per = " ".join(f"{f} {r:,.0f}/s" for f, r in rates.items() if r) or "idle"
        lost = drops(infos)
        drop_text = " ".join(f"{c} {n:,}" for c, n in lost.items()) or "none reported"
        return (f"[capture] {total:,.0f} ev/s ({per}); queue {queue}; drops: {drop_text}; rejects {rejects:,}; "
                f"written {_size(written)} in {parts} part{'s' if parts != 1 else ''}")  # fmt: skip

    def tick(self, sample: Callable[[], tuple]) -> None:
        """Say the line when the interval has passed."""
        if not self.say or self.interval <= 0:
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.say(self.line(*sample(), elapsed=now - self.last))
            self.last = now
