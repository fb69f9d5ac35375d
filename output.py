"""Tabular output shared by every command: table, json, jsonl (alias nl) and csv, to one stream.

Values that reach a terminal table go through `for_terminal`, because paths, command lines and registry values are
attacker-controlled; machine formats (json, csv) keep them exact, escaped by their own syntax.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from swk.safe import for_terminal

FORMATS = ("table", "json", "jsonl", "csv")
MAX_CELL = 120


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def cell(value: Any) -> str:
    """A value as table text: terminal-safe, one line, long values cut with an ellipsis."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
    elif isinstance(value, list | tuple | dict):
        value = json.dumps(_jsonable(value), separators=(",", ":"))
    text = for_terminal(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join([line, rule, *body])


def write_rows(rows: Iterable[Sequence[Any]], columns: Sequence[str], fmt: str, out: TextIO) -> int:
    """Write rows in `fmt`; returns how many were written."""
    count = 0
    if fmt == "table":
        rows = list(rows)
        out.write(table(rows, columns) + "\n")
        return len(rows)
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else json.dumps(_jsonable(v)) if isinstance(v, list | dict) else
                             _jsonable(v) for v in row])  # fmt: skip
            count += 1
        return count
    if fmt in ("jsonl", "nl"):
        for row in rows:
            out.write(json.dumps(dict(zip(columns, map(_jsonable, row), strict=True)), ensure_ascii=False) + "\n")
            count += 1
        return count
    if fmt == "json":
        out.write("[")
        for row in rows:
            out.write(("," if count else "") + "\n  " + json.dumps(
                dict(zip(columns, map(_jsonable, row), strict=True)), ensure_ascii=False))  # fmt: skip
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count
    raise ValueError(f"unknown output format {fmt!r}")


def write_document(doc: Any, out: TextIO) -> None:
    """One JSON document, pretty-printed."""
    out.write(json.dumps(_jsonable(doc), indent=2, ensure_ascii=False) + "\n")


def terminal_width() -> int:
    """Width of the terminal, or 120 when not a terminal."""
    return shutil.get_terminal_size((120, 24)).columns
