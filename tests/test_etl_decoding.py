"""Container and TraceLogging decoding from built bytes: header kinds, damage, compression, every in-type."""

from __future__ import annotations

import io
import struct
import uuid
from pathlib import Path

import pytest

from swk.capture.base import ReadContext, Reject
from swk.capture.etl import encode, layout, lz77, reader, record
from swk.capture.etl import fields as fd
from swk.errors import WrongFormat

START = 134_170_000_000_000_000
GUID = uuid.UUID("11111111-2222-3333-4444-555555555555")


def build(records: list[bytes], *, compressed: bool = False, buffer_size: int = 4096) -> bytes:
    fh = io.BytesIO()
    info = encode.LogfileInfo(start_time=START, end_time=START, boot_time=START - 10**10, buffer_size=buffer_size)
    encode.write_file(fh, info, ((r, 0) for r in records), compressed=compressed)
    return fh.getvalue()


def read(data: bytes, tmp_path: Path) -> tuple[list[dict], list[Reject]]:
    path = tmp_path / "t.etl"
    path.write_bytes(data)
    rows, rejects = [], []
    for item in reader.read(path, ReadContext()):
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            rows += item.to_pylist()
    return sorted(rows, key=lambda r: r["source_offset"]), rejects


def tl_event(name: str, fields: list[tuple], user: bytes, ts: int = 5_000_000) -> bytes:
    ext = encode.ext_items([(12, encode.prov_traits("Test.Provider")), (11, encode.tl_metadata(name, fields))])
    return encode.event_record(provider=GUID.bytes_le, timestamp=ts, pid=10, tid=11, user=user, ext=ext, channel=11)


def test_not_an_etl_is_wrong_format(tmp_path):
    path = tmp_path / "x.etl"
    path.write_bytes(b"MZ" + b"\0" * 5000)
    with pytest.raises(WrongFormat, match="not an ETW trace"):
        list(reader.read(path, ReadContext()))
    assert not reader.sniff(path.read_bytes(), path)


def test_time_comes_from_the_logfile_header(tmp_path):
    rows, _ = read(build([tl_event("E", [("a", fd.UINT8)], b"\7", ts=12_345_678)]), tmp_path)
    event = rows[-1]
    assert event["raw_clock"] == START + 12_345_678 and event["clock"] == "filetime"  # QPC at 10 MHz from 0
    assert event["provider"] == "Test.Provider" and event["kind"] == "etw:Test.Provider:E"


def test_every_in_type(tmp_path):
    sid = bytes([1, 2, 0, 0, 0, 0, 0, 5]) + struct.pack("<II", 32, 544)
    fields = [("s", fd.UNICODESTRING), ("a", fd.ANSISTRING), ("i8", fd.INT8), ("u8", fd.UINT8), ("i16", fd.INT16),
              ("u16", fd.UINT16), ("i32", fd.INT32), ("u32", fd.UINT32), ("i64", fd.INT64), ("u64", fd.UINT64),
              ("f", fd.FLOAT), ("d", fd.DOUBLE), ("b", fd.BOOL32), ("bin", fd.BINARY), ("g", fd.GUID),
              ("ft", fd.FILETIME), ("st", fd.SYSTEMTIME), ("sid", fd.SID), ("h32", fd.HEXINT32),
              ("h64", fd.HEXINT64), ("cs", fd.COUNTEDSTRING), ("cas", fd.COUNTEDANSISTRING),
              ("cb", fd.COUNTEDBINARY), ("arr", fd.UINT32, 0, "var"), ("fix", fd.UINT16, 0, 3),
              ("chars", fd.UINT8, 2, "var")]  # fmt: skip
    user = ("wide\0".encode("utf-16-le") + b"ansi\0" + struct.pack("<bBhHiIqQfd", -1, 255, -2, 65535, -3, 7, -4,
            2**64 - 1, 1.5, 2.25) + struct.pack("<I", 3) + b"\2\0\xab\xcd" + GUID.bytes_le
            + struct.pack("<Q", START) + struct.pack("<8H", 2026, 3, 1, 2, 10, 15, 3, 512) + sid
            + struct.pack("<IQ", 0xC0000225, 0xFFFFF8061A2B3C4D) + b"\4\0" + "hi".encode("utf-16-le")
            + b"\3\0abc" + b"\1\0\xff" + struct.pack("<HII", 2, 5, 6) + struct.pack("<HHH", 1, 2, 3)
            + b"\2\0ok")  # fmt: skip
    rows, rejects = read(build([tl_event("All", fields, user)]), tmp_path)
    assert not rejects
    import json

    got = json.loads(rows[-1]["fields_json"])
    assert got == {"s": "wide", "a": "ansi", "i8": -1, "u8": 255, "i16": -2, "u16": 65535, "i32": -3, "u32": 7,
                   "i64": -4, "u64": 2**64 - 1, "f": 1.5, "d": 2.25, "b": True, "bin": "abcd", "g": str(GUID),
                   "ft": "2026-03-03T08:26:40.000000Z", "st": "2026-03-02T10:15:03.512Z", "sid": "S-1-5-32-544",
                   "h32": 0xC0000225, "h64": 0xFFFFF8061A2B3C4D, "cs": "hi", "cas": "abc", "cb": "ff",
                   "arr": [5, 6], "fix": [1, 2, 3], "chars": "ok"}  # fmt: skip


