"""`swk sql CASE` without a query: a small SQL prompt over the loaded views, with history and dot-commands.

Statements end with `;` (or the end of input); `.tables`, `.schema [view]`, `.help` and `.quit` are handled here.
On a terminal the prompt is drawn with readline and history is kept in `~/.swk_history`; otherwise lines are read
as they come and nothing is written to the history, so piped input and tests see only results on stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import duckdb

from swk.analyze.queries import rows
from swk.output import write_rows

HISTORY = Path(os.path.expanduser("~/.swk_history"))
HELP = """\
.tables            the views and tables of the case (detections, det_*, the family views, events, ...)
.schema [VIEW]     the columns of one view, or of every view
.help              this text
.quit              leave (also .exit or end of input)
Anything else is SQL, ended by ';'. Values given with -p NAME VALUE are bound as $NAME."""


def _reader(interactive: bool, stdin: TextIO) -> Callable[[str], str | None]:
    """A function that reads one line (None at the end), prompting with readline on a terminal."""
    if interactive:

        def ask(prompt: str) -> str | None:
            try:
                return input(prompt)
            except EOFError:
                return None

        return ask
    return lambda _prompt: line.rstrip("\n") if (line := stdin.readline()) else None


def _statements(read: Callable[[str], str | None]) -> Iterator[str]:
    """Dot-commands alone on a line, SQL up to a terminating `;` (the prompt says which one is awaited)."""
    buffer: list[str] = []
    while (line := read("   ...> " if buffer else "swk> ")) is not None:
        if not buffer and line.strip().startswith("."):
            yield line.strip()
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(buffer).strip()
            buffer = []
            if text.rstrip(";").strip():
                yield text
    if "\n".join(buffer).strip():
        yield "\n".join(buffer).strip()


def relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every view and table a user can query."""
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal UNION "
                       "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()  # fmt: skip
    return [r[0] for r in rows]


def schema(con: duckdb.DuckDBPyConnection, name: str | None) -> list[tuple[str, str, str]]:
    """(relation, column, type) of one relation or of all of them."""
    names = [name] if name else relations(con)
    out = []
    for rel in names:
        if rel not in relations(con):
            raise ValueError(f"no view or table named {rel!r} (see .tables)")
        for col, typ, *_ in con.execute(f'DESCRIBE "{rel}"').fetchall():
            out.append((rel, col, typ))
    return out


def run(con: duckdb.DuckDBPyConnection, *, fmt: str, params: dict[str, Any], out: TextIO, err: TextIO,
        stdin: TextIO | None = None, interactive: bool | None = None,
        history: Path | None = HISTORY) -> None:  # fmt: skip
    """Read statements until `.quit` or end of input, writing results to `out` and errors to `err`."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty() if interactive is None else interactive
    save = _readline(history) if interactive else _nothing
    if interactive:
        err.write("swk sql: views loaded; .help for commands, .quit to leave\n")
    try:
        for statement in _statements(_reader(interactive, stdin)):
            if statement in (".quit", ".exit"):
                break
            try:
                _one(con, statement, fmt=fmt, params=params, out=out)
            except (duckdb.Error, ValueError) as exc:
                err.write(f"error: {str(exc).splitlines()[0]}\n")
    finally:
        save()


def _one(con: duckdb.DuckDBPyConnection, statement: str, *, fmt: str, params: dict[str, Any], out: TextIO) -> None:
    if statement == ".help":
        out.write(HELP + "\n")
    elif statement == ".tables":
        out.write("\n".join(relations(con)) + "\n")
    elif statement.startswith(".schema"):
        name = statement[len(".schema") :].strip() or None
        write_rows(schema(con, name), ["relation", "column", "type"], fmt, out)
    elif statement.startswith("."):
        raise ValueError(f"unknown command {statement.split()[0]} (.help lists them)")
    else:
        query(con, statement, params, fmt, out)


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], fmt: str, out: TextIO) -> int:
    """Run one statement with only the parameters it names bound, and write its rows; returns the row count."""
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    rel = con.execute(sql, used) if used else con.execute(sql)
    if rel.description is None:
        return 0
    columns = [d[0] for d in rel.description]
    return write_rows(rows(rel), columns, fmt, out)


def _nothing() -> None:
    """Nothing to save."""


def _readline(history: Path | None) -> Callable[[], None]:
    """Enable line editing and load the history; returns what saves it."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        return _nothing
    if history is None:
        return _nothing
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)

    return save
