"""The controller's log (spec 4.8) from case rows: one `[ETW][SYNTH]` line per synthetic detection (spec 3.11).

These lines are the only record of the controller's mark-chain detections outside the IPC stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from swk.capture.outputs import OutputContext
from swk.capture.text import render as r

COLUMNS = ("kind", "family", "detection_name", "severity", "actor_pid", "target_pid", "marks")
STARTED = "[*] SleepwlkrController: ETW session started. threat-intel=enabled tiEnableErr=0"


def synth_line(row: dict) -> str:
    """`[ETW][SYNTH] detection=<name> severity=<n> actor=<pid> target=<pid> marks=0x<%llX>`."""
    return (f"[ETW][SYNTH] detection={row['detection_name'] or ''} severity={r.u32(row['severity'])}"
            f" actor={r.u64(row['actor_pid'])} target={r.u64(row['target_pid'])} marks=0x{r.u64(row['marks']):X}")  # fmt: skip


def write(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """Write the controller log; returns the number of `[ETW][SYNTH]` lines."""
    count = 0
    with r.text_output(path, ctx.newline) as out:
        if ctx.status_lines:
            out.append(STARTED)
        for row in r.each(batches, COLUMNS):
            if row["kind"] == r.CONTROLLER_KIND:
                out.append(synth_line(row))
                count += 1
    return count
