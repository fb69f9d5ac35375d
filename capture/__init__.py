"""Input formats: one module each, listed in one registry, so `swk ingest` can take any mix of inputs.

`FORMATS` maps a format name to its module; modules are imported on first use so a reader's optional dependency
costs nothing to the others. Sniffing tries them in this order: binary magics first, text shapes last.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FORMATS: dict[str, str] = {
    "ioctl": "swk.capture.ioctl",
    "evtx": "swk.capture.sysmon.evtx_file",
    "etl": "swk.capture.etl.reader",
    "jsonl": "swk.capture.text.jsonl",
    "winlog-jsonl": "swk.capture.sysmon.json_lines",
    "suite": "swk.capture.text.suite",
    "console": "swk.capture.text.console",
    "printer": "swk.capture.text.printer",
    "controller": "swk.capture.text.controller",
}


def load(name: str) -> ModuleType:
    """The reader module registered as `name`."""
    return importlib.import_module(FORMATS[name])
