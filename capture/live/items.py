"""What sources hand the capture loop, and the bounded inbox they hand it through.

Pull sources (broker, device, recorded files) block on a full inbox: the driver's and the controller's queues then
fill, drop and count it (spec 1.6, 7.3), which GetStats reports, so swk never grows without bound.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swk.capture.live.evntcons import EtwParts


@dataclass(frozen=True)
class Channel:
    """One input of the case: a key the items name, the path the manifest shows, the reader format."""

    key: str
    path: str
    format: str


@dataclass
class Records:
    """Whole IOCTL records of one layout, concatenated as GET_EVENT returned them."""

    channel: str
    stride: int
    data: bytes


@dataclass
class Uplink:
    """Broker uplink events (368 bytes each) and when swk received them (Unix µs)."""

    channel: str
    events: list[bytes]
    received_us: list[int]


@dataclass
class EtwEvents:
    """EVENT_RECORD parts copied out of the ETW callback."""

    channel: str
    events: list[EtwParts]


@dataclass
class Counters:
    """Counts a source reports for the manifest (drops, queue depth, capabilities)."""

    channel: str
    info: dict[str, Any]


@dataclass
class Note:
    """Something to say once on stderr and keep in the manifest's warnings."""

    channel: str
    text: str


@dataclass
class Done:
    """A source's thread ended (error: why, if it failed)."""

    source: str
    error: BaseException | None = None


class Inbox:
    """The hand-off from sources to the loop, bounded by the events it holds (not by items, whose sizes differ).

    An item larger than the bound still passes when the inbox is empty, so nothing waits forever.
    """

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.items: deque[tuple[object, int]] = deque()
        self.events = 0
        self.cond = threading.Condition()

    @staticmethod
    def weight(item: object) -> int:
        """Events an item holds."""
        if isinstance(item, Records):
            return len(item.data) // item.stride
        if isinstance(item, EtwEvents | Uplink):
            return len(item.events)
        return 0

    def put(self, item: object) -> None:
        """Hand an item over, waiting while the loop is behind."""
        n = self.weight(item)
        with self.cond:
            while self.events and self.events + n > self.max_events:
                self.cond.wait()
            self.items.append((item, n))
            self.events += n
            self.cond.notify_all()

    def get_if(self, wanted: Callable[[object], bool]) -> object | None:
        """The next item if one is queued and `wanted` accepts it, else None (never waits)."""
        with self.cond:
            if not self.items or not wanted(self.items[0][0]):
                return None
            item, n = self.items.popleft()
            self.events -= n
            self.cond.notify_all()
            return item

    def get(self, timeout: float) -> object | None:
        """The next item, or None after `timeout` seconds without one."""
        with self.cond:
            if not self.items:
                self.cond.wait(timeout)
            if not self.items:
                return None
            item, n = self.items.popleft()
            self.events -= n
            self.cond.notify_all()
            return item
