"""Recorded bytes replayed through the live path: IOCTL records, the controller's packets, or an .etl's events."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from swk.capture.live import protocol as proto
from swk.capture.live.evntcons import copy_parts, make_record
from swk.capture.live.items import Channel, Counters, EtwEvents, Records, Uplink
from swk.capture.live.sources import Put, Source, now_us
from swk.kernel.abi import RECORD_LAYOUTS, IpcCommand


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
                    yield Uplink("uplink", [bytes(pkt.payload[: proto.ETW_EVENT_SIZE])], [now_us()])
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
