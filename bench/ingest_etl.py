"""ETL ingest: a Sleepwalker .etl from our writer (the realistic mix of the seven families plus TI) through
`swk ingest`, events/s end to end and peak RSS, against etl-parser (bench venv only) decoding the same file.

Inputs are generated once under .bench/ (1 M and 4 M events; 4 M shows RSS stays flat in file size). etl-parser runs
from `.bench/venv` (`python -m venv .bench/venv && .bench/venv/bin/pip install etl-parser`); it is never a dependency.
It builds the whole file's structure in memory first, so it is given the first 8 MB (whole buffers) of the file.
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


def ingest(events: int) -> int:
    """`swk ingest` of the file into a case (the CLI, in this process)."""
    from click.testing import CliRunner

    from swk.cli import cli

    path = etl_file(events)
    out = WORK / f"etl-{events}.parquet"
    result = CliRunner().invoke(cli, ["ingest", str(path), "-o", str(out), "-q"])
    if result.exit_code:
        raise RuntimeError(result.output)
    return events


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
            baseline="ingest_etl:etl_parser", baseline_kwargs={"events": 1_000_000}, unit="events/s"),
    Measure("etl ingest 4M Sleepwalker events (swk ingest)", "ingest_etl:ingest", {"events": 4_000_000},
            unit="events/s", runs=1),
]  # fmt: skip

if __name__ == "__main__":
    print(ingest(int(sys.argv[1])))
