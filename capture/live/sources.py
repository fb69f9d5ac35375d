"""Where captured bytes come from: each source opens synchronously, then feeds items to the loop from a thread.

The broker and the device are polled until their queue is empty (259) and then waited on; the ETW callback must not
block its ProcessTrace thread, so its events wait in a bounded list and what does not fit is dropped and counted as
`swk_dropped`. Recorded bytes replay through the same items (`recorded`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from swk.capture.live import protocol as proto
from swk.capture.live.broker import BrokerClient
from swk.capture.live.device import DeviceClient
from swk.capture.live.evntcons import EtwParts
from swk.capture.live.items import Channel, Counters, Done, EtwEvents, Note, Records, Uplink
from swk.kernel.abi import IpcCapability

Put = Callable[[object], None]
BATCH_RECORDS = 4096  # records per item: one hand-off per few thousand records, not per record
STATS_SECONDS = 1.0


class Source:
    """Base: `open()` in the caller's thread (errors there fail the command), then `run()` in a thread of its own."""

    name = "source"
    channels: list[Channel]

    def open(self) -> None:
        """Connect; raise a `SwkError` the user can act on."""

    def run(self, put: Put, stop: threading.Event) -> None:
        """Feed items until `stop` is set or the source ends."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what `open()` took."""

    def start(self, put: Put, stop: threading.Event) -> threading.Thread:
        """Run in a daemon thread that always ends with a `Done` item."""

        def main() -> None:
            error: BaseException | None = None
            try:
                self.run(put, stop)
            except BaseException as exc:  # reported by the loop, which owns stderr and the exit status
                error = exc
            try:
                self.close()
            except BaseException as exc:
                error = error or exc  # the first failure is the one to report
            put(Done(self.name, error))

        thread = threading.Thread(target=main, name=f"swk-{self.name}", daemon=True)
        thread.start()
        return thread


class _Batcher:
    """Collects records into `Records` items of one stride."""

    def __init__(self, channel: str, put: Put) -> None:
        self.channel, self.put = channel, put
        self.data, self.stride, self.count = bytearray(), 0, 0

    def add(self, record: bytes) -> None:
        if self.stride and len(record) != self.stride:
            self.flush()
        self.stride = len(record)
        self.data += record
        self.count += 1
        if self.count >= BATCH_RECORDS:
            self.flush()

    def flush(self) -> None:
        if self.count:
            self.put(Records(self.channel, self.stride, bytes(self.data)))
            self.data, self.count = bytearray(), 0


def now_us() -> int:
    """Unix µs now (uplink events carry no time of their own)."""
    return time.time_ns() // 1000


class _Polled(Source):
    """A source that asks a client for records until its queue is empty (259) and reports its counts every second."""

    client: Any = None
    channel = ""

    def _drain(self, put: Put, wait: Callable[[], bytes | None], get: Callable[[], bytes | None]) -> int:
        """Records until the queue is empty or a batch is full (`wait` fetches the first); how many."""
        batch, got = _Batcher(self.channel, put), 0
        record = wait()
        while record is not None:
            batch.add(record)
            got += 1
            record = get() if got < BATCH_RECORDS else None
        batch.flush()
        return got

    def _stats(self, put: Put, last: float, *, now: bool = False) -> float:
        if now or time.monotonic() - last >= STATS_SECONDS:
            put(Counters(self.channel, self.client.get_stats()))
            return time.monotonic()
        return last

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class BrokerSource(_Polled):
    """Records (and uplink events) from SleepwlkrController: handshake, SetPids, GetEvent/GetEtwEvent until 259."""

    name = "broker"
    channel = "ipc"

    def __init__(self, connect: Callable[[], BrokerClient], pids: list[int], mask: int, *, uplink: bool = True,
                 own_etw: bool = False, wait_ms: int = 100) -> None:  # fmt: skip
        self.connect, self.pids, self.mask = connect, pids, mask
        self.uplink, self.own_etw, self.wait_ms = uplink, own_etw, wait_ms
        self.channels = [Channel("ipc", proto.PIPE_NAME, "ioctl")]
        if uplink:
            self.channels.append(Channel("uplink", f"{proto.PIPE_NAME}#etw", "broker-etw"))

    def open(self) -> None:
        self.client = self.connect()
        self.info = self.client.handshake()
        self.client.set_pids(self.pids, self.mask)
        self.uplink = self.uplink and bool(self.info["capabilities"] & IpcCapability.ETW_TI_UPLINK)

    def run(self, put: Put, stop: threading.Event) -> None:
        client: BrokerClient = self.client
        put(Counters("ipc", {**self.info, "pids": self.pids, "stream_mask": self.mask}))
        if self.uplink and not self.info["ti_enabled"]:
            put(Note("uplink", f"the controller has no Threat-Intelligence session (error {self.info['ti_error']}):"
                               " the uplink carries detections only"))  # fmt: skip
        last, idle = 0.0, False
        while not stop.is_set():
            # When the last round found nothing, the first GetEvent waits in the controller (it polls every 20 ms).
            got = self._drain(put, partial(client.get_event, self.wait_ms if idle else 0), client.get_event)
            events: list[bytes] = []
            while self.uplink and len(events) < BATCH_RECORDS and (ev := client.get_etw_event(0)):
                events.append(ev)
            if events:
                put(Uplink("uplink", events, [now_us()] * len(events)))
            idle = not got and not events
            last = self._stats(put, last)
        self._stats(put, last, now=True)


