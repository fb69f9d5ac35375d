"""Issue 6, round trips across formats: every Sleepwalker output of a simulated run, read back by `swk ingest`, is
checked against the run's case row by row and column by column as `swk.capture.simulate.carried.CARRIED` says, and
`swk analyze` on each read-back case against the simulated case's detections as `REBUILT` says.

Three small runs: every technique over light benign noise (each table entry must be exercised by it), a run of one
event (seed 8 gives one handle operation, so every record format holds one record), and a run of no events (every
writer's empty output must read back as no events, not as a wrong format).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from swk.analyze import engine
from swk.analyze.queries import COLUMNS
from swk.capture import FORMATS as READERS
from swk.capture.ingest import Options as IngestOptions
from swk.capture.ingest import ingest
from swk.capture.outputs import WRITERS
from swk.capture.simulate import SCENARIOS, Options, Result, simulate
from swk.capture.simulate import carried as c
from swk.capture.simulate.run import FORMAT_FILES
from swk.kernel.catalogue import BY_RULE
from swk.store.schema import EVENTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "formats.md"
HIGH = "jsonl_high_priority"
# The writer name is the format; the reader that takes it back is the same name but for the high-priority log.
READER = {fmt: fmt for fmt in FORMAT_FILES} | {HIGH: "jsonl"}
RUNS = {
    # seed 3: the printer also counts two OPEN_KEY events in `(+N similar suppressed)` lines
    "techniques": Options(seed=3, events=2_000, formats=tuple(FORMAT_FILES)),
    "one-event": Options(seed=8, scenarios=(), events=1, duration_s=1, formats=tuple(FORMAT_FILES)),
    "empty": Options(seed=1, scenarios=(), benign=False, events=0, formats=tuple(FORMAT_FILES)),
}
ROW_FORMATS = c.formats()
DETECTION_FORMATS = list(c.REBUILT)


@dataclass
class Run:
    """One simulated run, its outputs read back and analysed on demand (each at most once per test session)."""

    name: str
    result: Result
    out: Path
    _read: dict[str, tuple[dict[str, Any], list[c.Row]]] = field(default_factory=dict)
    _analysed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @cached_property
    def case(self) -> list[c.Row]:
        return rows_of(self.result.case)

    def path(self, fmt: str) -> Path:
        return self.result.outputs[fmt]  # the high-priority log too: `swk simulate` writes it with `jsonl`

    @property
    def qpc_frequency(self) -> int:
        return self.result.meta["qpc_frequency"]

    def read(self, fmts: str) -> tuple[dict[str, Any], list[c.Row]]:
        """`swk ingest` of one output (or `a+b`: several into one case): its manifest and rows."""
        if fmts not in self._read:
            paths = [self.path(fmt) for fmt in fmts.split("+")]
            # An empty file has no content to sniff, so one read alone is named; anything else must be recognised by
            # content, and in a mix an empty file (read alone by another test) is left out.
            empty = len(paths) == 1 and paths[0].stat().st_size == 0
            paths = [p for p in paths if p.stat().st_size] or paths
            dest = self.out / f"read-{fmts}.parquet"
            options = IngestOptions(fmt=READER[fmts] if empty else "auto", host=self.result.meta["host"],
                                    boot_time=self.result.boot_time, qpc_frequency=self.qpc_frequency)  # fmt: skip
            manifest = ingest(paths, dest, options)
            self._read[fmts] = manifest, rows_of(dest)
        return self._read[fmts]

    def detections(self, fmts: str | None) -> list[dict[str, Any]]:
        """The `detections` view of the simulated case (None) or of a read-back case, contract columns."""
        key = fmts or "case"
        if key not in self._analysed:
            path = self.result.case if fmts is None else self.out / f"read-{fmts}.parquet"
            if fmts is not None:
                self.read(fmts)
            con = engine.connect(path, memory_limit=None, threads=2)
            rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM detections ORDER BY id").fetchall()
            con.close()
            self._analysed[key] = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        return self._analysed[key]


def rows_of(path: Path) -> list[c.Row]:
    table = pq.read_table(path)
    rows = table.to_pylist()
    missing = [n for n in EVENTS.names if n not in table.column_names]
    return [dict(r, **dict.fromkeys(missing)) for r in rows] if missing else rows


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    out = {}
    for name, options in RUNS.items():
        path = tmp_path_factory.mktemp(name)
        out[name] = Run(name, simulate(path, options), path)
    return out


def matched(run: Run, fmt: str) -> list[tuple[str, c.Row, c.Row]]:
    """The (kind, case row, read-back row) pairs of one format, asserting that every row lines up."""
    manifest, back = run.read(fmt)
    assert (manifest["rejects"], [i["format"] for i in manifest["inputs"]]) == (0, [READER[fmt]])
    pairs, problems = c.pairs(fmt, run.case, back)
    assert problems == []
    return pairs


# -- rows ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_name", list(RUNS))
@pytest.mark.parametrize("fmt", ROW_FORMATS)
def test_rows_read_back_as_the_table_says(runs: dict[str, Run], run_name: str, fmt: str) -> None:
    run = runs[run_name]
    pairs = matched(run, fmt)
    assert c.compare(fmt, pairs, EVENTS.names) == {}
    if run_name == "empty":  # status lines and the trace's header at most: nothing that is an event of a case
        assert pairs == []
        assert [
            c.what(f) for f in run.read(fmt)[1] if not c.CARRIED.get((fmt, c.what(f)), c.Carried("", "")).extra
        ] == []


def test_one_event_run_is_one_handle_operation(runs: dict[str, Run]) -> None:
    # what the run is for: one row that every record format and every ETW format holds (else pick another seed)
    [row] = runs["one-event"].case
    assert (row["family"], c.is_record(row)) == ("handle", True)
    assert [len(matched(runs["one-event"], fmt)) for fmt in ("ioctl", "suite", "console", "etl", "printer")] == [1] * 5


def test_every_entry_of_the_table_is_exercised(runs: dict[str, Run]) -> None:
    run = runs["techniques"]
    assert run.result.meta["scenarios"] == list(SCENARIOS)  # issue 6: every generator scenario
    seen = {(fmt, kind) for fmt in ROW_FORMATS for kind, _, _ in matched(run, fmt)}
    seen |= {(fmt, c.what(f)) for fmt in ROW_FORMATS for f in run.read(fmt)[1]}  # and the format's own rows
    assert sorted(set(c.CARRIED) - seen) == []


# Columns no simulated event fills, so their check passes on NULL alone (an entry to drop once the generator fills it).
UNEXERCISED = {("etl", "ti", "creation_flags"): "the generator's TI events carry no creation flags"}


def test_every_compared_column_is_exercised(runs: dict[str, Run]) -> None:
    run, never = runs["techniques"], set()
    for fmt in ROW_FORMATS:
        pairs = matched(run, fmt)
        for (f, kind), entry in c.CARRIED.items():
            if f == fmt and not entry.extra:
                rows = [(s, b) for k, s, b in pairs if k == kind]
                columns = set(entry.same.split()) | set(entry.rule)
                never |= {(fmt, kind, col) for col in columns if all(s[col] is b[col] is None for s, b in rows)}
    assert sorted(never) == sorted(UNEXERCISED)


def test_every_rule_is_exercised(runs: dict[str, Run]) -> None:
    used = {name for (fmt, kind), entry in c.CARRIED.items() for name in entry.rule.values()}
    assert sorted(set(c.RULES) - used) == [] and sorted(used - set(c.RULES)) == []
    assert {e.only for e in c.CARRIED.values()} - {""} == set(c.KEEPS)


def test_the_table_names_real_columns_and_every_writer() -> None:
    for (fmt, kind), entry in c.CARRIED.items():
        columns = entry.columns()
        assert columns <= set(EVENTS.names), (fmt, kind, sorted(columns - set(EVENTS.names)))
        assert not columns & c.BOOKKEEPING, (fmt, kind)
        overlap = [set(entry.same.split()) & set(entry.rule), set(entry.same.split()) & set(entry.own.split())]
        assert overlap == [set(), set()], (fmt, kind)
    assert set(ROW_FORMATS) == set(WRITERS)
    assert set(READER.values()) <= set(READERS)
    for fmts, how in c.REBUILT.items():
        assert set(fmts.split("+")) <= set(WRITERS), fmts
        assert set(how.lost) - {"*"} <= set(BY_RULE) and set(how.kept) <= set(BY_RULE), fmts
        assert set(how.blind) <= set(COLUMNS) and set(how.live_blind) <= set(COLUMNS), fmts


# -- detections ---------------------------------------------------------------------------------------------------


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def normal(d: dict[str, Any], how: c.Rebuilt, ids: dict[int, int] | None) -> tuple[Any, ...]:
    """A detection as compared: read-back event ids (`ids`) mapped to the case's, the uncompared columns dropped."""

    def case_id(event_id: int | None) -> int | None:
        return event_id if ids is None or event_id is None else ids.get(event_id, -event_id)

    out = dict(d)
    out["evidence"] = tuple(sorted({case_id(e) for e in d["evidence"] or ()}))
    out["trigger_event_id"], out["live_event_id"] = case_id(d["trigger_event_id"]), case_id(d["live_event_id"])
    if how.ms and ids is None:
        out.update({k: _ms(d[k]) for k in ("ts", "first_ts", "last_ts") if d[k] is not None})
    dropped = {"id", *how.blind} | (set() if how.reconciled else {"status", "live_event_id"})
    if d["status"] == "live-only":
        dropped |= set(how.live_blind)
    return tuple((k, v) for k, v in out.items() if k not in dropped)


