"""`make demo` (for now): build a realistic IOCTL record file from the ABI, ingest it, print the case summary."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from swk.capture.ingest import Options, ingest
from swk.capture.ioctl_encode import realistic_records, write_records
from swk.store.reader import open_case
from swk.store.summary import render, summarize

BOOT = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def main(out_dir: str) -> None:
    """Write `<out_dir>/events.bin` (20,000 records plus one damaged record and a torn tail) and its case."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = realistic_records(20_000, seed=7)
    data = bytearray(records.tobytes())
    data[768 * 1000 + 64 : 768 * 1000 + 68] = (97).to_bytes(4, "little")  # record 1000: FrameCount=97
    data += records[:1].tobytes()[:100]  # a torn final record
    events = out / "events.bin"
    write_records(events, [bytes(data)])
    case = out / "case.parquet"
    ingest([events], case, Options(host="WS01", boot_time=BOOT), announce=lambda m: print(m, file=sys.stderr))
    print(render(summarize(open_case(case))))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo")