class DeviceSource(_Polled):
    """Records straight from the device: SET_PIDS, then GET_EVENT until 259, polling every 20 ms when empty."""

    name = "device"
    channel = "device"

    def __init__(self, open_client: Callable[[], DeviceClient], pids: list[int], mask: int,
                 poll_seconds: float = 0.02) -> None:  # fmt: skip
        self.open_client, self.pids, self.mask, self.poll = open_client, pids, mask, poll_seconds
        self.channels = [Channel("device", "", "ioctl")]

    def open(self) -> None:
        self.client = self.open_client()
        self.channels = [Channel("device", self.client.path, "ioctl")]
        self.client.set_pids(self.pids, self.mask)

    def run(self, put: Put, stop: threading.Event) -> None:
        client: DeviceClient = self.client
        last = 0.0
        while not stop.is_set():
            got = self._drain(put, client.get_event, client.get_event)
            last = self._stats(put, last)
            if not got:
                stop.wait(self.poll)  # GET_EVENT never blocks (spec 1.6)
        self._stats(put, last, now=True)


class EtwSource(Source):
    """Events of a real-time ETW session, moved from its callback to the loop every `flush_seconds`."""

    name = "etw"

    def __init__(self, session: Any, *, max_pending: int = 200_000, flush_seconds: float = 0.05) -> None:
        self.session = session  # etw_session.EtwSession, or a stand-in with name, start(on_event), lost(), stop()
        self.max_pending, self.flush_seconds = max_pending, flush_seconds
        self.pending: list[EtwParts] = []
        self.dropped = 0
        self.refused: list[str] = []
        self.channels = [Channel("etw", f"etw:{session.name}", "etw")]

    def on_event(self, parts: EtwParts) -> None:
        """The session's callback: keep the event, or count it when the loop is too far behind."""
        if len(self.pending) >= self.max_pending:
            self.dropped += 1
        else:
            self.pending.append(parts)

    def open(self) -> None:
        self.refused = self.session.start(self.on_event)

    def run(self, put: Put, stop: threading.Event) -> None:
        for why in self.refused:
            put(Note("etw", why))
        last_stats = 0.0
        while True:
            stopping = stop.wait(self.flush_seconds)
            # ETW's loss counters are read while the session exists; stopping it returns ProcessTrace, so nothing
            # arrives after the last swap below.
            lost = self.session.lost() if stopping or time.monotonic() - last_stats >= STATS_SECONDS else None
            if stopping:
                self.session.stop()
            events, self.pending = self.pending, []  # list swap is atomic under the GIL
            if events:
                put(EtwEvents("etw", events))
            if lost is not None:
                put(Counters("etw", {**lost, "swk_dropped": self.dropped}))
                last_stats = time.monotonic()
            if stopping:
                return

    def close(self) -> None:
        self.session.stop()  # no-op when run() stopped it; ends the session when run() failed
