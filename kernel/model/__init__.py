"""The executable model of Sleepwalker's detections: the driver's forward logic and the replay of docs/detections.md.

`analyze(rows, table=...)` rebuilds the detections table from case rows, row by row (the reference);
`analyze_batches(batches, table=...)` does the same over column batches, the bulk of the rows array-wise (the fast
path; tested equal to `analyze`). `Driver` runs the driver and its controller forward over host operations (the
generator's engine). Depends on nothing outside `swk.kernel` (and numpy).
"""

from __future__ import annotations

from swk.kernel.model.batch import Columns, analyze_batches
from swk.kernel.model.detection import Detection
from swk.kernel.model.replay import COLUMNS, FAMILY_COLUMNS, OrderError, analyze

__all__ = ["COLUMNS", "FAMILY_COLUMNS", "Columns", "Detection", "OrderError", "analyze", "analyze_batches"]
