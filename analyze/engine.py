"""Opens a case in DuckDB: the `events` relation over its Parquet files, then every view of `views/*.sql` in order.

The views are package data loaded through `importlib.resources` (never a repository path), one
`CREATE OR REPLACE VIEW <stem> AS ...` per file. For a whole analysis the engine can run the few views that many
others read as temporary tables instead (the same SQL, computed once): DuckDB inlines a view at every reference,
and the detections read the thread rows, the mark-chain windows and the reconstructed set several times each.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from swk.errors import CaseError, SwkError
from swk.store.reader import Case, open_case

if TYPE_CHECKING:
    from swk.analyze.allow import Entry

_VIEW = re.compile(r"^CREATE OR REPLACE VIEW (\w+) AS\b", re.MULTILINE)
_STEM = re.compile(r"^\d{3}_(\w+)$")

# Read by several later views and costly to recompute; materialised for `swk analyze` and `swk sql`. Each scan of
# `events` decodes its columns for every row of the case whatever the family filter, so a family view read by
# several rules is scanned once here. None holds evidence lists, so memory stays proportional to narrow columns.
MATERIALIZED = frozenset({
    "handle_ops", "apc_intents", "image_loads", "thread_rows", "thread_starts", "thread_intents", "thread_rule_matches", "apc_monitor", "mark_chain_steps",
    "mark_chain_windows", "mark_chain_strong", "mark_chain_medium", "live_detections", "reconstructed", "detection_facts",
})  # fmt: skip

# What DuckDB 2 needs for our queries: UTC timestamps out; ASOF joins over hive directories otherwise degenerate to
# a nested loop (shared/notes/libraries.md) should a user write one in `swk sql`; insertion order is not needed
# (every ordered result says ORDER BY) and keeping it costs memory.
SETTINGS = {
    "TimeZone": "UTC",
    "asof_loop_join_threshold": 0,
    "preserve_insertion_order": False,
    "enable_progress_bar": False,  # it would draw on the terminal between our own lines
}


# Measured on 10 M generator events: 1.5 GB of DuckDB buffers gives ~1.6 GB peak RSS at the same speed; 1 GB
# spills and takes longer.
MEMORY_LIMIT = "1536MB"


class ViewError(SwkError):
    """A view file that does not load."""

    hint = "this is a bug in swk's views; please report it with the file named here"


@dataclass(frozen=True)
class View:
    """One packaged view: its load order, name and SQL text."""

    file: str
    name: str
    sql: str


def views(allow: Sequence[Entry] = ()) -> list[View]:
    """The packaged views in load order, each checked to create exactly the view its file stem names.

    `allow` (entries of allow-list files) is appended to the built-in `allow_list` view, after it in file order.
    """
    out = []
    for entry in sorted((files("swk.analyze") / "views").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        stem = entry.name[: -len(".sql")]
        text = entry.read_text(encoding="utf-8")
        match = _STEM.match(stem)
        names = _VIEW.findall(text)
        if not match or names != [match.group(1)]:
            raise ViewError(f"views/{entry.name}: must hold one CREATE OR REPLACE VIEW named after its stem")
        if match.group(1) == "allow_list" and allow:
            text = text.rstrip().removesuffix(";") + "\n" + _allow_rows(allow) + ";\n"
        out.append(View(entry.name, match.group(1), text))
    return out


def _allow_rows(entries: Sequence[Entry]) -> str:
    """`UNION ALL` the entries of allow-list files, as SQL literals (the views are SQL text on both engines)."""
    rows = []
    for n, entry in enumerate(entries, 1001):  # after any built-in entry, in file order
        values = [entry.name, entry.origin, entry.rule, entry.actor_image, entry.target_image, entry.start_module,
                  entry.start_function, entry.note]  # fmt: skip
        literals = ["CAST(NULL AS VARCHAR)" if v is None else sql_string(v) for v in values]
        rows.append(f"    ({n}, {', '.join(literals)})")
    return ("UNION ALL\nSELECT * FROM (VALUES\n" + ",\n".join(rows) + "\n) AS f(entry_order, name, origin, rule, "
            "actor_image, target_image, start_module, start_function, note)")  # fmt: skip


def sql_string(value: str) -> str:
    """`value` as a SQL string literal (single quotes doubled), for the one place a path must be inlined."""
    return "'" + value.replace("'", "''") + "'"


def events_sql(case: Case) -> str:
    """The `events` view over the case's files; hive `host=` folders become the host column."""
    paths = ", ".join(sql_string(str(f)) for f in case.files)
    hive = "true, hive_types = {'host': 'VARCHAR'}" if case.partitioned else "false"
    return (f"CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet([{paths}], "
            f"hive_partitioning = {hive}, union_by_name = true)")  # fmt: skip


def connect(case: Case | str | Path, *, materialize: bool = True, memory_limit: str | None = MEMORY_LIMIT,
            threads: int | None = None, allow: Sequence[Entry] = ()) -> duckdb.DuckDBPyConnection:  # fmt: skip
    """An in-memory DuckDB connection with `events` and every view loaded (the heavy ones as temp tables).

    DuckDB's buffers are capped at `memory_limit` and spill to a directory under the system temp dir beyond it, so
    a whole analysis stays within ~2 GB of RSS whatever the size of the case. `allow` adds allow-list file entries.
    """
    if not isinstance(case, Case):
        case = open_case(case)
    con = duckdb.connect(":memory:")
    for name, value in SETTINGS.items():
        con.execute(f"SET {name} = {value!r}" if isinstance(value, str) else f"SET {name} = {str(value).lower()}")
    if memory_limit:
        con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
        # A directory of our own, created by DuckDB only if it spills and removed by it on close: two analyses at
        # once must not share spill files.
        spill = Path(tempfile.gettempdir()) / f"swk-duckdb-{os.getpid()}-{secrets.token_hex(4)}"
        con.execute(f"SET temp_directory = {sql_string(str(spill))}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        con.execute(events_sql(case))
    except duckdb.Error as exc:
        raise CaseError(f"{case.path}: cannot be read ({str(exc).splitlines()[0]})") from None
    for view in views(allow):
        try:
            load(con, view, materialize=materialize and view.name in MATERIALIZED)
        except CaseError as exc:
            raise CaseError(f"{case.path}: cannot be read ({exc})") from None
    return con


def load(con: duckdb.DuckDBPyConnection, view: View, *, materialize: bool = False) -> None:
    """Create one view, or with `materialize` a temp table from the same query."""
    sql = view.sql
    if materialize:
        sql = _VIEW.sub(f"CREATE OR REPLACE TEMP TABLE {view.name} AS", sql, count=1)
    try:
        con.execute(sql)
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:  # the data, not the view: a damaged part
        raise CaseError(str(exc).splitlines()[0]) from None
    except duckdb.Error as exc:
        raise ViewError(f"views/{view.file}: {str(exc).splitlines()[0]}") from None
