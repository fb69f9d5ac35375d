"""`truth.json`: every detection the simulated driver and controller raised, with the case rows as evidence.

Detections are written as they become final (a few seconds behind the simulation's clock), in the detections
table's order, to a temporary file of JSON lines, so a run of any length holds only the last seconds' detections.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from operator import attrgetter
from pathlib import Path
from typing import Any

from swk.kernel.catalogue import BY_RULE
from swk.kernel.model.detection import Detection, Raised

FIELDS = ("rule", "name", "severity", "engine", "actor_pid", "target_pid", "ts", "first_ts", "last_ts", "reason",
          "corr_flags", "corr_access_mask", "corr_age_ms", "marks", "attack", "evidence", "trigger_event_id",
          "live_event_id")  # fmt: skip


_VALUES = attrgetter(*FIELDS)


def record(d: Detection) -> dict[str, Any]:
    """One detection as a JSON object (times in µs since the Unix epoch)."""
    out = dict(zip(FIELDS, _VALUES(d), strict=True))
    out["evidence"] = list(d.evidence)
    return out


def raised_record(r: Raised) -> dict[str, Any]:
    """`record(r.to_detection(..., "live", r.live_event_id))` built straight from the live detection: the object
    that each line of truth.json encodes (`raised_line` writes its JSON text out; the tests hold the two together)."""
    entry = BY_RULE[r.rule]
    first, last, evidence = r.evidence_span()
    flags, mask, age = r.corr
    return {"rule": r.rule, "name": entry.name, "severity": entry.severity, "engine": r.engine, "actor_pid": r.actor,
            "target_pid": r.target, "ts": r.ts, "first_ts": first, "last_ts": last, "reason": r.reason,
            "corr_flags": flags, "corr_access_mask": mask, "corr_age_ms": age, "marks": r.marks, "attack": r.attack,
            "evidence": evidence, "trigger_event_id": r.trigger, "live_event_id": r.live_event_id}  # fmt: skip


_encode = json.JSONEncoder().encode  # json.dumps() with its default arguments, without its per-call argument checks
_string = json.encoder.encode_basestring_ascii  # json.dumps() of a str (ensure_ascii, as by default)
_HEADS: dict[str, str] = {}  # per rule: the line's first members, which the catalogue fixes


def raised_line(r: Raised) -> str:
    """`json.dumps(raised_record(r))`, written out: a run writes one line per detection (~60k per 1 M benign events)
    and building the dict and encoding it cost ~8 µs of the simulation's thread, this ~4.5 µs. Every value is an
    int, None or a str, as `raised_record` has them; `tests/test_simulate_truth.py` holds the two to the same text."""
    head = _HEADS.get(r.rule)
    if head is None:
        entry = BY_RULE[r.rule]
        first_members = {"rule": r.rule, "name": entry.name, "severity": entry.severity, "engine": r.engine}
        head = _HEADS[r.rule] = _encode(first_members)[:-1] + ", "
    first, last, evidence = r.evidence_span()
    flags, mask, age = r.corr
    return (f'{head}"actor_pid": {_int(r.actor)}, "target_pid": {_int(r.target)}, "ts": {_int(r.ts)}, '
            f'"first_ts": {_int(first)}, "last_ts": {_int(last)}, "reason": {_str(r.reason)}, '
            f'"corr_flags": {_int(flags)}, "corr_access_mask": {_int(mask)}, "corr_age_ms": {_int(age)}, '
            f'"marks": {_int(r.marks)}, "attack": {_str(r.attack)}, "evidence": [{", ".join(map(str, evidence))}], '
            f'"trigger_event_id": {_int(r.trigger)}, "live_event_id": {_int(r.live_event_id)}}}')  # fmt: skip


def _int(value: int | None) -> str:
    return "null" if value is None else str(value)


def _str(value: str | None) -> str:
    return "null" if value is None else _string(value)


class TruthStream:
    """Writes final detections in order; `finish` turns them into truth.json."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.lines")
        self._fh = self._tmp.open("w")
        self.count = 0
        self.rules: Counter = Counter()

    def add(self, raised: list[Raised]) -> None:
        """Append final detections (all later ones sort after them: they are raised later)."""
        if not raised:
            return
        raised = sorted(raised, key=Raised.order)
        self.rules.update(r.rule for r in raised)
        first = self.count + 1
        lines = [raised_line(r) for r in raised]
        self.count += len(raised)
        self._fh.write(("  " if first == 1 else ",\n  ") + ",\n  ".join(lines))

    def finish(self, meta: dict[str, Any]) -> None:
        """Write truth.json: the simulation's parameters, the count, the detections (one per line)."""
        self._fh.close()
        with self.path.open("w") as out:
            out.write('{"simulation": ' + json.dumps(meta, sort_keys=True) + f',\n "count": {self.count},\n')
            out.write(' "detections": [\n')
            with self._tmp.open() as lines:
                shutil.copyfileobj(lines, out)
            out.write("\n ]\n}\n")
        self._tmp.unlink()


def load(path: Path) -> dict[str, Any]:
    """Read truth.json back."""
    return json.loads(Path(path).read_text())
