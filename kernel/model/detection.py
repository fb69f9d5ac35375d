"""A detection as both engines report it (docs/detections.md section 11), and the model's working form.

`Detection` is one row of the detections table; `Raised` is a detection while the replay is still running (its
evidence can still grow: route A waits for the handle row of the same operation).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

from swk.kernel.catalogue import BY_RULE, CATALOGUE

RULE_ORDER: dict[str, int] = {d.rule: i for i, d in enumerate(CATALOGUE)}
UNKNOWN_RULE_ORDER = len(CATALOGUE)
CONTROLLER_RULES = frozenset(d.rule for d in CATALOGUE if d.emitter == "controller")
_ENGINE = {d.rule: "controller" if d.rule in CONTROLLER_RULES else "kernel" for d in CATALOGUE}


@dataclass(frozen=True, slots=True)  # slots: a large case's table holds hundreds of thousands of them
class Detection:
    """One row of the detections table; times are int microseconds since the Unix epoch."""

    id: int
    host: str | None
    rule: str | None
    name: str
    severity: int | None
    reason: str | None
    actor_pid: int | None
    target_pid: int | None
    ts: int
    first_ts: int
    last_ts: int
    corr_flags: int | None
    corr_access_mask: int | None
    corr_age_ms: int | None
    marks: int | None
    attack: str | None
    evidence: tuple[int, ...]
    trigger_event_id: int
    status: str
    live_event_id: int | None
    engine: str


class Raised:
    """A reconstructed (or, in the forward driver, live) detection being built."""

    __slots__ = ("actor", "attack", "corr", "evidence", "host", "live_event_id", "marks", "reason", "rule", "target",
                 "trigger", "ts")  # fmt: skip

    def __init__(self, host: str | None, rule: str, ts: int, trigger: int, actor: int | None, target: int | None,
                 corr: tuple[int | None, int | None, int | None], evidence: list[tuple[int, int]],
                 reason: str | None = None, marks: int | None = None, attack: str | None = None) -> None:  # fmt: skip
        self.host = host
        self.rule = rule
        self.ts = ts
        self.trigger = trigger
        self.actor = actor
        self.target = target
        self.corr = corr
        self.evidence = evidence  # (event_id, ts) pairs, possibly repeated
        self.reason = reason if reason is not None else BY_RULE[rule].reason
        self.marks = marks
        self.attack = attack if attack is not None else BY_RULE[rule].attack
        self.live_event_id: int | None = None

    @property
    def name(self) -> str:
        """The detection name as the driver raises it."""
        return BY_RULE[self.rule].name

    @property
    def engine(self) -> str:
        """`kernel` or `controller`."""
        return _ENGINE[self.rule]

    def order(self) -> tuple:
        """The table's id order: ts, trigger, rule order, host, actor, target."""
        return (self.ts, self.trigger, RULE_ORDER[self.rule], self.host or "", self.actor or 0, self.target or 0)

    def evidence_ids(self) -> tuple[int, ...]:
        """Sorted distinct evidence event ids."""
        return tuple(sorted(set(map(itemgetter(0), self.evidence))))

    def evidence_span(self) -> tuple[int, int, list[int]]:
        """The first and last evidence times (the detection's own time when it has none) and the sorted distinct
        evidence event ids."""
        if not self.evidence:
            return self.ts, self.ts, []
        ids, times = zip(*self.evidence, strict=True)
        return min(times), max(times), sorted(set(ids))

    def to_detection(self, id_: int, status: str, live_event_id: int | None) -> Detection:
        """The finished table row."""
        entry = BY_RULE[self.rule]
        first, last, ids = self.evidence_span()
        corr = self.corr
        return Detection(id_, self.host, self.rule, entry.name, entry.severity, self.reason, self.actor,
                         self.target, self.ts, first, last, corr[0], corr[1], corr[2], self.marks, self.attack,
                         tuple(ids), self.trigger, status, live_event_id, _ENGINE[self.rule])  # fmt: skip
