"""Where captured bytes come from: each source opens synchronously, then feeds items to the loop from a thread.

Pull sources (broker, device, recorded files) block on a full queue: the driver's and the controller's queues then
fill and drop and count it (spec 1.6, 7.3), which GetStats reports, so swk never grows without bound. The ETW
callback must not block its ProcessTrace thread, so events wait in a bounded list and what does not fit is dropped
and counted as `swk_dropped`.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swk.capture.live import protocol as proto
from swk.capture.live.broker import BrokerClient
from swk.capture.live.device import DeviceClient
from swk.capture.live.evntcons import EtwParts, copy_parts, make_record
from swk.kernel.abi import RECORD_LAYOUTS, IpcCapability, IpcCommand

Put = Callable[[object], None]
BATCH_RECORDS = 4096  # records per item: one queue hand-off per few thousand records, not per record
STATS_SECONDS = 1.0


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
            finally:
                try:
                    self.close()
                finally:
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


def _now_us() -> int:
    return time.time_ns() // 1000


class BrokerSource(Source):
    """Records (and uplink events) from SleepwlkrController: handshake, SetPids, GetEvent/GetEtwEvent until 259."""

    name = "broker"

    def __init__(self, connect: Callable[[], BrokerClient], pids: list[int], mask: int, *, uplink: bool = True,
                 own_etw: bool = False, wait_ms: int = 100) -> None:  # fmt: skip
        self.connect, self.pids, self.mask = connect, pids, mask
        self.uplink, self.own_etw, self.wait_ms = uplink, own_etw, wait_ms
        self.client: BrokerClient | None = None
        self.channels = [Channel("ipc", proto.PIPE_NAME, "ioctl")]
        if uplink:
            self.channels.append(Channel("uplink", f"{proto.PIPE_NAME}#etw", "broker-etw"))

    def open(self) -> None:
        self.client = self.connect()
        self.info = self.client.handshake()
        self.client.set_pids(self.pids, self.mask)
        self.uplink = self.uplink and bool(self.info["capabilities"] & IpcCapability.ETW_TI_UPLINK)

    def run(self, put: Put, stop: threading.Event) -> None:
        client = self.client
        assert client is not None, "open() first"
        put(Counters("ipc", {"capabilities": self.info["capabilities"], "ti_enabled": self.info["ti_enabled"],
                             "ti_error": self.info["ti_error"], "pids": self.pids, "stream_mask": self.mask}))
        if self.uplink and not self.info["ti_enabled"]:
            put(Note("uplink", f"the controller has no Threat-Intelligence session (error {self.info['ti_error']}):"
                               " the uplink carries detections only"))  # fmt: skip
        batch, last_stats, idle = _Batcher("ipc", put), 0.0, False
        while not stop.is_set():
            got = 0
            while got < BATCH_RECORDS and (record := client.get_event(self.wait_ms if idle and not got else 0)):
                batch.add(record)
                got += 1
            batch.flush()
            events: list[bytes] = []
            while self.uplink and len(events) < BATCH_RECORDS and (ev := client.get_etw_event(0)):
                events.append(ev)
            if events:
                put(Uplink("uplink", events, [_now_us()] * len(events)))
            idle = not got and not events
            if time.monotonic() - last_stats >= STATS_SECONDS:
                put(Counters("ipc", client.get_stats()))
                last_stats = time.monotonic()
        put(Counters("ipc", client.get_stats()))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class DeviceSource(Source):
    """Records straight from the device: SET_PIDS, then GET_EVENT until 259, polling every 20 ms when empty."""

    name = "device"

    def __init__(self, open_client: Callable[[], DeviceClient], pids: list[int], mask: int,
                 poll_seconds: float = 0.02) -> None:  # fmt: skip
        self.open_client, self.pids, self.mask, self.poll = open_client, pids, mask, poll_seconds
        self.client: DeviceClient | None = None
        self.channels = [Channel("device", "", "ioctl")]

    def open(self) -> None:
        self.client = self.open_client()
        self.channels = [Channel("device", self.client.path, "ioctl")]
        self.client.set_pids(self.pids, self.mask)

    def run(self, put: Put, stop: threading.Event) -> None:
        client = self.client
        assert client is not None, "open() first"
        batch, last_stats = _Batcher("device", put), 0.0
        while not stop.is_set():
            got = 0
            while got < BATCH_RECORDS and (record := client.get_event()):
                batch.add(record)
                got += 1
            batch.flush()
            if time.monotonic() - last_stats >= STATS_SECONDS:
                put(Counters("device", client.get_stats()))
                last_stats = time.monotonic()
            if not got:
                stop.wait(self.poll)  # GET_EVENT never blocks (spec 1.6)
        put(Counters("device", client.get_stats()))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


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
            if stopping:
                self.session.stop()  # ProcessTrace has returned: nothing arrives after this
            events, self.pending = self.pending, []  # list swap is atomic under the GIL
            if events:
                put(EtwEvents("etw", events))
            if stopping or time.monotonic() - last_stats >= STATS_SECONDS:
                put(Counters("etw", {**self.session.lost(), "swk_dropped": self.dropped}))
                last_stats = time.monotonic()
            if stopping:
                return


class RecordedSource(Source):
    """Recorded bytes replayed through the live path.

    `kind='records'`: concatenated IOCTL records, as GET_EVENT returned them. `kind='packets'`: the controller's
    response packets. `kind='etl'`: the events of an .etl file, each rebuilt as an in-memory EVENT_RECORD with its
    timestamp as a real-time consumer sees it (FILETIME) and copied out by the live callback's own code. Offsets run
    on across `repeat` passes, as if the recording had been that long; `after_chunk` is called after each item is
    handed over (tests advance a fake clock with it).
    """

    name = "recorded"

    def __init__(self, path: Path, *, kind: str = "records", repeat: int = 1, chunk_records: int = 32_768,
                 after_chunk: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.path, self.kind, self.repeat, self.chunk = Path(path), kind, repeat, chunk_records
        self.after_chunk = after_chunk
        self.channels = {
            "records": [Channel("records", str(path), "ioctl")],
            "packets": [Channel("records", str(path), "ioctl"), Channel("uplink", f"{path}#etw", "broker-etw")],
            "etl": [Channel("etw", str(path), "etw")],
        }[kind]

    def run(self, put: Put, stop: threading.Event) -> None:
        read = {"records": self._records, "packets": self._packets, "etl": self._etl}[self.kind]
        for _ in range(self.repeat):
            for item in read():
                if stop.is_set():
                    return
                put(item)
                if self.after_chunk is not None:
                    self.after_chunk()

    def _records(self) -> Iterator[Records]:
        with self.path.open("rb") as fh:
            size = int.from_bytes(fh.read(4), "little")
            stride = size if size in RECORD_LAYOUTS else proto.RECORD_SIZE
            fh.seek(0)
            while data := fh.read(stride * self.chunk):
                yield Records("records", stride, data)

    def _packets(self) -> Iterator[object]:
        with self.path.open("rb") as fh:
            while data := fh.read(proto.PACKET_SIZE):
                pkt = proto.parse_packet(data, str(self.path))
                if pkt.status:
                    continue  # 259: the queue was empty at that moment
                if pkt.command == IpcCommand.GetEvent:
                    rec = proto.record_bytes(pkt.payload)
                    yield Records("records", len(rec), rec)
                elif pkt.command == IpcCommand.GetEtwEvent:
                    yield Uplink("uplink", [pkt.payload[: proto.ETW_EVENT_SIZE]], [_now_us()])
                elif pkt.command == IpcCommand.GetStats:
                    yield Counters("records", proto.stats_info(pkt.payload))

    def _etl(self) -> Iterator[EtwEvents]:
        from swk.capture.etl import container

        with self.path.open("rb") as fh:
            log = container.read_logfile(fh.read(4096), self.path)
            seen: dict[bytes, list[bytes]] = {}
            for item in container.buffers(fh, self.path.stat().st_size, log):
                if isinstance(item, tuple):
                    events = []
                    for rec in container.walk(item[1], item[0], seen)[0]:
                        if rec[0] == container.EVENT:  # a real-time session only ever sees EVENT_HEADER records
                            header = bytearray(rec[2])
                            header[16:24] = log.filetime(int.from_bytes(header[16:24], "little", signed=True)
                                                         ).to_bytes(8, "little", signed=True)  # fmt: skip
                            record, _keep = make_record(bytes(header), rec[4], container.ext_items(rec[3]))
                            events.append(copy_parts(ctypes.addressof(record)))
                    if events:
                        yield EtwEvents("etw", events)
