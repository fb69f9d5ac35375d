"""Attacker-controlled strings on their way to a terminal: control and escape sequences removed."""

from __future__ import annotations

import re

# CSI/OSC/other ESC sequences first (so their parameters go too), then any C0/C1 control or bidi override.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def for_terminal(text: object) -> str:
    """`text` with escape sequences, control characters (tab and newline become spaces) and bidi overrides removed."""
    s = "" if text is None else str(text)
    s = _ESCAPES.sub("", s)
    s = s.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROLS.sub("", s)
