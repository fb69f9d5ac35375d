"""Sysmon logs through `swk ingest`, against the parse alone: EVTX against pyevtx-rs, JSON lines against json.loads.

Inputs are the public captures in shared/data (270 small EVTX files, 7 OTRF zips), plus one large EVTX made once
under .bench/ from the corpus's own chunks repeated (a chunk is self-contained, so the copy is a valid log), to show
the rate without per-file costs and that memory stays flat, and the corpus's files copied 8 times over, a triage of
many small logs (read by worker processes, which the corpus alone is too small for). Each measure counts events
written (ingest) or parsed (baseline), so the ratio is events/s against events/s.

The baseline is pyevtx-rs's `records_json()` and a `json.loads` of every record: its fastest route to values
Python can use (the XML route and the bare strings are measured beside it). swk (every reader) and pyarrow are
imported with this module, before any timing, as pyevtx-rs is: a run pays that startup once (about 0.5 s here, more
when bytecode is not cached), and it is not part of a rate. Everything after it is timed: planning and sniffing,
hashing, starting worker processes (their forkserver imports swk and pyarrow), decoding, mapping, and writing the
case.

The large inputs are also measured in one process (no workers): on a machine whose cores are busy with other work,
workers cannot run side by side and only add their cost (starting, passing blocks and batches between processes),
so that line shows the reader's own rate against the same baseline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import zipfile
from pathlib import Path

from evtx import PyEvtxParser
from harness import WORK, Measure

from swk import capture
from swk.capture.ingest import Options
from swk.capture.ingest import ingest as run
from swk.testdata import shared_data

for _name in capture.FORMATS:  # every reader, as `swk ingest` loads them to sniff: startup, not a rate
    capture.load(_name)

DATA = shared_data()
EVTX_DIR = DATA / "evtx-attack-samples"
OTRF_DIR = DATA / "otrf"
LARGE_COPIES = 32  # 262,400 events: two of the writer's 131,072-row groups, to show memory stays flat
MANY_COPIES = 8  # 2,160 small files, 65,600 events: past `evtx_file.PARALLEL_RECORDS`, so read by workers


def _evtx_files() -> list[Path]:
    return sorted(EVTX_DIR.rglob("*.evtx"))


def _zips() -> list[Path]:
    return sorted(OTRF_DIR.glob("*.zip"))


def large_evtx(copies: int = LARGE_COPIES) -> Path:
    """One EVTX of every non-empty chunk of the corpus, `copies` times (made once)."""
    out = WORK / "sysmon" / f"corpus-x{copies}.evtx"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    chunks = []
    for path in _evtx_files():
        data = path.read_bytes()
        chunks += [
            data[o : o + 65536] for o in range(4096, len(data) - 65535, 65536) if data[o : o + 8] == b"ElfChnk\0"
        ]
    header = bytearray(_evtx_files()[0].read_bytes()[:4096])
    struct.pack_into("<H", header, 42, min(len(chunks) * copies, 0xFFFF))
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        fh.write(header)
        for _ in range(copies):
            fh.writelines(chunks)
    tmp.replace(out)
    return out


def many_files(copies: int = MANY_COPIES) -> Path:
    """The corpus's files `copies` times over in one directory tree (made once): a triage of many small logs."""
    out = WORK / "sysmon" / f"corpus-files-x{copies}"
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for copy in range(copies):
        shutil.copytree(EVTX_DIR, tmp / f"copy-{copy}")
    tmp.replace(out)
    return out