def test_struct_fields_nest():
    meta = (struct.pack("<H", 0) + b"\0S\0" + b"pt\0" + bytes([fd.STRUCT | 0x80, 2]) + b"x\0" + bytes([fd.INT32])
            + b"y\0" + bytes([fd.INT32]) + b"z\0" + bytes([fd.UINT8]))  # fmt: skip
    meta = struct.pack("<H", len(meta)) + meta[2:]
    from swk.capture.etl import tracelogging

    schema = tracelogging.schema(meta)
    assert [f.name for f in schema.fields] == ["pt", "z"]
    assert schema.decode(struct.pack("<iiB", 3, -4, 9)) == ({"x": 3, "y": -4}, 9)
    assert tracelogging.schema(meta) is schema  # cached per blob


def test_kernel_header_kinds_and_padding(tmp_path):
    process = (struct.pack("<QIIIiQI", 0xFFFF800012345678, 500, 4, 1, 0, 0x1AD000, 0) + b"\0\0\0\0" + b"cmd.exe\0"
               + "cmd.exe /c whoami\0".encode("utf-16-le") + "\0".encode("utf-16-le") * 2)  # fmt: skip
    image = (struct.pack("<QQIIIBBHQIIII", 0x7FF600000000, 0x5000, 500, 0, 0, 12, 1, 0, 0, 0, 0, 0, 0)
             + "\\Windows\\System32\\cmd.exe\0".encode("utf-16-le"))  # fmt: skip
    records = [
        encode.system_record(group=3, typ=1, version=4, timestamp=1, payload=process, pid=4, tid=8),
        encode.system_record(group=0x14, typ=10, version=3, timestamp=2, payload=image, header_type=0x11),
        encode.system_record(group=0x0A, typ=0x20, version=2, timestamp=3, payload=b"dbg", header_type=4),
    ]
    rows, rejects = read(build(records), tmp_path)
    assert not rejects
    proc, img, other = rows[1:]
    assert (proc["family"], proc["event_name"], proc["is_create"], proc["target_pid"], proc["actor_pid"]) == (
        "process",
        "Process/Start",
        True,
        500,
        4,
    )
    assert proc["command_line"] == "cmd.exe /c whoami" and proc["header_pid"] == 4
    assert (img["family"], img["image_base"], img["signature_level"], img["header_pid"]) == ("image", 0x7FF600000000,
                                                                                            12, None)  # fmt: skip
    assert other["family"] == "generic" and other["event_name"] == "DbgPrint/EndExtension"


def test_compressed_buffers_decode(tmp_path):
    events = [tl_event("E", [("n", fd.UINT32)], struct.pack("<I", i)) for i in range(200)]
    plain, _ = read(build(events), tmp_path)
    packed, rejects = read(build(events, compressed=True), tmp_path)
    assert not rejects and len(packed) == len(plain) == 201
    assert sorted(r["fields_json"] for r in packed) == sorted(r["fields_json"] for r in plain)


def test_lz77_round_trip_and_damage():
    data = b"HandleTelemetry" * 300 + bytes(range(256))
    assert lz77.decompress(lz77.compress(data)) == data
    with pytest.raises(lz77.DecompressError):
        lz77.decompress(b"\xff\xff\xff\xff\x10\x00")


def test_damaged_buffer_is_rejected_and_reading_goes_on(tmp_path):
    events = [tl_event("E", [("n", fd.UINT32)], struct.pack("<I", i)) for i in range(300)]
    data = bytearray(build(events))
    data[4096 * 2 : 4096 * 2 + 4] = struct.pack("<I", 13)  # buffer 2: BufferSize not a multiple of 8
    rows, rejects = read(bytes(data), tmp_path)
    assert [r.offset for r in rejects] == [8192] and "BufferSize=13" in rejects[0].reason
    assert 200 < len(rows) < 301


def test_record_running_past_its_buffer_is_rejected(tmp_path):
    data = bytearray(build([tl_event("E", [("n", fd.UINT32)], b"\1\0\0\0")] * 3))
    first = 4096 + layout.BUFFER_HEADER_SIZE
    data[first : first + 2] = struct.pack("<H", 60000)
    rows, rejects = read(bytes(data), tmp_path)
    assert rejects[0].offset == first and "EVENT_HEADER.Size=60000" in rejects[0].reason
    assert len(rows) == 1  # the logfile header only: the rest of that buffer cannot be trusted


def test_truncated_file_rejects_at_the_cut(tmp_path):
    data = build([tl_event("E", [("n", fd.UINT32)], b"\1\0\0\0")] * 400)
    cut = len(data) - 1000
    _, rejects = read(data[:cut], tmp_path)
    assert rejects[-1].offset == cut and "file ends inside a buffer" in rejects[-1].reason


def test_payload_shorter_than_its_schema_is_a_record_reject(tmp_path):
    rows, rejects = read(build([tl_event("E", [("n", fd.UINT64)], b"\1\0")]), tmp_path)
    assert len(rejects) == 1 and "ends inside" in rejects[0].reason and len(rows) == 1


def test_unknown_manifest_provider_is_a_generic_row_with_hex():
    row = record.decode_record(provider=GUID, event_id=7, version=1, opcode=2, task=3, level=4, keyword=8, pid=1,
                               tid=2, filetime=START, user_data=b"\xde\xad")  # fmt: skip
    assert row["family"] == "generic" and row["etw_event_id"] == 7 and row["task"] == 3 and row["opcode"] == 2
    assert '"user_data_hex": "dead"' in row["fields_json"] and row["provider"] == "{" + str(GUID) + "}"
