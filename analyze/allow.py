"""Allow-list files (`swk analyze --allow FILE`, `swk report --allow FILE`): known-benign detections to suppress.

A suppressed detection is still computed, counted and listed on request (`--show-allowed`, `swk sql`:
`detections.allowed_by`); nothing is dropped. The built-in entries are SQL (`views/301_allow_list.sql`), so they
hold in the plain duckdb shell too; a file's entries are appended to that view when the case is opened.

The file is TOML, one `[[allow]]` table per entry:

    [[allow]]
    name = "backup-agent-hook"              # required; shown in allowed_by
    rule = "REMOTE_THREAD_*"                # the detection's rule or name
    actor_image = '?:\\Program Files\\Backup\\agent.exe'
    target_image = "*"
    start_module = '?:\\Program Files\\Backup\\hook.dll'
    start_function = "HookEntry"
    note = "the vendor's agent hooks every process it backs up (ticket 4711)"

Every pattern is a glob (`*` any run of characters, `?` one character), matched case-insensitively against the
whole value of the detection's trigger row; `''` matches an empty value only (a start in no module). A pattern
left out matches anything, including an unknown value; a pattern given never matches an unknown one. An entry
needs at least one pattern (one with none would allow every detection); `rule` alone is one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from swk.errors import SwkError

PATTERNS = ("rule", "actor_image", "target_image", "start_module", "start_function")


class AllowListError(SwkError):
    """An allow-list file that cannot be used."""

    hint = "see `swk analyze --help` and README.md, 'Allow-list' for the format"


@dataclass(frozen=True)
class Entry:
    """One allow-list entry: globs over a detection's rule and its trigger row's processes and start."""

    name: str
    origin: str
    rule: str | None = None
    actor_image: str | None = None
    target_image: str | None = None
    start_module: str | None = None
    start_function: str | None = None
    note: str = ""


_KEYS = tuple(f.name for f in fields(Entry) if f.name != "origin")


def load(path: str | Path) -> list[Entry]:
    """The entries of one allow-list file, checked: TOML, `[[allow]]` tables, known keys, strings, a pattern each."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AllowListError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise AllowListError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise AllowListError(f"{path}: not TOML: {exc}") from None
    extra = sorted(set(doc) - {"allow"})
    if extra:
        raise AllowListError(f"{path}: unknown table {extra[0]!r}; entries are [[allow]] tables")
    tables = doc.get("allow", [])
    if not isinstance(tables, list):
        raise AllowListError(f"{path}: 'allow' must be an array of tables ([[allow]])")
    return [_entry(path, n, table) for n, table in enumerate(tables, 1)]


def _entry(path: Path, n: int, table: object) -> Entry:
    where = f"{path}: [[allow]] entry {n}"
    if not isinstance(table, dict):
        raise AllowListError(f"{where}: not a table")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise AllowListError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(_KEYS)})")
    for key, value in table.items():
        if not isinstance(value, str):
            raise AllowListError(f"{where}: {key} must be a string, not {type(value).__name__}")
    if not table.get("name"):
        raise AllowListError(f"{where}: needs a name (it is what allowed_by shows)")
    if not any(key in table for key in PATTERNS):
        raise AllowListError(f"{where} ({table['name']}): needs at least one pattern ({', '.join(PATTERNS)}); "
                             "an entry without one would allow every detection")  # fmt: skip
    return Entry(origin=str(path), **table)
