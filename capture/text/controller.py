"""Reader of the controller's log (spec 4.8): `[ETW][SYNTH]` lines become controller detection rows with `marks`;
every other line (`[IPC]`, `[MON]`, `[DRIVER]`, `[*]` ...) is skipped and counted.

The log has no timestamps (`ts` NULL). A disconnect line that reports dropped records or ETW events is kept as a
warning, since drops explain detections the case cannot reconstruct.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.text import parse as p
from swk.capture.text.lines import DamagedError, batched, check_format, numbered_lines, reject_lines, sniff_with

NAME = "controller"
DESCRIPTION = "SleepwlkrController log ([ETW][SYNTH] synthetic detections; [IPC]/[MON]/[DRIVER] lines skipped; 4.8)"
_MARK = re.compile(r"\[ETW\]\[SYNTH\] detection=|\[IPC\] (cmd=|client (dis)?connected )|\[MON\] dynamic subscription "
                   r"|\[DRIVER\] (programmed pid subscriptions|subscription set cleared)|\[\*\] SleepwlkrController:"
                   r"|\[ETW\] run loop exited ")  # fmt: skip
_SYNTH = re.compile(r"\[ETW\]\[SYNTH\] detection=(.*) severity=(\d{1,10}) actor=(\d{1,20}) target=(\d{1,20})"
                    r" marks=0x([0-9A-Fa-f]{1,16})")  # fmt: skip
_DROPS = re.compile(r"\[IPC\] client disconnected pid=(\d+) .*\bdropped=(\d+) .*\betwDropped=(\d+)")


def sniff(head: bytes, path: Path) -> bool:
    """A controller log line in the head."""
    return sniff_with(head, _MARK)


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """A row per `[ETW][SYNTH]` line, in file order."""
    check_format(path, sniff, "a SleepwlkrController log")
    yield from batched(_items(path, ctx))


def _items(path: Path, ctx: ReadContext) -> Iterator[dict[str, Any] | Reject]:
    for number, text in numbered_lines(path, ctx):
        if not text:
            continue
        if not text.startswith("[ETW][SYNTH] "):
            if (drops := _DROPS.match(text)) and (int(drops[2]) or int(drops[3])):
                ctx.warn(f"line {number}: the controller dropped {drops[2]} records and {drops[3]} ETW events "
                         f"for client pid {drops[1]}")  # fmt: skip
            ctx.skip()
            continue
        try:
            yield {**_synth(text), "source_offset": number}
        except (DamagedError, ValueError, OverflowError) as exc:
            yield reject_lines([(number, text)], f"[ETW][SYNTH] line: {exc}")


def _synth(text: str) -> dict[str, Any]:
    m = _SYNTH.fullmatch(text)
    if m is None:
        raise DamagedError("the line does not parse")
    return {"family": "detection", "kind": "sleepwalker:controller:detection", "detection_name": m[1],
            "severity": p.small(m[2]), "actor_pid": p.u64(m[3], 10), "target_pid": p.u64(m[4], 10),
            "marks": p.u64(m[5].upper())}  # fmt: skip
