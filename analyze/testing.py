"""Small cases from row dicts, for tests, examples and `swk sql` demos: exact rows in, a real case file out.

A row is a dict keyed by case columns; `ms` (milliseconds after `T0`, None for no time) or `us` (Unix µs) may stand for `ts`, and a
row without `host` gets the writer's host. Every row keeps its position as its event id (1, 2, ...), so a test
can name evidence by index.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.store.schema import EVENTS
from swk.store.writer import CaseWriter

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000


def at(ms: float) -> datetime:
    """The time `ms` milliseconds after T0 (fractions are microseconds)."""
    return T0 + timedelta(microseconds=round(ms * 1000))


def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if "ms" in out:
        ms = out.pop("ms")
        out["ts"] = None if ms is None else at(ms)
    elif "us" in out:
        out["ts"] = T0 + timedelta(microseconds=out.pop("us") - T0_US)
    return out


def table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table in the case's types (only the columns the rows name)."""
    rows = [_row(r) for r in rows]
    names = {k for r in rows for k in r}
    unknown = names - set(EVENTS.names)
    if unknown:
        raise ValueError(f"not case columns: {sorted(unknown)}")
    schema = pa.schema([f for f in EVENTS if f.name in names])
    return pa.Table.from_pylist(rows, schema=schema)


def write_case(path: Path, rows: Iterable[dict[str, Any]], *, host: str = "WS01", partitioned: bool = False) -> Path:
    """Write `rows` as a case at `path` (event ids 1..n in row order) and return the path."""
    with CaseWriter(Path(path), partitioned=partitioned, command="test") as writer:
        writer.begin_input("rows", "simulate", host=host)
        writer.write(table(rows))
    return Path(path)
