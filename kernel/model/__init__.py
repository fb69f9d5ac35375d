"""The executable model of Sleepwalker's detections: the driver's forward logic and the replay of docs/detections.md.

`analyze(rows, table=...)` rebuilds the detections table from case rows; `Driver` runs the driver and its
controller forward over host operations (the generator's engine). Depends on nothing outside `swk.kernel`.
"""

from __future__ import annotations

from swk.kernel.model.detection import Detection
from swk.kernel.model.replay import COLUMNS, FAMILY_COLUMNS, OrderError, analyze

__all__ = ["COLUMNS", "FAMILY_COLUMNS", "Detection", "OrderError", "analyze"]
