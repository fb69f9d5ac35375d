"""The IOCTL record reader on real bytes built from the ABI: fields, rejects with offsets, layouts, wrong formats."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from swk.capture import ioctl
from swk.capture.base import ReadContext, Reject
from swk.capture.ioctl_encode import handle_record, realistic_records, thread_record
from swk.errors import WrongFormat
from swk.kernel.abi import SLEEPWALKER_EVENT_RECORD_V2, CaptureFlag, HandleFlag, ThreadFlag

INJECT = r"\Device\HarddiskVolume3\Lab\inject.exe"


def read_all(path: Path) -> tuple[pa.Table, list[Reject]]:
    batches, rejects = [], []
    for out in ioctl.read(path, ReadContext()):
        (rejects if isinstance(out, Reject) else batches).append(out)
    return (pa.Table.from_batches(batches) if batches else None), rejects


def test_handle_record_fields(tmp_path: Path) -> None:
    frames = (0x7FF7A1B21F4E, 0x7FFD12344B20, 0x7FFD1358CC91)
    sample = bytes.fromhex("CCCC48895C2408574883EC20488BD9E8") * 4
    rec = handle_record(sequence=1187, qpc=3404675185, caller=0x1A2C, target=0xF18, access=0x3A, class_id=2,
                        frames=frames, origin_protect=0x20, origin_path=INJECT,
                        deep=(0x7FF7A1B10000, 0x16000, 0x1000, 0x1000000), sample=sample)  # fmt: skip
    path = tmp_path / "one.bin"
    path.write_bytes(rec)
    table, rejects = read_all(path)
    assert rejects == []
    row = table.to_pylist()[0]
    assert row["family"] == "handle" and row["kind"] == "sleepwalker:ioctl:handle"
    assert (row["sequence"], row["raw_clock"], row["clock"]) == (1187, 3404675185, "qpc")
    assert (row["actor_pid"], row["target_pid"], row["access_mask"], row["class_id"]) == (0x1A2C, 0xF18, 0x3A, 2)
    assert row["flags"] == HandleFlag.EXEC_PROTECT | HandleFlag.FROM_EXE | HandleFlag.MEMORY_RELATED
    assert row["stream_mask"] == 3
    assert (row["exec_protect"], row["from_ntdll"], row["from_exe"]) == (True, False, True)
    assert (row["is_thread_object"], row["is_duplicate"]) == (False, False)
    assert row["origin_path"] == INJECT and row["origin_address"] == frames[0] and row["origin_protect"] == 0x20
    assert row["frame_count"] == 3
    assert [f["address"] for f in row["frames"]] == list(frames)
    assert row["deep_alloc_base"] == 0x7FF7A1B10000 and row["deep_region_size"] == 0x16000
    assert (row["deep_region_state"], row["deep_region_type"], row["deep_sample"]) == (0x1000, 0x1000000, sample)
    assert row["tid"] is None and row["start_address"] is None  # thread columns stay NULL on a handle row
    # 3404675185 QPC ticks at 10 MHz, no boot time given: uptime counted from the epoch
    assert row["ts"].timestamp() == pytest.approx(340.4675185, abs=1e-6)


def test_thread_record_fields(tmp_path: Path) -> None:
    rec = thread_record(sequence=1190, pid=0xF18, tid=0x2210, creator=0x1A2C, start=0x1F4A0B70000, flags=0x13F,
                        frames=(0xFFFFF8061A2B3C4D, 0xFFFFF8061A2B0011))  # fmt: skip
    path = tmp_path / "t.bin"
    path.write_bytes(rec)
    row = read_all(path)[0].to_pylist()[0]
    assert (row["family"], row["actor_pid"], row["target_pid"], row["tid"]) == ("thread", 0x1A2C, 0xF18, 0x2210)
    assert row["flags"] == 0x13F and row["corr_flags"] == 1  # CORR_MEMORY -> PROCESS_MEMORY
    assert (row["got_start"], row["got_range"], row["is_remote"], row["outside_main_image"]) == (True,) * 4
    assert row["start_region_exec"] is True and row.get("start_region_type") is None  # IOCTL does not carry it
    # kernel addresses keep their bits as negative BIGINTs
    assert [f["address"] & 0xFFFFFFFFFFFFFFFF for f in row["frames"]] == [0xFFFFF8061A2B3C4D, 0xFFFFF8061A2B0011]
    assert row["access_mask"] is None and row["origin_path"] is None


def test_damaged_record_and_torn_tail_are_rejected_with_offsets(tmp_path: Path) -> None:
    n = 50
    data = bytearray(realistic_records(n, seed=3).tobytes())
    handle_index = next(i for i in range(n) if data[i * 768 + 4] == 1)
    data[handle_index * 768 + 64 : handle_index * 768 + 68] = (97).to_bytes(4, "little")  # FrameCount = 97
    data += bytes(100)
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(data))
    table, rejects = read_all(path)
    assert table.num_rows == n - 1
    assert [(r.offset, r.reason) for r in rejects] == [
        (handle_index * 768, "HANDLE_EVENT.FrameCount=97 > 8"),
        (n * 768, "truncated record: 100 of 768 bytes at end of file"),
    ]
    assert rejects[0].length == 768 and rejects[1].length == 100
    assert handle_index * 768 not in table.column("source_offset").to_pylist()


@pytest.mark.parametrize(("offset", "value", "reason"), [
    (0, 769, "EVENT_HEADER.Size=769 differs from this file's record size 768"),
    (4, 9, "EVENT_HEADER.Type=9 is not a Sleepwalker event type"),
    (8, 4, "EVENT_HEADER.StreamMask=0x4 is not 0x1 or 0x3 for a HANDLE record"),
    (44, 3, "HANDLE_EVENT.ClassId=3 > 2"),
    (180, 65, "HANDLE_EVENT.DeepSampleSize=65 > 64"),
    (68, 1, "HANDLE_EVENT padding bytes are not zero"),
])  # fmt: skip
def test_each_handle_check_names_its_field(tmp_path: Path, offset: int, value: int, reason: str) -> None:
    good = handle_record(sequence=1)
    bad = bytearray(handle_record(sequence=2))
    bad[offset : offset + 4] = value.to_bytes(4, "little")
    path = tmp_path / "x.bin"
    path.write_bytes(good + bytes(bad))
    table, rejects = read_all(path)
    assert table.num_rows == 1 and [(r.offset, r.reason) for r in rejects] == [(768, reason)]


def test_thread_checks(tmp_path: Path) -> None:
    tail = bytearray(thread_record(sequence=2))
    tail[500] = 0x41
    frames = bytearray(thread_record(sequence=3))
    frames[76:80] = (9).to_bytes(4, "little")
    unterminated = bytearray(handle_record(sequence=4))
    unterminated[248:768] = b"A\x00" * 260
    path = tmp_path / "t.bin"
    path.write_bytes(thread_record(sequence=1) + bytes(tail) + bytes(frames) + bytes(unterminated))
    table, rejects = read_all(path)
    assert table.num_rows == 1
    assert [(r.offset, r.reason) for r in rejects] == [
        (768, "THREAD record bytes 144..767 are not zero"),
        (1536, "THREAD_EVENT.FrameCount=9 > 8"),
        (2304, "HANDLE_EVENT.OriginPath has no NUL terminator"),
    ]


def test_paths_decode_per_row_including_non_ascii_and_surrogates(tmp_path: Path) -> None:
    odd = "\\Device\\HarddiskVolume3\\Users\\Zoë\\ЗАГРУЗКИ\\日本.exe"
    lone = bytearray(handle_record(origin_path="ab"))
    lone[248:252] = b"\x00\xd8a\x00"  # an unpaired high surrogate, then "a"
    recs = [handle_record(sequence=i, origin_path=p) for i, p in enumerate([INJECT, odd, INJECT, "", odd])]
    path = tmp_path / "p.bin"
    path.write_bytes(b"".join(recs) + bytes(lone))
    paths = read_all(path)[0].column("origin_path").to_pylist()
    assert paths == [INJECT, odd, INJECT, "", odd, "\ufffda"]


def test_first_record_decides_the_format(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, not records\n" * 100)
    with pytest.raises(WrongFormat) as err:
        list(ioctl.read(text, ReadContext()))
    assert "EVENT_HEADER.Size=" in str(err.value) and str(text) in str(err.value)
    assert not ioctl.sniff(text.read_bytes()[:64], text)
    assert ioctl.sniff(handle_record(), text)


def test_an_empty_file_holds_no_record(tmp_path: Path) -> None:
    # what a client that saw no record wrote (`swk simulate run-key --formats ioctl`); a short head is WrongFormat
    empty = tmp_path / "events.bin"
    empty.write_bytes(b"")
    assert list(ioctl.read(empty, ReadContext())) == []
    empty.write_bytes(handle_record()[:10])
    with pytest.raises(WrongFormat, match="too short"):
        list(ioctl.read(empty, ReadContext()))


def test_later_1496_byte_layout(tmp_path: Path) -> None:
    rec = SLEEPWALKER_EVENT_RECORD_V2()
    rec.Header.Size, rec.Header.Type, rec.Header.StreamMask, rec.Header.Sequence = 1496, 1, 3, 7
    h = rec.Data.Handle
    h.CallerPid, h.TargetPid, h.DesiredAccess, h.FrameCount = 100, 200, 0x1FFFFF, 1
    h.Frames[0] = 0x7FFD_F749_DC14
    h.OriginPath[: len("ntdll")] = [ord(c) for c in "ntdll"]
    h.CaptureFlags = CaptureFlag.CONTEXT_VALID | CaptureFlag.FULL_FRAMES_VALID | CaptureFlag.STACK_SNAPSHOT_VALID
    h.FullFrameCount = 2
    h.FullFrames[0], h.FullFrames[1] = 0x1111, 0x2222
    h.RegRip, h.RegRsp = 0x7FFD_F749_DC14, 0xAB0000
    h.StackSnapshotAddress, h.StackSnapshotSize = 0xAB0000, 4
    ctypes.memmove(h.StackSnapshot, b"\x01\x02\x03\x04", 4)
    f = SLEEPWALKER_EVENT_RECORD_V2()
    f.Header.Size, f.Header.Type, f.Header.StreamMask = 1496, 3, 8
    fe = f.Data.File
    fe.ProcessId, fe.ThreadId, fe.Operation, fe.DesiredAccess, fe.Flags = 300, 304, 3, 0x120116, 0x1
    fe.Path[: len("C:\\x")] = [ord(c) for c in "C:\\x"]
    path = tmp_path / "v2.bin"
    path.write_bytes(bytes(rec) + bytes(f))
    table, rejects = read_all(path)
    assert rejects == []
    handle, file = table.to_pylist()
    assert handle["family"] == "handle" and handle["capture_flags"] == 0xD
    assert [fr["address"] for fr in handle["full_frames"]] == [0x1111, 0x2222]
    assert handle["registers"]["rip"] == 0x7FFD_F749_DC14 and handle["stack_snapshot"] == b"\x01\x02\x03\x04"
    assert (file["family"], file["actor_pid"], file["tid"], file["operation"]) == ("file", 300, 304, "Write")
    assert (file["access_mask"], file["file_path"], file["flags"]) == (0x120116, "C:\\x", 1)


def test_many_chunks_keep_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ioctl, "CHUNK_RECORDS", 7)
    recs = realistic_records(40, seed=9)
    path = tmp_path / "m.bin"
    path.write_bytes(recs.tobytes())
    table, rejects = read_all(path)
    assert rejects == [] and table.column("sequence").to_pylist() == list(range(1, 41))
    assert table.column("source_offset").to_pylist() == [i * 768 for i in range(40)]
    kinds = np.where(recs["Header"]["Type"] == 1, "handle", "thread").tolist()
    assert table.column("family").to_pylist() == kinds
    thread_flags = recs["Data"]["Thread"]["Flags"][recs["Header"]["Type"] == 2]
    assert table.filter(pa.compute.equal(table.column("family"), "thread")).column("is_remote").to_pylist() == [
        bool(f & ThreadFlag.REMOTE_CREATOR) for f in thread_flags
    ]


def test_utf16_fixed_groups_rows_exactly_and_decodes_each_to_its_nul() -> None:
    import numpy as np

    from swk.capture.columns import utf16_fixed

    k = 260
    records = np.zeros((6, 768), dtype=np.uint8)  # paths as strided views into whole records, as the reader has them
    chars = records[:, 248:768].view(np.uint16)
    for i, text in enumerate(["C:\\a.dll", "C:\\a.dll", "C:\\a.dlm", "C:\\a.dll", "", "Z" * k]):
        chars[i, : len(text)] = [ord(c) for c in text]
    chars[3, 100] = ord("x")  # bytes after the NUL are not part of the path
    out, no_nul = utf16_fixed(chars)
    assert out.to_pylist() == ["C:\\a.dll", "C:\\a.dll", "C:\\a.dlm", "C:\\a.dll", "", "Z" * k]
    assert no_nul.tolist() == [False] * 5 + [True]
    valid = np.array([True, False, True, True, True, False])
    out, no_nul = utf16_fixed(chars, valid)
    assert out.to_pylist() == ["C:\\a.dll", None, "C:\\a.dlm", "C:\\a.dll", "", None]
    assert not no_nul.any()


@pytest.mark.parametrize("layout", [768, 1496])
def test_changed_bytes_leave_every_record_a_row_or_a_reject(tmp_path: Path, layout: int) -> None:
    """Seeded sweep: bytes changed anywhere (header fields included) never raise; each record-sized slot of the file
    is one row or one reject, so read = written + rejected. A change to the first record's Size may make the file
    another format's: that is WrongFormat naming the file, never a traceback."""
    import random

    n = 120
    if layout == 768:
        clean = realistic_records(n, seed=11).tobytes()
    else:
        rec = SLEEPWALKER_EVENT_RECORD_V2()
        rec.Header.Size, rec.Header.Type, rec.Header.StreamMask = 1496, 1, 3
        rec.Data.Handle.FrameCount, rec.Data.Handle.FullFrameCount = 2, 3
        clean = bytes(rec) * n
    rng = random.Random(f"ioctl-{layout}")
    for case in range(40):
        data = bytearray(clean)
        for _ in range(rng.choice((1, 4, 32, 256))):
            data[rng.randrange(len(data))] = rng.choice((0, 0xFF, 1, rng.randrange(256)))
        path = tmp_path / f"{case}.bin"
        path.write_bytes(bytes(data))
        try:
            table, rejects = read_all(path)
        except WrongFormat as err:
            assert str(path) in str(err) and data[:4] != clean[:4], case
            continue
        rows = 0 if table is None else table.num_rows
        assert rows + len(rejects) == n, (case, rows, len(rejects))
        read = [] if table is None else table.column("source_offset").to_pylist()
        assert sorted(read + [r.offset for r in rejects]) == [i * layout for i in range(n)], case
