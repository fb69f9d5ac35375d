"""The report's own queries (`queries/*.sql`, package data): loaded once, run with named parameters."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import duckdb


@cache
def query(name: str) -> str:
    """A report query from the package's `queries/` folder."""
    return (files("swk.reports") / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def rows(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[dict[str, Any]]:
    """Run a report query, binding those of `params` it names (`$name`); rows as dicts."""
    sql = query(name)
    cur = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    if cur.description is None:
        return []
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
