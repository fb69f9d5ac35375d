"""Any JSON value where a Windows event's name or field should be, and EVTX files with bytes changed: every event is
a row or a skip or a reject, never a traceback, and each input's counts reconcile (read = written + rejected).

Both sweeps are seeded, so a failure names the case that broke and reruns the same way. They found two crashes: an
EVTX record whose changed bytes made its provider name a number (the mapping lower-cased it), and a Security 4656
whose ObjectType was an object (looked up in a set).
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import pytest

from swk.capture.ingest import Options, ingest
from swk.capture.sysmon import json_lines
from swk.capture.sysmon.events import from_evtx_json
from swk.capture.sysmon.evtx_chunks import CHUNK_MAGIC, CHUNK_SIZE, FILE_HEADER_SIZE
from swk.capture.sysmon.samples import PROCESS_ACCESS, collect, otrf_line

ODD_VALUES: list[object] = [0, -1, 2**64, 1.5, True, None, "", "-", {"a": 1}, [1, "x"], {"#text": "x"},
                            {"#attributes": {"Name": 5}}, "\x00\x1b[31m", "0x" + "f" * 20, "9" * 30,
                            "2020-13-45 99:99:99", "Process", "Thread"]  # fmt: skip


def _reconciled(path: Path, out: Path) -> dict[str, object]:
    manifest = ingest([path], out, Options())
    (stats,) = manifest["inputs"]
    assert stats["read"] == stats["written"] + stats["rejected"], stats
    return stats


def test_a_number_as_channel_or_provider_is_its_text():
    """A changed EVTX record gave `"Provider":{"#attributes":{"Name":5}}`; the mapping keys on these names."""
    event = {"System": {"Provider": {"#attributes": {"Name": 5}}, "EventID": 10, "Channel": 7.5,
                        "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}}},
             "EventData": {"SourceProcessId": 1}}  # fmt: skip
    parsed = from_evtx_json(event)
    assert (parsed.channel, parsed.provider) == ("7.5", "5")
    event["System"]["Channel"] = {"#text": "Security", "#attributes": {}}
    event["System"]["Provider"] = {"#attributes": {"Name": ["x"]}}
    parsed = from_evtx_json(event)
    assert (parsed.channel, parsed.provider) == ("Security", None)


def test_odd_values_in_names_and_fields_of_flat_lines(tmp_path):
    lines = [otrf_line(10, PROCESS_ACCESS, Channel=5), otrf_line(10, PROCESS_ACCESS, SourceName={"a": 1}),
             otrf_line(4656, {"ObjectType": {"a": 1}, "ProcessId": "0x1f4"}, channel="Security"),
             otrf_line(4663, {"ObjectType": ["Process"], "AccessMask": 16}, channel="Security"),
             otrf_line(4656, {"ObjectType": "Process", "ProcessId": "0x1f4"}, channel="Security")]  # fmt: skip
    path = tmp_path / "x.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = collect(json_lines, path)
    assert out.rejects == [] and out.ctx.skipped == 0
    assert out.column("kind") == ["eventlog:5:10", "sysmon:10", "security:4656", "security:4663", "security:4656"]
    assert out.column("family") == ["generic", "handle", "generic", "generic", "handle"]


def _samples(shared_data: Path, rng: random.Random) -> dict[str, list[dict[str, object]]]:
    """Real events in the three JSON shapes: OTRF flat objects, `evtx_dump`'s {"Event": ...}, and Winlogbeat."""
    flat: list[dict[str, object]] = []
    for name in ("LSASS_campaign_01_metasploit_logonpasswords_lsass_memory_dump.zip",
                 "covenant_lolbin_wuauclt_createremotethread.zip"):  # fmt: skip
        with zipfile.ZipFile(shared_data / "otrf" / name) as zf:
            for info in zf.infolist():
                lines = [line for line in zf.read(info).split(b"\n") if line.strip()]
                flat += [json.loads(line) for line in rng.sample(lines, min(400, len(lines)))]
    from evtx import PyEvtxParser

    nested = []
    for path in sorted((shared_data / "evtx-attack-samples").rglob("*.evtx"))[::9]:
        nested += [{"Event": json.loads(r["data"])["Event"]} for r in PyEvtxParser(str(path)).records_json()]
    beat = [{"@timestamp": o.get("@timestamp"),
             "winlog": {"event_id": o.get("EventID"), "channel": o.get("Channel"), "provider_name": o.get("SourceName"),
                        "computer_name": o.get("Hostname"), "record_id": o.get("RecordNumber"),
                        "process": {"pid": o.get("ExecutionProcessID"), "thread": {"id": o.get("ThreadID")}},
                        "event_data": {k: v for k, v in o.items() if k[:1].isupper()}}} for o in flat[:400]]  # fmt: skip
    return {"flat": flat, "evtx_dump": nested, "winlogbeat": beat}


def _change(obj: object, rng: random.Random, depth: int = 0) -> None:
    """Put an odd value at a random place in `obj` (often deep: inside System, Execution, event_data, ...)."""
    if isinstance(obj, dict) and obj:
        key = rng.choice(list(obj))
        if isinstance(obj[key], dict | list) and depth < 6 and rng.random() < 0.7:
            _change(obj[key], rng, depth + 1)
        else:
            obj[key] = json.loads(json.dumps(rng.choice(ODD_VALUES)))
    elif isinstance(obj, list) and obj:
        obj[rng.randrange(len(obj))] = json.loads(json.dumps(rng.choice(ODD_VALUES)))


@pytest.mark.parametrize("shape", ["flat", "evtx_dump", "winlogbeat"])
def test_any_value_anywhere_in_json_lines_reconciles(shared_data, tmp_path, shape):
    rng = random.Random(f"values-{shape}")
    events = _samples(shared_data, rng)[shape]
    for case in range(12):
        lines = []
        for event in rng.sample(events, 150):
            event = json.loads(json.dumps(event))
            for _ in range(rng.choice((1, 2, 5))):
                _change(event, rng)
            lines.append(json.dumps(event))
        path = tmp_path / f"{shape}-{case}.json"
        path.write_text("\n".join(lines) + "\n")
        stats = _reconciled(path, tmp_path / f"{shape}-{case}.parquet")
        assert stats["read"] + stats["skipped"] == 150, (case, stats)


def test_evtx_with_changed_bytes_reconciles(shared_data, tmp_path):
    rng = random.Random("evtx-bytes")
    files = sorted((shared_data / "evtx-attack-samples").rglob("*.evtx"), key=lambda p: (-p.stat().st_size, p))
    for case in range(30):
        source = rng.choice(files[:40])
        data = bytearray(source.read_bytes())
        chunks = [o for o in range(FILE_HEADER_SIZE, len(data), CHUNK_SIZE) if data[o : o + 8] == CHUNK_MAGIC]
        chunk = rng.choice(chunks)
        start = 0 if rng.random() < 0.3 else 512  # the chunk header too, or only its records
        for _ in range(rng.choice((1, 4, 16, 64))):
            at = chunk + rng.randrange(start, CHUNK_SIZE)
            if at < len(data):
                data[at] = rng.randrange(256)
        path = tmp_path / f"{case}.evtx"
        path.write_bytes(bytes(data))
        _reconciled(path, tmp_path / f"{case}.parquet")
