"""The live ETW path on Linux: EVENT_RECORDs built in memory, copied out as the callback does, decoded as the ETL
reader decodes them, and a session stand-in that drops and counts what does not fit."""

from __future__ import annotations

import ctypes
import threading
import time
import uuid
from pathlib import Path

import pyarrow.compute as pc
import pytest

from swk.capture.etl import sample, writer
from swk.capture.ingest import Options, ingest
from swk.capture.live.etw_rows import decode
from swk.capture.live.etw_session import THREAT_INTEL, refusal
from swk.capture.live.evntcons import EVENT_HEADER, EVENT_RECORD, EtwParts, copy_parts, guid_text, make_record
from swk.capture.live.items import EtwEvents
from swk.capture.live.loop import CaptureLoop, LoopOptions
from swk.capture.live.recorded import RecordedSource
from swk.capture.live.sources import EtwSource
from swk.capture.outputs import OutputContext
from swk.kernel.etw import PROVIDER_GUID
from swk.store.reader import open_case
from swk.store.reject import Reject

BOOT_NS = 1_772_400_000 * 10**9


@pytest.fixture(scope="module")
def trace(tmp_path_factory) -> Path:
    """A real .etl of 400 events (Sleepwalker families and TI) written by the ETL writer."""
    path = tmp_path_factory.mktemp("etl") / "live.etl"
    writer.write(sample.batches(400, seed=9), path, OutputContext(boot_ns=BOOT_NS))
    return path


def test_evntcons_layout_matches_the_sdk():
    assert (ctypes.sizeof(EVENT_HEADER), ctypes.sizeof(EVENT_RECORD)) == (80, 112)
    assert (EVENT_RECORD.ExtendedData.offset, EVENT_RECORD.UserData.offset) == (88, 96)
    assert EVENT_HEADER.EventDescriptor.offset == 40


def test_copy_parts_reads_header_user_data_and_every_extended_item():
    head = EVENT_HEADER(Flags=0x1 | 0x40, ThreadId=88, ProcessId=4, TimeStamp=134_170_000_000_123_456)
    ctypes.memmove(ctypes.addressof(head.ProviderId), PROVIDER_GUID.bytes_le, 16)
    head.EventDescriptor.Level, head.EventDescriptor.Keyword = 4, 0
    record, _keep = make_record(bytes(head), b"payload", [(12, b"traits"), (11, b"schema-bytes")])
    parts = copy_parts(ctypes.pointer(record))
    assert parts.user_data == b"payload"
    assert parts.extended == ((12, b"traits"), (11, b"schema-bytes"))
    assert (parts.fields.ProcessId, parts.fields.ThreadId, parts.pointer_size) == (4, 88, 8)
    assert guid_text(parts.fields.ProviderId) == str(PROVIDER_GUID).upper()
    assert copy_parts(ctypes.addressof(record)) == parts  # an address works as well as a pointer


def _without_offsets(table):
    skip = {"event_id", "source_offset", "source_format"}
    return sorted(map(repr, table.select([c for c in table.column_names if c not in skip]).to_pylist()))


def test_live_etw_rows_equal_the_etl_readers_rows(trace: Path, tmp_path: Path):
    manifest = CaptureLoop([RecordedSource(trace, kind="etl")], LoopOptions(tmp_path / "live", "WS01",
                           health_seconds=0)).run()  # fmt: skip
    ingest([trace], tmp_path / "read", Options(host="WS01", partitioned=True))
    live = open_case(tmp_path / "live").dataset().to_table()
    read = open_case(tmp_path / "read").dataset().to_table()
    # The logfile header is a record of the file, not an event: a real-time session never receives it.
    read = read.filter(pc.invert(pc.equal(read["kind"], "etw:MSNT_SystemTrace:EventTrace/Header")))
    assert live.num_rows == read.num_rows == 400
    assert _without_offsets(live) == _without_offsets(read)
    assert set(live["family"].to_pylist()) >= {"handle", "thread", "ti", "detection"}
    assert manifest["inputs"][0]["format"] == "etw"


def _parts(trace: Path, n: int) -> list[EtwParts]:
    items: list = []
    RecordedSource(trace, kind="etl").run(items.append, threading.Event())
    return [p for item in items if isinstance(item, EtwEvents) for p in item.events][:n]


class FakeSession:
    """Stands in for EtwSession: delivers events on start, refuses TI, reports what ETW lost."""

    name = "SwkCaptureSession"

    def __init__(self, events: list[EtwParts]) -> None:
        self.events, self.stopped = events, False

    def start(self, on_event) -> list[str]:
        for parts in self.events:
            on_event(parts)
        return [refusal(THREAT_INTEL, 5)]

    def lost(self) -> dict[str, int]:
        return {"events_lost": 4, "buffers_lost": 1}

    def stop(self) -> None:
        self.stopped = True


def test_etw_source_drops_and_counts_past_its_bound_and_says_ti_was_refused(trace: Path, tmp_path: Path):
    session = FakeSession(_parts(trace, 30))
    source = EtwSource(session, max_pending=20)
    said: list[str] = []
    loop = CaptureLoop([source], LoopOptions(tmp_path / "case", "WS01", health_seconds=0), say=said.append)
    runner = threading.Thread(target=loop.run)
    runner.start()
    deadline = time.monotonic() + 30
    while not (loop.inputs and loop.inputs["etw"].written == 20):
        assert time.monotonic() < deadline, "the loop never wrote the 20 kept events"
        time.sleep(0.01)
    loop.stop()
    runner.join(30)
    assert session.stopped
    info = loop.inputs["etw"].info
    assert (info["swk_dropped"], info["events_lost"], info["buffers_lost"]) == (10, 4, 1)
    assert said == ["[capture] Microsoft-Windows-Threat-Intelligence: Windows refused the provider (only protected "
                    "(PPL antimalware) processes may consume it); capturing without it"]  # fmt: skip
    assert loop.inputs["etw"].warnings == [said[0].removeprefix("[capture] ")]


def test_a_live_event_that_does_not_decode_is_a_reject():
    head = EVENT_HEADER(Flags=0x40, ProcessId=4, ThreadId=8, TimeStamp=134_170_000_000_000_000)
    ctypes.memmove(ctypes.addressof(head.ProviderId), uuid.uuid4().bytes_le, 16)
    record, _keep = make_record(bytes(head), b"\x01", [(11, b"\x02\x00")])  # a TraceLogging schema cut short
    out = decode(copy_parts(ctypes.pointer(record)))
    assert isinstance(out, Reject) and out.raw == b"\x01"
