"""`swk capture live`'s loop: recorded IOCTL records through the live path into rolling zstd Parquet parts.

Target: at least 200k events/s sustained with flat memory, so swk is never the bottleneck behind the driver's
per-client queue (1024 records) and the controller's (1024 records, 2048 ETW events). The baseline decodes the same
records with the same decoder and writes nothing, so the ratio is what rolling, atomic Parquet costs. 4 M events
(the 1 M file replayed four times, 16 parts) against 1 M shows whether peak RSS stays flat. Two informative
measures follow: ETW events through the ETL reader's per-event `decode_record` (live) against the reader itself,
and records through the real pipe client against the in-process controller emulator (one 2080-byte round trip
per record, emulator in the same interpreter).
"""

from __future__ import annotations

import shutil
import socket
import threading

from harness import WORK, Measure
from ingest_etl import etl_file
from ingest_ioctl import records_file

ROTATE = 250_000


def prepare(n: int = 1_000_000, **_kwargs: object) -> int:
    """Build the 1 M-record input once."""
    records_file(1_000_000)
    return n


def capture(n: int) -> int:
    """The capture loop over `n` recorded records (the 1 M file replayed), parts every 250k events."""
    from swk.capture.live.loop import CaptureLoop, LoopOptions
    from swk.capture.live.recorded import RecordedSource

    out = WORK / f"capture_{n}"
    shutil.rmtree(out, ignore_errors=True)
    source = RecordedSource(records_file(1_000_000), repeat=n // 1_000_000)
    manifest = CaptureLoop([source], LoopOptions(out, "BENCH", rotate_events=ROTATE, health_seconds=0)).run()
    return manifest["rows"] + manifest["rejects"]


def decode_only(n: int) -> int:
    """The same records, read and decoded the same way, nothing written."""
    from swk.capture import ioctl

    rows = 0
    for _ in range(n // 1_000_000):
        with records_file(1_000_000).open("rb") as fh:
            while data := fh.read(768 * 32_768):
                rows += sum(b.num_rows if hasattr(b, "num_rows") else 1 for b in ioctl.decode(data, 0, 768))
    return rows


def etw_live(n: int) -> int:
    """ETW events replayed as EVENT_RECORDs through the live callback copy and `decode_records`, burst by burst."""
    from swk.capture.live.loop import CaptureLoop, LoopOptions
    from swk.capture.live.recorded import RecordedSource

    out = WORK / "capture_etw_live"
    shutil.rmtree(out, ignore_errors=True)
    source = RecordedSource(etl_file(n), kind="etl")
    manifest = CaptureLoop([source], LoopOptions(out, "BENCH", health_seconds=0)).run()
    return manifest["rows"] + manifest["rejects"]


def etw_reader(n: int) -> int:
    """The ETL reader over the same events (`swk ingest`)."""
    from swk.capture.ingest import Options, ingest

    out = WORK / "capture_etw_read"
    shutil.rmtree(out, ignore_errors=True)
    manifest = ingest([etl_file(n)], out, Options(host="BENCH", partitioned=True))
    return manifest["rows"] + manifest["rejects"]


def broker(n: int) -> int:
    """`n` records through BrokerClient/BrokerSource over a socket pair to the controller emulator."""
    import time

    from swk.capture.ioctl_encode import realistic_records
    from swk.capture.live.broker import BrokerClient, FileTransport
    from swk.capture.live.emulator import Emulator
    from swk.capture.live.loop import CaptureLoop, LoopOptions
    from swk.capture.live.sources import BrokerSource

    recs = realistic_records(n, seed=2)
    emu = Emulator([recs[i : i + 1].tobytes() for i in range(n)])

    def connect() -> BrokerClient:
        ours, theirs = socket.socketpair()
        threading.Thread(target=emu.serve, args=(theirs.makefile("rwb", buffering=0),), daemon=True).start()
        return BrokerClient(FileTransport(ours.makefile("rwb", buffering=0), "bench"))

    out = WORK / "capture_broker"
    shutil.rmtree(out, ignore_errors=True)
    loop = CaptureLoop([BrokerSource(connect, [4], 0x7, uplink=False)], LoopOptions(out, "BENCH", health_seconds=0))
    done: dict = {}
    runner = threading.Thread(target=lambda: done.update(loop.run()))
    runner.start()
    while not loop.inputs or loop.inputs["ipc"].read < n:
        time.sleep(0.01)
    loop.stop()
    runner.join()
    return done["rows"]


MEASURES = [
    Measure("capture loop, 1 M events to rolling parts", "capture:capture", {"n": 1_000_000},
            baseline="capture:decode_only", unit="events/s", prepare="capture:prepare"),
    Measure("capture loop, 4 M events (16 parts): RSS flat?", "capture:capture", {"n": 4_000_000},
            baseline="capture:decode_only", unit="events/s", prepare="capture:prepare"),
    Measure("capture ETW live decode, 5 k events", "capture:etw_live", {"n": 5_000},
            baseline="capture:etw_reader", unit="events/s"),
    Measure("capture via broker emulator, 100 k records", "capture:broker", {"n": 100_000}, unit="events/s",
            runs=1),
]  # fmt: skip
