"""Several cases into one hive-partitioned case, each under the host it is given: a fleet from per-host captures.

Event ids are renumbered from one counter (ids are unique within a case, and evidence points at them), in each
input's id order, so ties on time still break the same way; every other column is kept as it was read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from swk.store.reader import open_case
from swk.store.writer import CaseWriter

# Filled by the writer for each input: the new id, the host it is filed under, and where the rows came from.
_REPLACED = ("event_id", "host", "source_file", "source_format")


def combine(cases: Iterable[tuple[str, str | Path]], output: Path, *, command: str = "combine") -> dict[str, Any]:
    """Write every (host, case) pair into the hive case `output`; returns its manifest."""
    writer = CaseWriter(Path(output), partitioned=True, command=command)
    try:
        for host, path in cases:
            table = open_case(path).dataset().to_table()
            table = table.take(pc.sort_indices(table, [("event_id", "ascending")]))
            writer.begin_input(f"{command}:{host}:{Path(path).name}", "combine", host=host)
            writer.write(table.drop_columns([c for c in _REPLACED if c in table.column_names]))
    except BaseException:
        writer.abort()
        raise
    return writer.commit()