LARGE = large_evtx()  # made at import, so no measure times their making
HALF = large_evtx(LARGE_COPIES // 2)
MANY = many_files()


def ingest(inputs: list[str], name: str, workers: bool = True) -> int:
    """`swk ingest INPUTS -o .bench/sysmon/<name>.parquet`: events written. Without `workers`, everything is
    decoded in this process (`SWK_WORKERS=1`; each measure runs in its own process, so this ends with it)."""
    if not workers:
        os.environ["SWK_WORKERS"] = "1"
    output = WORK / "sysmon" / f"{name}.parquet"
    output.parent.mkdir(parents=True, exist_ok=True)
    return run([Path(p) for p in inputs], output, Options())["rows"]


def ingest_evtx_corpus() -> int:
    return ingest([str(EVTX_DIR)], "evtx-corpus")


def ingest_evtx_many(workers: bool = True) -> int:
    return ingest([str(MANY)], "evtx-many", workers)


def ingest_evtx_large(workers: bool = True) -> int:
    return ingest([str(LARGE)], "evtx-large", workers)


def ingest_evtx_half() -> int:
    return ingest([str(HALF)], "evtx-half")


def ingest_otrf(workers: bool = True) -> int:
    return ingest([str(OTRF_DIR)], "otrf", workers)


def pyevtx_parse(paths: list[str], decode: bool = True) -> int:
    """pyevtx-rs's own parse: every record's JSON, and json.loads of it unless `decode` is off."""
    n = 0
    for path in paths:
        for record in PyEvtxParser(path).records_json():
            if decode:
                json.loads(record["data"])
            n += 1
    return n


def pyevtx_corpus(decode: bool = True) -> int:
    return pyevtx_parse([str(p) for p in _evtx_files()], decode)


def pyevtx_xml_corpus(decode: bool = True) -> int:
    """The XML route for comparison: `records()` and ElementTree over each record (some records of the corpus are
    not well-formed XML as pyevtx-rs writes them: one more reason to take its JSON)."""
    from xml.etree import ElementTree

    n = 0
    for path in _evtx_files():
        for record in PyEvtxParser(str(path)).records():
            if decode:
                with contextlib.suppress(ElementTree.ParseError):
                    ElementTree.fromstring(record["data"].encode())
            n += 1
    return n


def pyevtx_many(decode: bool = True) -> int:
    return pyevtx_parse([str(p) for p in sorted(MANY.rglob("*.evtx"))], decode)


def pyevtx_large(decode: bool = True) -> int:
    return pyevtx_parse([str(LARGE)], decode)


def json_loads_otrf(decode: bool = True) -> int:
    """A plain json.loads loop over every line of every zip member (the lines only, unless `decode`)."""
    n = 0
    for path in _zips():
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as fh:
                    for line in fh:
                        if line.strip():
                            if decode:
                                json.loads(line)
                            n += 1
    return n


# The baseline's own arguments, spelled out: the harness takes empty baseline arguments as "the measure's own", which
# gave the "no loads" lines a baseline that did not decode either.
_DECODE = {"decode": True}

MEASURES = [
    Measure("sysmon: 270 EVTX files, swk ingest", "ingest_evtx:ingest_evtx_corpus",
            baseline="ingest_evtx:pyevtx_corpus", unit="events/s"),
    Measure("sysmon: 270 EVTX, records_json strings (no loads)", "ingest_evtx:pyevtx_corpus", {"decode": False},
            baseline="ingest_evtx:pyevtx_corpus", baseline_kwargs=_DECODE, unit="events/s"),
    Measure("sysmon: 270 EVTX, records() XML + ElementTree", "ingest_evtx:pyevtx_xml_corpus",
            baseline="ingest_evtx:pyevtx_corpus", baseline_kwargs=_DECODE, unit="events/s"),
    Measure("sysmon: 270 EVTX, records() XML strings (no parse)", "ingest_evtx:pyevtx_xml_corpus",
            {"decode": False}, baseline="ingest_evtx:pyevtx_corpus", baseline_kwargs={"decode": False},
            unit="events/s"),
    Measure(f"sysmon: corpus files x{MANY_COPIES} ({MANY_COPIES * 270:,} EVTX files), swk ingest",
            "ingest_evtx:ingest_evtx_many", baseline="ingest_evtx:pyevtx_many", unit="events/s"),
    Measure(f"sysmon: corpus files x{MANY_COPIES}, swk ingest in one process", "ingest_evtx:ingest_evtx_many",
            {"workers": False}, baseline="ingest_evtx:pyevtx_many", baseline_kwargs=_DECODE, unit="events/s"),
    Measure(f"sysmon: corpus chunks x{LARGE_COPIES // 2} in one EVTX, swk ingest", "ingest_evtx:ingest_evtx_half",
            unit="events/s"),
    Measure(f"sysmon: corpus chunks x{LARGE_COPIES} in one EVTX, swk ingest", "ingest_evtx:ingest_evtx_large",
            baseline="ingest_evtx:pyevtx_large", unit="events/s"),
    Measure(f"sysmon: chunks x{LARGE_COPIES}, swk ingest in one process", "ingest_evtx:ingest_evtx_large",
            {"workers": False}, baseline="ingest_evtx:pyevtx_large", baseline_kwargs=_DECODE, unit="events/s"),
    Measure("sysmon: 7 OTRF zips (JSON lines), swk ingest", "ingest_evtx:ingest_otrf",
            baseline="ingest_evtx:json_loads_otrf", unit="events/s"),
    Measure("sysmon: 7 OTRF zips, swk ingest in one process", "ingest_evtx:ingest_otrf", {"workers": False},
            baseline="ingest_evtx:json_loads_otrf", baseline_kwargs=_DECODE, unit="events/s"),
]  # fmt: skip
