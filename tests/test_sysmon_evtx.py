"""The EVTX reader on clean, dirty and damaged files: every record is a row or a reject at its offset.

Damaged files are real EVTX-ATTACK-SAMPLES files with bytes changed in a copy (the shared data is never edited).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from evtx import PyEvtxParser

from swk.capture.sysmon import evtx_file, evtx_json
from swk.capture.sysmon.events import from_evtx_json
from swk.capture.sysmon.evtx_chunks import CHUNK_SIZE, FILE_HEADER_SIZE, inspect
from swk.capture.sysmon.samples import collect
from swk.errors import WrongFormat

SAMPLE = "evtx-attack-samples/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx"  # 565 records, 15 chunks


@pytest.fixture(scope="module")
def original(shared_data: Path) -> bytes:
    return (shared_data / SAMPLE).read_bytes()


def _chunk(i: int) -> int:
    return FILE_HEADER_SIZE + i * CHUNK_SIZE


def _records(data: bytes, i: int) -> list[tuple[int, int, int]]:
    """(file offset, size, record id) of the records in chunk i of an undamaged file."""
    chunk = inspect(i, _chunk(i), data[_chunk(i) : _chunk(i + 1)])
    return [(r.offset, r.size, r.record_id) for r in chunk.records]


def _write(tmp_path: Path, data: bytes | bytearray, name: str = "x.evtx") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def test_clean_file_every_record_at_its_offset(original, tmp_path):
    out = collect(evtx_file, _write(tmp_path, original))
    assert len(out.rows) == sum(1 for _ in PyEvtxParser(_write(tmp_path, original, "y.evtx").open("rb")).records())
    assert len(out.rows) == 565 and out.rejects == []
    first = _records(original, 0)[:3]
    assert out.column("source_offset")[:3] == [r[0] for r in first]
    # sequence is the event's EventRecordID (its id in the log it was exported from), not the record header's id
    assert out.column("sequence")[:3] == [3572, 3573, 3574]


def test_damaged_binxml_rejects_only_that_record_with_the_parsers_message(original, tmp_path):
    data = bytearray(original)
    offset, size, rid = _records(original, 0)[1]
    data[offset + 24] = 0xFF  # first BinXML token
    out = collect(evtx_file, _write(tmp_path, data))
    assert len(out.rows) == 564
    (reject,) = out.rejects
    assert (reject.offset, reject.length) == (offset, size)
    assert reject.reason.startswith(f"chunk 0: record {rid}: Failed to parse record number {rid}")
    assert "invalid byte `0xff`" in reject.reason


@pytest.mark.parametrize("field", ["magic", "size"])
def test_damaged_record_header_costs_that_record_not_the_rest_of_the_chunk(original, tmp_path, field):
    data = bytearray(original)
    records = _records(original, 0)
    offset, size, _rid = records[1]
    if field == "magic":
        data[offset : offset + 4] = b"XXXX"
    else:
        struct.pack_into("<I", data, offset + 4, 0xFFFF)
    with pytest.warns(RuntimeWarning, match="Skipping EVTX data"):
        plain = sum(1 for _ in PyEvtxParser(_write(tmp_path, data, "y.evtx").open("rb"), skip_errors=True).records())
    assert plain == 522  # pyevtx-rs alone drops the other 42 records after the damage
    out = collect(evtx_file, _write(tmp_path, data))
    assert len(out.rows) == 564
    (reject,) = out.rejects
    assert (reject.offset, reject.length) == (offset, size)
    assert reject.reason.startswith("chunk 0: damaged record header")
    assert out.column("source_offset")[1] == records[2][0]


def test_chunk_with_a_bad_header_is_one_reject_and_the_next_chunk_is_read(original, tmp_path):
    data = bytearray(original)
    data[_chunk(1) : _chunk(1) + 8] = b"BadMagic"
    out = collect(evtx_file, _write(tmp_path, data))
    assert len(out.rows) == 565 - len(_records(original, 1))
    (reject,) = out.rejects
    assert (reject.offset, reject.length) == (_chunk(1), CHUNK_SIZE)
    assert reject.reason == "chunk 1: chunk header magic 42 61 64 4d 61 67 69 63, expected ElfChnk; no record can " \
                            "be read from it"  # fmt: skip


def test_file_cut_inside_a_chunk_keeps_its_complete_records(original, tmp_path):
    records = _records(original, 1)
    offset, size, rid = records[10]
    cut = offset + size // 2
    out = collect(evtx_file, _write(tmp_path, original[:cut]))
    assert len(out.rows) == len(_records(original, 0)) + 10  # pyevtx-rs alone returns none of chunk 1
    (reject,) = out.rejects
    assert (reject.offset, reject.length) == (offset, cut - offset)
    assert reject.reason == f"chunk 1: the file ends inside record {rid}; record ids after {rid - 1} are missing"


def test_file_cut_inside_a_chunk_header(original, tmp_path):
    out = collect(evtx_file, _write(tmp_path, original[: _chunk(1) + 100]))
    assert len(out.rows) == len(_records(original, 0))
    (reject,) = out.rejects
    assert (reject.offset, reject.reason) == (_chunk(1), "chunk 1: the file ends 100 bytes into the chunk header; "
                                                         "no record can be read from it")  # fmt: skip


def test_zeroed_chunk_between_chunks_is_reported_as_missing_records(original, tmp_path):
    data = bytearray(original)
    data[_chunk(1) : _chunk(2)] = bytes(CHUNK_SIZE)
    out = collect(evtx_file, _write(tmp_path, data))
    lost = _records(original, 1)
    assert len(out.rows) == 565 - len(lost) and out.rejects == []
    assert out.ctx.warnings == [f"chunks 1..1 are all zero and record ids {lost[0][2]}..{lost[-1][2]} are not in "
                                "the file"]  # fmt: skip


def test_dirty_file_whose_header_undercounts_its_chunks_is_read_whole(original, tmp_path):
    data = bytearray(original)
    struct.pack_into("<H", data, 42, 3)  # the file header says 3 chunks; there are 15
    assert len(collect(evtx_file, _write(tmp_path, data)).rows) == 565


def test_not_an_evtx_file_is_wrong_format_and_a_cut_header_one_reject(original, tmp_path):
    with pytest.raises(WrongFormat, match="not an EVTX file"):
        collect(evtx_file, _write(tmp_path, b"PK\x03\x04" + original[4:]))
    out = collect(evtx_file, _write(tmp_path, original[:1000]))
    assert len(out.rows) == 0
    (reject,) = out.rejects
    assert (reject.offset, reject.reason) == (0, "EVTX file header: the file ends after 1000 of 4096 bytes")


def test_sniff(original, tmp_path):
    assert evtx_file.sniff(original[:65536], tmp_path / "a.evtx")
    assert not evtx_file.sniff(b"ElfChnk\x00" + original[8:100], tmp_path / "a.evtx")


def test_system_shortcut_gives_what_decoding_the_whole_record_gives(shared_data):
    """evtx_json reads System from a pattern and decodes only EventData; over every record of the corpus that must
    be the same header facts, fields and fields text as decoding the whole record, and must be the usual route."""
    shortcut = 0
    records = 0
    for path in sorted((shared_data / "evtx-attack-samples").rglob("*.evtx")):
        for record in PyEvtxParser(str(path), indent=False, skip_errors=True).records_json():
            data = record["data"]
            records += 1
            shortcut += evtx_json._SYSTEM.match(data) is not None
            element = json.loads(data)["Event"]
            event = from_evtx_json(element)
            whole = None if event is None else (event[:-1], event[-1], evtx_json._fields_json(data, element))
            assert evtx_json.decode(data) == whole, f"{path.name} record {record['event_record_id']}"
    assert records > 8000 and shortcut > records * 0.6, (shortcut, records)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.replace('"EventID":1,', '"EventID":1,"EventID":2,', 1), "a member twice: json keeps the last"),
        (lambda d: d.replace('"Computer":"IEWIN7"', '"Computer":"IE\\u0057IN7"', 1), "an escaped string"),
        (lambda d: d[:-2] + ',"UserData":{}}}', "a member after EventData"),
        (lambda d: d.replace('"EventData":{', '"EventData":{"Data":1,', 1), "unnamed EventData"),
    ],
)
def test_system_shortcut_falls_back_to_the_whole_record(change, why):
    data = change(_RECORD)
    element = json.loads(data)["Event"]
    event = from_evtx_json(element)
    assert evtx_json._SYSTEM.match(_RECORD) is not None
    assert evtx_json.decode(data) == (event[:-1], event[-1], evtx_json._fields_json(data, element)), why


_RECORD = (
    '{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":'
    '{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},"EventID":1,'
    '"Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":{"#attributes":'
    '{"SystemTime":"2019-04-27T15:57:53.368863Z"}},"EventRecordID":6577,"Correlation":null,"Execution":{"#attributes":'
    '{"ProcessID":1912,"ThreadID":996}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"IEWIN7",'
    '"Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"RuleName":"","UtcTime":"2019-04-27 15:57:53.368",'
    '"ProcessId":2680,"Image":"C:\\\\Users\\\\IEUser\\\\Downloads\\\\Flash_update.exe"}}}'
)
