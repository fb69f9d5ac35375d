"""The pipe client against an in-process controller that answers the real packet bytes over a socket pair."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest

from swk.capture.ingest import Options, ingest
from swk.capture.ioctl_encode import handle_record, realistic_records, thread_record, write_records
from swk.capture.live.broker import BrokerAbsentError, BrokerClient, BrokerGoneError, FileTransport, connect_pipe
from swk.capture.live.emulator import Emulator
from swk.capture.live.loop import CaptureLoop, LoopOptions
from swk.capture.live.protocol import IpcError
from swk.capture.live.sources import BrokerSource
from swk.kernel.abi import SLEEPWALKER_IPC_ETW_EVENT, IpcEtwSource
from swk.store.reader import open_case

PIPE = r"\\.\pipe\SleepwlkrController"


def connect(emulator: Emulator) -> BrokerClient:
    """A client whose transport is one end of a socket pair; the emulator serves the other end in a thread."""
    ours, theirs = socket.socketpair()
    server = theirs.makefile("rwb", buffering=0)

    def serve() -> None:
        try:
            emulator.serve(server)
        finally:
            server.close()
            theirs.close()

    threading.Thread(target=serve, daemon=True).start()
    fh = ours.makefile("rwb", buffering=0)
    ours.close()  # the file object keeps the socket open
    return BrokerClient(FileTransport(fh, PIPE))


def test_handshake_subscribe_get_event_until_259_and_stats():
    records = [handle_record(sequence=1), thread_record(sequence=2), handle_record(sequence=5)]
    emu = Emulator(records, dropped=2, ti_enabled=0, ti_error=5)
    client = connect(emu)
    assert client.handshake() == {"version": 1, "capabilities": 7, "ti_enabled": 0, "ti_error": 5}
    client.set_pids([4242, 5150], 0x7)
    assert (emu.pids, emu.mask) == ([4242, 5150], 0x7)
    got = []
    while (record := client.get_event()) is not None:
        got.append(record)
    assert got == records
    assert client.get_etw_event() is None
    assert client.get_stats() == {"subscriptions": 2, "queue_depth": 0, "dropped": 2}
    assert emu.sequences == [2, 3, 4, 5, 6, 7, 8, 9]  # one request each, numbered as the client numbers them
    assert emu.commands == {"Handshake": 1, "SetPids": 1, "GetEvent": 4, "GetEtwEvent": 1, "GetStats": 1}
    client.close()


def test_a_refused_request_raises_with_the_controller_status():
    client = connect(Emulator())
    client.handshake()
    with pytest.raises(IpcError) as err:
        client.set_pids([4242], 0x8)  # no handle/memory/thread bit: the controller answers 87
    assert err.value.status == 87
    client.close()


def test_a_controller_that_hangs_up_is_reported():
    ours, theirs = socket.socketpair()
    theirs.close()
    client = BrokerClient(FileTransport(ours.makefile("rwb", buffering=0), PIPE))
    with pytest.raises((BrokerGoneError, OSError)):
        client.handshake()
    ours.close()


def _uplink(source: int, name: str, detection: bytes = b"", tid: int = 77) -> bytes:
    ev = SLEEPWALKER_IPC_ETW_EVENT(
        Source=source,
        EventProcessId=4,
        EventThreadId=tid,
        Severity=8,
        PrimaryPid=6700,
        SecondaryPid=3864,
        DetectionName=detection,
        Task=7,
    )
    for i, ch in enumerate(name):
        ev.EventName[i] = ord(ch)
    return bytes(ev)


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_broker_capture_equals_ingest_of_the_same_records(tmp_path: Path):
    recs = realistic_records(9_000, seed=3)
    records = [recs[i : i + 1].tobytes() for i in range(len(recs))]
    uplink = [_uplink(IpcEtwSource.SLEEPWALKER, "DetectionTelemetry", b"REMOTE_THREAD_NON_IMAGE_START"),
              _uplink(IpcEtwSource.SLEEPWALKER, "HandleTelemetry"),
              _uplink(IpcEtwSource.THREAT_INTELLIGENCE, "")]  # fmt: skip
    emu = Emulator(records, uplink, dropped=3)
    source = BrokerSource(lambda: connect(emu), [6700, 3864], 0x7, wait_ms=20)
    loop = CaptureLoop([source], LoopOptions(tmp_path / "live", "WS01", rotate_events=4_000, health_seconds=0))
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(loop.run()))
    runner.start()
    _wait(lambda: not emu.records and not emu.etw_events and emu.commands["GetStats"] >= 1, "the broker to drain")
    _wait(lambda: loop.inputs and loop.inputs["ipc"].written == 9_000, "the loop to write every record")
    loop.stop()
    runner.join(30)
    assert not runner.is_alive()

    ingest([write_records(tmp_path / "events.bin", recs)], tmp_path / "ingested", Options(host="WS01",
           partitioned=True))  # fmt: skip
    live = open_case(tmp_path / "live").dataset().to_table()
    ioctl = live.filter(pc.equal(live["source_format"], "ioctl")).sort_by("source_offset")
    want = open_case(tmp_path / "ingested").dataset().to_table().sort_by("source_offset")
    skip = {"event_id", "source_file"}
    for name in want.column_names:
        if name not in skip:
            assert ioctl[name].equals(want[name]), name
    assert set(ioctl["source_file"].to_pylist()) == {PIPE}

    rows = live.filter(pc.equal(live["source_format"], "broker-etw")).sort_by("source_offset").to_pylist()
    assert [(r["family"], r["kind"], r["source_offset"]) for r in rows] == [
        ("detection", "sleepwalker:broker:DetectionTelemetry", 0),
        ("ti", "ti:broker:task 7", 2),
    ]
    inputs = {i["path"]: i for i in result["inputs"]}
    assert inputs[PIPE]["info"]["dropped"] == 3  # the controller's GetStats count, in the manifest
    assert (inputs[f"{PIPE}#etw"]["written"], inputs[f"{PIPE}#etw"]["skipped"]) == (2, 1)
    assert result["rows"] == 9_002 and len(result["parts"]) == 3


def test_a_missing_pipe_means_the_controller_is_not_running(tmp_path: Path):
    with pytest.raises(BrokerAbsentError) as err:
        connect_pipe(str(tmp_path / "SleepwlkrController"))
    assert err.value.one_line() == (f"{tmp_path / 'SleepwlkrController'}: no such pipe, SleepwlkrController is not "
                                    "running (start the SleepwlkrController service, or pass --via device)")  # fmt: skip
