"""`swk simulate`: a deterministic Windows 11 host under Sleepwalker, with techniques whose detections are known.

What happened (benign activity and technique scenarios) runs through the forward model of the driver and its
controller (`swk.kernel.model.driver`), which decides what Sleepwalker recorded and raised. A run writes a case,
`truth.json` and any of Sleepwalker's own output formats.
"""

from __future__ import annotations

from swk.capture.simulate import evasion, techniques  # noqa: F401  (they register the scenarios)
from swk.capture.simulate.case_rows import case_columns, case_rows
from swk.capture.simulate.run import Options, Result, simulate
from swk.capture.simulate.scenario import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "Options", "Result", "Scenario", "case_columns", "case_rows", "simulate"]
