"""`swk report`: a case in, one self-contained HTML file out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from swk.reports.data import Limits, assemble
from swk.reports.render import render, write
from swk.store.reader import Case

if TYPE_CHECKING:
    from collections.abc import Sequence

    from swk.analyze.allow import Entry


@dataclass(frozen=True)
class Written:
    """What a report holds: where it went, its size, and how much of the case it drew."""

    path: Path
    size: int
    detections: int
    cards: int
    warnings: list[str]


def write_report(case: str | Path | Case, output: str | Path, *, title: str | None = None, min_severity: int = 0,
                 limits: Limits | None = None, allow: Sequence[Entry] = ()) -> Written:  # fmt: skip
    """Assemble, render and atomically write the report for `case` to `output` (`allow`: allow-list entries)."""
    report = assemble(case, title=title, min_severity=min_severity, limits=limits or Limits(), allow=allow)
    path = write(render(report), Path(output))
    return Written(path, path.stat().st_size, report["shown_total"], len(report["cards"]), report["warnings"])
