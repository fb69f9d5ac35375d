"""`truth.json`: every detection the simulated driver and controller raised, with the case rows as evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swk.kernel.model.detection import Detection, Raised

FIELDS = ("rule", "name", "severity", "engine", "actor_pid", "target_pid", "ts", "first_ts", "last_ts", "reason",
          "corr_flags", "corr_access_mask", "corr_age_ms", "marks", "attack", "evidence", "trigger_event_id",
          "live_event_id")  # fmt: skip


def truth_rows(raised: list[Raised]) -> list[Detection]:
    """The raised detections as detections-table rows, ordered and numbered as `analyze` numbers them."""
    ordered = sorted(raised, key=Raised.order)
    return [r.to_detection(i, "live", r.live_event_id) for i, r in enumerate(ordered, start=1)]


def record(d: Detection) -> dict[str, Any]:
    """One detection as a JSON object (times in µs since the Unix epoch)."""
    out = {k: getattr(d, k) for k in FIELDS}
    out["evidence"] = list(d.evidence)
    return out


def write(path: Path, meta: dict[str, Any], detections: list[Detection]) -> None:
    """Write truth.json: one detection per line, so a large file stays readable and quick to write."""
    with path.open("w") as fh:
        fh.write('{"simulation": ' + json.dumps(meta, sort_keys=True) + f',\n "count": {len(detections)},\n')
        fh.write(' "detections": [\n')
        fh.write(",\n".join("  " + json.dumps(record(d)) for d in detections))
        fh.write("\n ]\n}\n")


def load(path: Path) -> dict[str, Any]:
    """Read truth.json back."""
    return json.loads(Path(path).read_text())
