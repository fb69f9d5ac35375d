"""`make demo`: simulate a busy Windows 11 host under Sleepwalker, ingest its IOCTL records, print the case summary.

Writes DIR/case.parquet (every event the driver recorded and every detection it raised), DIR/truth.json,
DIR/events.bin (the IOCTL records a client would have read) and DIR/records.parquet (events.bin read back through
`swk ingest`, with the boot time the simulation used), then prints what the case holds and what was raised.
"""

from __future__ import annotations

import sys
from pathlib import Path

from swk.capture.ingest import Options as IngestOptions
from swk.capture.ingest import ingest
from swk.capture.simulate.run import Options, simulate
from swk.store.reader import open_case
from swk.store.summary import render, summarize

DEMO_EVENTS = 200_000


def main(out_dir: str = "demo", events: int = DEMO_EVENTS) -> None:
    """Simulate into `out_dir`, ingest the record file, print the summaries."""
    out = Path(out_dir)
    result = simulate(out, Options(events=events, formats=("ioctl",)))
    records = out / "records.parquet"
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    say(f"$ swk ingest {result.outputs['ioctl']} -o {records} --boot-time {result.meta['boot_time']}")
    manifest = ingest([result.outputs["ioctl"]], records, IngestOptions(host=result.meta["host"],
                      boot_time=result.boot_time), announce=say)  # fmt: skip
    print(render(summarize(open_case(result.case))))
    print(f"\nrecords   {records}: {manifest['rows']:,} IOCTL records, {manifest['rejects']:,} rejects")
    print(f"truth     {result.truth}: {sum(result.detections.values()):,} detections raised live")
    for rule, count in result.detections.most_common():
        print(f"  {count:>8,}  {rule}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
