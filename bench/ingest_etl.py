"""ETL ingest: a Sleepwalker .etl from our writer (the realistic mix of the seven families plus TI) through
`swk ingest` (`swk.capture.ingest.ingest`, zstd Parquet case), events/s end to end and peak RSS.

Baseline, in the same run: the same ingest with the reader decoding one record at a time (`reader.read_records`,
the reference the chunked reader equals item for item), so the ratio is what the vectorised path buys. Inputs are
generated once under .bench/ by `prepare` (not measured): 1 M events (615 MB) and 4 M (2.4 GB); 4 M against 1 M
shows whether the rate and peak RSS stay flat in file size. Informative: etl-parser (`.bench/venv`, `python -m
venv .bench/venv && .bench/venv/bin/pip install etl-parser`, never a dependency) decoding the first 8 MB of the same
file (it builds the whole file's structure in memory first).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import ROOT, WORK, Measure

VENV_PY = ROOT / ".bench" / "venv" / "bin" / "python"


def etl_file(events: int) -> Path:
    """`.bench/sleepwalker-<events>.etl`, written by our writer on first use."""
    path = WORK / f"sleepwalker-{events}.etl"
    if not path.exists():
        from swk.capture.etl import sample, writer
        from swk.capture.outputs import OutputContext

        WORK.mkdir(exist_ok=True)
        writer.write(sample.batches(events, seed=7), path, OutputContext(boot_ns=1_772_400_000 * 10**9))
    return path


def prepare(events: int) -> int:
    """Build the input before the measured runs."""
    etl_file(events)
    return events


def ingest(events: int) -> int:
    """`swk ingest` of the file into a zstd Parquet case; returns rows + rejects written."""
    from swk.capture.ingest import Options
    from swk.capture.ingest import ingest as run

    manifest = run([etl_file(events)], WORK / f"etl-{events}.parquet", Options(host="BENCH"))
    return manifest["rows"] + manifest["rejects"]


def ingest_per_record(events: int) -> int:
    """The same ingest with the ETL reader decoding one record at a time (the baseline)."""
    from swk.capture.etl import reader

    reader.read = reader.read_records  # this process only: the benchmark's own child
    return ingest(events)


ETL_PARSER = """
import sys
from etl.etl import IEtlFileObserver, build_from_stream
class O(IEtlFileObserver):
    n = 0
    def on_event_record(self, event):
        O.n += 1
        try:
            event.parse_tracelogging()
        except Exception:  # its TraceLogging decoder has no HEXINT64: counted, not decoded
            pass
    def on_trace_record(self, event): pass
    def on_perfinfo_trace(self, obj): pass
    def on_system_trace(self, obj): pass
    def on_win_trace(self, obj): pass
data = open(sys.argv[1], 'rb').read(int(sys.argv[2]))
build_from_stream(data).parse(O())
print(O.n)
"""


def etl_parser(events: int, limit_bytes: int = 8 << 20) -> int:
    """etl-parser decoding the first `limit_bytes` of the same file (whole buffers), in the bench venv."""
    path = etl_file(events)
    out = subprocess.run([str(VENV_PY), "-c", ETL_PARSER, str(path), str(limit_bytes)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


MEASURES = [
    Measure("etl ingest 1M Sleepwalker events (swk ingest)", "ingest_etl:ingest", {"events": 1_000_000},
            baseline="ingest_etl:ingest_per_record", unit="events/s", prepare="ingest_etl:prepare"),
    Measure("etl ingest 4M Sleepwalker events (swk ingest)", "ingest_etl:ingest", {"events": 4_000_000},
            baseline="ingest_etl:ingest_per_record", unit="events/s", prepare="ingest_etl:prepare"),
    Measure("etl-parser, first 8 MB of the 1M file", "ingest_etl:etl_parser", {"events": 1_000_000},
            unit="events/s", runs=1, prepare="ingest_etl:prepare"),
]  # fmt: skip

if __name__ == "__main__":
    print(ingest(int(sys.argv[1])))
