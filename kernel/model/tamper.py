"""Anti-tamper (spec 3.10): a 5000 ms timer checks the driver object and emits only when the mask changes.

A new non-zero mask raises DRIVER_DISPATCH_OR_OBJECT_TAMPER (again on a change between two non-zero masks); a
return to 0 raises DRIVER_DISPATCH_OR_OBJECT_TAMPER_CLEARED. processId is 4 (System), targetPid 0. No telemetry
carries the mask, so these detections cannot be reconstructed from a case (docs/detections.md section 7).
"""

from __future__ import annotations

from swk.kernel.model.timing import TAMPER_PERIOD_MS, US_PER_MS

TAMPER = "DRIVER_DISPATCH_OR_OBJECT_TAMPER"
CLEARED = "DRIVER_DISPATCH_OR_OBJECT_TAMPER_CLEARED"


class AntiTamper:
    """The last mask and the timer's schedule."""

    def __init__(self, loaded_us: int) -> None:
        self.loaded_us = loaded_us
        self.mask = 0

    def ticks(self, start_us: int, end_us: int) -> range:
        """Timer firings in [start_us, end_us): every 5000 ms after load, the first 5000 ms after it."""
        period = TAMPER_PERIOD_MS * US_PER_MS
        first = self.loaded_us + period
        if start_us > first:
            first += -(-(start_us - first) // period) * period
        return range(first, end_us, period)

    def check(self, mask: int) -> str | None:
        """The detection this check raises (None when the mask did not change)."""
        previous, self.mask = self.mask, mask
        if mask == previous:
            return None
        return TAMPER if mask else CLEARED