def by_rule(table: list[dict[str, Any]], how: c.Rebuilt, ids: dict[int, int] | None) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for d in table:
        if how.reconciled or d["status"] != "live-only":
            out.setdefault(d["rule"] or d["name"], Counter())[normal(d, how, ids)] += 1
    return out


def event_ids(run: Run, fmts: str) -> dict[int, int]:
    """Read-back event id -> the case's, over every input of the read-back case."""
    _, back = run.read(fmts)
    ids = {}
    for fmt in fmts.split("+"):
        name = str(run.path(fmt))
        if run.path(fmt).stat().st_size == 0:
            continue
        mine = [f for f in back if f["source_file"] == name]
        pairs, problems = c.pairs(fmt, run.case, mine)
        assert problems == []
        ids |= {f["event_id"]: s["event_id"] for _, s, f in pairs}
    return ids


@pytest.mark.parametrize("run_name", ["techniques", "one-event"])
@pytest.mark.parametrize("fmts", DETECTION_FORMATS)
def test_analyze_rebuilds_what_the_table_says(runs: dict[str, Run], run_name: str, fmts: str) -> None:
    run, how = runs[run_name], c.REBUILT[fmts]
    expected = by_rule(run.detections(None), how, None)
    got = by_rule(run.detections(fmts), how, event_ids(run, fmts))
    lost = how.lost_rules()
    if "*" in how.lost:
        assert sorted(set(got) - set(how.kept)) == []
    kept = sorted((set(expected) | set(got)) - lost)
    differing = {rule: (expected.get(rule, Counter()) - got.get(rule, Counter()),
                        got.get(rule, Counter()) - expected.get(rule, Counter()))
                 for rule in kept if expected.get(rule) != got.get(rule)}  # fmt: skip
    assert differing == {}
    if run_name == "techniques":
        # a loss the table states must be real, or the table is stale
        found = [rule for rule in lost if rule in expected and expected[rule] == got.get(rule)]
        assert found == []


def test_empty_run_analyses_to_nothing(runs: dict[str, Run]) -> None:
    assert [(fmts, d["rule"]) for fmts in [None, *DETECTION_FORMATS] for d in runs["empty"].detections(fmts)] == []


# -- the document -------------------------------------------------------------------------------------------------


def test_docs_formats_md_is_current() -> None:
    # regenerate on purpose: python -c 'from swk.capture.simulate import carried; print(carried.render(), end="")'
    text = c.render()
    assert DOC.read_text() == text
    # every table row has its header's cells (a `|` in a reason would break the table)
    width = 0
    for line in text.splitlines():
        if not line.startswith("|"):
            width = 0
        elif width == 0:
            width = line.count("|")
        else:
            assert line.count("|") == width, line
    assert all(f"## `{fmt}`" in text for fmt in [*ROW_FORMATS, *DETECTION_FORMATS])
