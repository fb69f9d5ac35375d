"""The capture loop and its rolling writer, driven by recorded IOCTL records through the live code path."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from swk.capture.ingest import Options, ingest
from swk.capture.ioctl_encode import realistic_records, write_records
from swk.capture.live import protocol as proto
from swk.capture.live.health import Health
from swk.capture.live.items import Done, Records
from swk.capture.live.loop import CaptureFailedError, CaptureLoop, LoopOptions
from swk.capture.live.recorded import RecordedSource
from swk.capture.live.rolling import parse_rotate
from swk.capture.live.run import LiveOptions, parse_pids
from swk.capture.live.sources import Source
from swk.errors import SwkError
from swk.kernel.abi import SLEEPWALKER_IPC_ETW_EVENT, SLEEPWALKER_STATS_RESPONSE, IpcCommand
from swk.store import manifest as mf
from swk.store.reader import open_case
from swk.store.summary import summarize


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """10,000 records, one of them damaged (FrameCount=97 at record 1000), then a torn record, as the demo has."""
    records = realistic_records(10_000, seed=11)
    data = bytearray(records.tobytes())
    data[768 * 1000 + 64 : 768 * 1000 + 68] = (97).to_bytes(4, "little")
    data += records[:1].tobytes()[:100]
    return write_records(tmp_path_factory.mktemp("rec") / "events.bin", [bytes(data)])


def capture(recording: Path, out: Path, **kwargs) -> dict:
    source_kwargs = {k: kwargs.pop(k) for k in ("chunk_records", "after_chunk", "repeat") if k in kwargs}
    loop = CaptureLoop([RecordedSource(recording, **source_kwargs)],
                       LoopOptions(out, "WS01", health_seconds=0, **kwargs))  # fmt: skip
    return loop.run()


def part_sizes(case_dir: Path) -> list[int]:
    return [pq.read_metadata(p).num_rows for p in sorted(case_dir.rglob("part-*.parquet"))]


def test_recorded_capture_equals_ingest_of_the_same_file(recording: Path, tmp_path: Path):
    manifest = capture(recording, tmp_path / "live", rotate_events=3_000)
    ingest([recording], tmp_path / "ingested", Options(host="WS01", partitioned=True))
    live = open_case(tmp_path / "live").dataset().to_table().sort_by("event_id")
    want = open_case(tmp_path / "ingested").dataset().to_table().sort_by("event_id")
    assert live.num_rows == want.num_rows == 10_001  # 9,999 events, the damaged record, the torn tail
    for name in want.column_names:
        assert live[name].equals(want[name]), name
    (stats,) = manifest["inputs"]
    assert (stats["read"], stats["written"], stats["rejected"]) == (10_001, 9_999, 2)


def test_rotation_by_count_closes_exact_parts_each_reconciling(recording: Path, tmp_path: Path):
    out = tmp_path / "case"
    manifest = capture(recording, out, rotate_events=3_000)
    assert part_sizes(out) == [3_000, 3_000, 3_000, 1_001]
    files = sorted(out.rglob("part-*.parquet"))
    assert manifest["parts"] == [str(f.relative_to(out)) for f in files]
    seen = 0
    for i, f in enumerate(files, 1):  # every part's footer counts exactly the rows of the parts up to it
        m = mf.decode(pq.read_metadata(f).metadata)
        seen += pq.read_metadata(f).num_rows
        assert (m["part_seq"], m["rows"] + m["rejects"], len(m["parts"])) == (i, seen, i)


def test_rotation_by_time(recording: Path, tmp_path: Path):
    out = tmp_path / "case"
    holder: dict = {}

    def clock() -> float:  # ten seconds per 1,000 records written: follows the loop's own progress, not the wall
        loop = holder.get("loop")
        return 10.0 * (loop.inputs["records"].read // 1_000 if loop and loop.inputs else 0)

    loop = CaptureLoop([RecordedSource(recording, chunk_records=1_000)],
                       LoopOptions(out, "WS01", rotate_seconds=25.0, health_seconds=0), clock=clock)  # fmt: skip
    holder["loop"] = loop
    loop.run()
    assert part_sizes(out) == [3_000, 3_000, 3_000, 1_001]


def test_stop_flushes_what_was_handed_over(recording: Path, tmp_path: Path):
    out = tmp_path / "case"
    chunks = 0
    holder: dict = {}

    def after_chunk() -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 5:
            holder["loop"].stop()  # as Ctrl-C or a service stop does, from another thread

    loop = CaptureLoop([RecordedSource(recording, chunk_records=1_000, repeat=100, after_chunk=after_chunk)],
                       LoopOptions(out, "WS01", rotate_seconds=None, health_seconds=0))  # fmt: skip
    holder["loop"] = loop
    manifest = loop.run()
    summary = summarize(open_case(out))
    assert manifest["rows"] + manifest["rejects"] == summary["rows"] == 5_000


class Failing(Source):
    """Hands over one chunk, then fails as a controller that went away would."""

    name = "failing"

    def __init__(self, recording: Path) -> None:
        self.data = recording.read_bytes()[: 768 * 10]
        self.channels = RecordedSource(recording).channels

    def run(self, put, stop: threading.Event) -> None:
        put(Records("records", 768, self.data))
        raise SwkError("the controller closed the pipe")


def test_a_failing_source_leaves_a_complete_case_and_says_why(recording: Path, tmp_path: Path):
    out = tmp_path / "case"
    with pytest.raises(CaptureFailedError) as err:
        CaptureLoop([Failing(recording)], LoopOptions(out, "WS01", health_seconds=0)).run()
    assert str(err.value) == (f"capture stopped: failing: the controller closed the pipe; {out} holds the 10 events "
                              "captured until then")  # fmt: skip
    assert summarize(open_case(out))["events"] == 10


def test_a_capture_with_no_events_is_still_a_case(tmp_path: Path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    out = tmp_path / "case"
    manifest = capture(empty, out)
    assert manifest["rows"] == 0 and len(manifest["parts"]) == 1
    assert summarize(open_case(out))["rows"] == 0


def test_a_second_capture_appends_with_new_event_ids(recording: Path, tmp_path: Path):
    out = tmp_path / "case"
    capture(recording, out)
    second = capture(recording, out)
    assert second["event_id_range"] == [10_002, 20_002]
    merged = open_case(out).manifest
    assert (merged["rows"] + merged["rejects"], len(merged["runs"])) == (20_002, 2)


def test_done_is_always_the_last_item_of_a_source(recording: Path):
    items: list = []
    thread = RecordedSource(recording, chunk_records=4_000).start(items.append, threading.Event())
    thread.join(10)
    assert [type(i).__name__ for i in items] == ["Records", "Records", "Records", "Done"]
    assert isinstance(items[-1], Done) and items[-1].error is None


def test_health_line():
    health = Health(5.0, lambda: 0.0, None)
    line = health.line({"handle": 100_000, "thread": 20_000}, 3, 2,
                       {"ipc": {"dropped": 7, "queue_depth": 1}, "etw": {"events_lost": 2, "swk_dropped": 1}},
                       12_345_678, 3, elapsed=2.0)  # fmt: skip
    assert line == ("[capture] 60,000 ev/s (handle 50,000/s thread 10,000/s); queue 2; drops: ipc 7 etw 3; "
                    "rejects 3; written 12.3 MB in 3 parts")  # fmt: skip
    line = health.line({"handle": 100_000, "thread": 20_000}, 3, 0, {}, 0, 1, elapsed=5.0)
    assert line == "[capture] 0 ev/s (idle); queue 0; drops: none reported; rejects 3; written 0.0 MB in 1 part"


@pytest.mark.parametrize(("text", "want"), [("60s", (60.0, None)), ("5m", (300.0, None)), ("1h", (3600.0, None)),
                                            ("1e6", (None, 1_000_000)), ("250000", (None, 250_000))])  # fmt: skip
def test_parse_rotate(text, want):
    assert parse_rotate(text) == want


@pytest.mark.parametrize("text", ["0s", "1.5", "soon", "-5", "0"])
def test_parse_rotate_refuses(text):
    with pytest.raises(ValueError, match="give a duration"):
        parse_rotate(text)


def test_parse_pids():
    assert parse_pids("4242, 5150,4242") == [4242, 5150]
    with pytest.raises(ValueError, match="'0' is not a process id"):
        parse_pids("4242,0")
    with pytest.raises(ValueError, match="65 pids"):
        parse_pids(",".join(str(p) for p in range(1, 66)))


def test_live_options_check_and_round_trip():
    with pytest.raises(ValueError, match="nothing to capture"):
        LiveOptions("out").check()
    with pytest.raises(ValueError, match="--ti adds Threat-Intelligence"):
        LiveOptions("out", ioctl_pids=[4], ti=True).check()
    options = LiveOptions("C:/cases/ws01", etw=True, ioctl_pids=[4242], ti=True, rotate="1e6")
    options.check()
    assert LiveOptions.from_json(options.to_json()) == options


def test_recorded_pipe_packets_replay_records_uplink_and_stats(tmp_path: Path):
    recs = realistic_records(50, seed=2)
    detection = SLEEPWALKER_IPC_ETW_EVENT(
        Source=1,
        EventThreadId=0,
        EventProcessId=6700,
        PrimaryPid=6700,
        SecondaryPid=3864,
        Severity=7,
        DetectionName=b"PROCESS_HOLLOWING_MARK_CHAIN",
    )
    packets = [proto.response(IpcCommand.GetEvent, 2 + i, 0, recs[i : i + 1].tobytes()) for i in range(50)]
    packets += [
        proto.response(IpcCommand.GetEvent, 52, 259),
        proto.response(IpcCommand.GetEtwEvent, 53, 0, bytes(detection)),
        proto.response(IpcCommand.GetStats, 54, 0, bytes(SLEEPWALKER_STATS_RESPONSE(1, 0, 6, 0))),
    ]
    recording = tmp_path / "packets.bin"
    recording.write_bytes(b"".join(packets))
    manifest = CaptureLoop([RecordedSource(recording, kind="packets")],
                           LoopOptions(tmp_path / "case", "WS01", health_seconds=0)).run()  # fmt: skip
    records, uplink = manifest["inputs"]
    assert (records["written"], records["info"]["dropped"]) == (50, 6)
    assert uplink["written"] == 1
    rows = open_case(tmp_path / "case").dataset().to_table().sort_by("event_id").to_pylist()
    assert [r["sequence"] for r in rows[:50]] == list(range(1, 51))
    assert (rows[50]["kind"], rows[50]["severity"]) == ("sleepwalker:controller:detection", 7)


def test_health_lines_go_to_stderr_while_capturing(recording: Path, tmp_path: Path):
    said: list[str] = []
    holder: dict = {}

    def clock() -> float:  # ten seconds per 1,000 records read, as in the time-rotation test
        loop = holder.get("loop")
        return 10.0 * (loop.inputs["records"].read // 1_000 if loop and loop.inputs else 0)

    loop = CaptureLoop([RecordedSource(recording, chunk_records=1_000)],
                       LoopOptions(tmp_path / "case", "WS01", rotate_seconds=None, health_seconds=30.0),
                       say=said.append, clock=clock)  # fmt: skip
    holder["loop"] = loop
    loop.run()
    assert len(said) == 3  # at 30, 60 and 90 "seconds" of the 100 the recording lasts
    assert all(line.startswith("[capture] 100 ev/s (handle ") and "; queue " in line for line in said), said
