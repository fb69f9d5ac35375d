"""The end of `make demo`: `python -m swk.reports.demo DIR` writes DIR/incident.html and prints its path.

It reports on DIR/case.parquet, the case the demo built; without one (a demo step not run yet) it reports on the
sample incident of `swk.reports.sample`, written to DIR/sample-case.parquet.
"""

from __future__ import annotations

import sys
from pathlib import Path

from swk.reports.report import write_report
from swk.reports.sample import write_incident


def main(out_dir: str = "demo") -> Path:
    """Write `<out_dir>/incident.html`, print its absolute path, and return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    case = out / "case.parquet"
    if not case.exists():
        case = write_incident(out / "sample-case.parquet")
    written = write_report(case, out / "incident.html")
    print(written.path.resolve())
    return written.path


if __name__ == "__main__":
    main(*sys.argv[1:2])
