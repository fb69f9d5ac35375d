"""`make bench`: run every benchmark module's measures and print one table (measure, value, baseline, ratio, RSS).

`python bench/run.py ingest_ioctl analyze` runs only those modules. Results also go to `.bench/results.json`.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import WORK, format_rows, measure  # noqa: E402

MODULES = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in {"harness", "run"} and not p.stem.startswith("_"))


def main(names: list[str]) -> None:
    """Run the named benchmark modules (all when none are named)."""
    rows = []
    for name in names or MODULES:
        module = importlib.import_module(name)
        for m in module.MEASURES:
            print(f"... {m.name}", file=sys.stderr, flush=True)
            rows.append(measure(m))
    WORK.mkdir(exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(rows, indent=2))
    print(format_rows(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
