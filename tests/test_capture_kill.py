"""A capture killed with SIGKILL mid-run leaves only complete parts, and their newest manifest counts them exactly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from swk.capture.ioctl_encode import realistic_records, write_records
from swk.store.reader import open_case
from swk.store.summary import summarize

CHILD = """
import sys
from pathlib import Path
from swk.capture.live.loop import CaptureLoop, LoopOptions
from swk.capture.live.recorded import RecordedSource

recording, out = Path(sys.argv[1]), Path(sys.argv[2])
source = RecordedSource(recording, chunk_records=1_000, repeat=1_000_000)  # runs until it is killed
CaptureLoop([source], LoopOptions(out, "WS01", rotate_events=5_000, health_seconds=0)).run()
"""


def test_sigkill_mid_run_leaves_complete_parts_that_reconcile(tmp_path: Path):
    recording = write_records(tmp_path / "events.bin", realistic_records(20_000, seed=5))
    out = tmp_path / "case"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(recording), str(out)])
    try:
        deadline = time.monotonic() + 60
        while len(list(out.rglob("part-*.parquet"))) < 4:
            assert child.poll() is None, f"the capture exited early with {child.returncode}"
            assert time.monotonic() < deadline, "no parts appeared within a minute"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    files = sorted(out.rglob("part-*.parquet"))
    case = open_case(out)  # checks every visible part's footer: a torn part would fail here
    summary = summarize(case)  # and reads every row of every part
    merged = case.manifest
    assert [pq.read_metadata(f).num_rows for f in files] == [5_000] * len(files)
    assert merged["rows"] + merged["rejects"] == summary["rows"] == 5_000 * len(files)
    assert merged["families"] == summary["families"]
    assert sorted(merged["runs"][0]["parts"]) == [str(f.relative_to(out)) for f in files]
    (stats,) = merged["inputs"]
    assert stats["written"] == stats["read"] == summary["rows"]
    # What the kill interrupted is at most a hidden temporary sibling, which no reader takes for a part.
    others = [p for p in out.rglob("*") if p.is_file() and p not in files]
    assert all(p.name.startswith(".part-") and ".tmp-" in p.name for p in others), others
