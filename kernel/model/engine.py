"""The per-host replay of docs/detections.md: rows in (ts, event_id) order in, detections with evidence out.

One `HostEngine` per host holds every piece of state the detections need (the evidence indexes, the APC cooldown,
the ntdll counter, the kernel and controller chains). `analyze()` feeds it case rows; the forward driver feeds it
the telemetry it emits, so what the simulated driver raised live and what the replay reconstructs are computed by
the same rules (the SQL views are the independent implementation).

APC route: `A` (apc rows), `B` (thread-object handle rows) or `auto`, the per-host choice of section 2. Under
`auto` a host is undecided until its first apc row; meanwhile route B's detections and a second controller chain
that consumes them are kept aside, so the choice can be made after the fact without a second pass.
"""

from __future__ import annotations

from swk.kernel.abi import MEM_IMAGE, HandleClass, HandleFlag
from swk.kernel.model import controller as ctl
from swk.kernel.model.apc import APC_RULE, RULE_OF_CLASS, ApcRing, KeyedCooldown, apc_kind
from swk.kernel.model.detection import Raised
from swk.kernel.model.evidence import HandleIndex, PendingApc
from swk.kernel.model.hollowing import KernelChain, chain_key, thread_marks, thread_rules
from swk.kernel.model.ntdll import NtdllCounter, counter_slot, is_known_good, is_ntdll_image
from swk.kernel.model.registry import high_value_attack

F = HandleFlag
_INTEGRITY = int(F.STACK_VALIDATED | F.RETURN_ADDRESS_VALID | F.MODULE_CHAIN_SANE | F.UNWIND_METADATA_VALID
                 | F.TEB_STACK_BOUNDS_VALID | F.FRAMES_OUTSIDE_TEB_STACK)  # fmt: skip
_SPOOF = int(F.STACK_SPOOF_SUSPECT)
_DIRECT = int(HandleClass.DIRECT_SYSCALL_SUSPECT)
ETW_THREAD_KIND = "sleepwalker:etw:ThreadTelemetry"
CONTROLLER_KIND = "sleepwalker:controller:detection"


def stack_anomaly(flags: int) -> bool:
    """STACK_SPOOF_SUSPECT set, or any integrity flag clear (section 1)."""
    return bool(flags & _SPOOF) or (flags & _INTEGRITY) != _INTEGRITY


class LiveRow:
    """A live detection row, as reconciliation needs it."""

    __slots__ = ("actor", "corr", "event_id", "kind", "marks", "name", "reason", "severity", "target", "ts")

    def __init__(self, event_id: int, ts: int, name: str, severity: int | None, reason: str | None,
                 actor: int | None, target: int | None, corr: tuple, marks: int | None, kind: str | None) -> None:  # fmt: skip
        self.event_id, self.ts, self.name, self.severity, self.reason = event_id, ts, name, severity, reason
        self.actor, self.target, self.corr, self.marks, self.kind = actor, target, corr, marks, kind


class HostEngine:
    """Detections of one host, row by row."""

    def __init__(self, host: str | None, *, table: str = "per-key", route: str = "auto", keep: bool = True,
                 pending: PendingApc | None = None) -> None:  # fmt: skip
        if route not in ("auto", "A", "B"):
            raise ValueError(f"route must be auto, A or B, not {route!r}")
        self.host = host
        self.keep = keep  # False: detections are only returned, not kept for finish() (a caller that streams them)
        self.table = table
        self.route = route
        self.kernel: list[Raised] = []  # every kernel detection except the APC ones
        self.apc: dict[str, list[Raised]] = {"A": [], "B": []}
        self.controller: dict[str, list[Raised]] = {}
        self._chains: dict[str, ctl.ControllerChain] = {}
        for r in ("A", "B"):
            if route in ("auto", r):
                self._chains[r] = ctl.ControllerChain(table)
                self.controller[r] = []
        self.live: list[LiveRow] = []
        self._chain = KernelChain(table)
        self._handles = HandleIndex()
        self._pending = pending if pending is not None else PendingApc()  # the columnar replay brings its own
        self._cooldown = ApcRing() if table == "driver" else KeyedCooldown()
        self._ntdll = NtdllCounter()
        self._ntdll_rows: dict[int, list[tuple[int, int]]] = {}

    # -- route bookkeeping -----------------------------------------------------------------------------------------

    def _decide(self, route: str) -> None:
        """Fix the APC route (auto mode): the other route's detections and controller chain are dropped."""
        other = "B" if route == "A" else "A"
        self.route = route
        self._chains.pop(other, None)
        self.controller.pop(other, None)
        self.apc[other] = []

    def _steps(self, detections: list[Raised], routes: tuple[str, ...] | None = None) -> list[Raised]:
        """Feed kernel detections to the controller chain(s) as steps; returns the controller detections."""
        out: list[Raised] = []
        for d in detections:
            marks = ctl.DETECTION_MARKS.get(d.name)
            if marks is not None:
                target = d.target if d.target else d.actor
                if target is not None:
                    out += self._step(d.actor, target, marks, d.ts, d.trigger, [(d.trigger, d.ts)], routes)
        return out

    def _step(self, actor: int | None, target: int, marks: int, ts: int, trigger: int,
              evidence: list[tuple[int, int]], routes: tuple[str, ...] | None = None) -> list[Raised]:  # fmt: skip
        out: list[Raised] = []
        for route, chain in self._chains.items():
            if routes is not None and route not in routes:
                continue
            hit = chain.step(actor, target, marks, ts, evidence)
            if hit is not None:
                rule, entry = hit
                raised = Raised(self.host, rule, ts, trigger, entry.key[0], entry.key[1], (None, None, None),
                                list(entry.evidence.items()), None, entry.marks)  # fmt: skip
                if self.keep:
                    self.controller[route].append(raised)
                out.append(raised)
        return out

    # -- families --------------------------------------------------------------------------------------------------

    def handle_index_add(self, eid: int, ts: int, actor: int, target: int, access: int) -> None:
        """A handle row that raises nothing (class not DIRECT, no route B): only the evidence indexes see it."""
        self._handles.add(actor, target, eid, ts)
        self._pending.offer((actor, target, access), eid, ts)

    def handle_index_many(self, eids: list[int], ts: list[int], actors: list[int], targets: list[int],
                          accesses: list[int]) -> None:  # fmt: skip
        """`handle_index_add` of each row in turn."""
        self._handles.add_many(actors, targets, eids, ts)
        self._pending.offer_many(actors, targets, accesses, eids, ts)

    def handle(self, eid: int, ts: int, actor: int | None, target: int | None, access: int | None,
               class_id: int | None, flags: int | None, is_thread_object: bool | None) -> list[Raised]:  # fmt: skip
        """A handle row: DIRECT / STACK (section 1), route-A evidence, route B (section 2)."""
        if actor is not None and target is not None:
            self._handles.add(actor, target, eid, ts)
            if access is not None:
                self._pending.offer((actor, target, access), eid, ts)
        return self.handle_rules(eid, ts, actor, target, access, class_id, flags, is_thread_object)

    def handle_rules(self, eid: int, ts: int, actor: int | None, target: int | None, access: int | None,
                     class_id: int | None, flags: int | None, is_thread_object: bool | None) -> list[Raised]:  # fmt: skip
        """What a handle row raises (DIRECT / STACK, route B), without indexing it as evidence (the columnar
        replay indexes handle rows a batch at a time)."""
        out: list[Raised] = []
        known = actor is not None and target is not None
        if class_id == _DIRECT:
            corr = (0, access, 0)
            evidence = [(eid, ts)]
            out.append(Raised(self.host, "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION", ts, eid, actor, target, corr,
                              evidence))  # fmt: skip
            if flags is not None and stack_anomaly(flags):
                out.append(Raised(self.host, "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP", ts, eid, actor, target, corr,
                                  evidence))  # fmt: skip
            if self.keep:
                self.kernel += out
        if "B" in self._chains and is_thread_object and known and access is not None:
            kind = apc_kind(actor, target, access)  # type: ignore[arg-type]
            if kind and self._cooldown.allow(actor, target, kind, ts):
                raised = Raised(self.host, APC_RULE[kind], ts, eid, actor, target, (0, access, 0), [(eid, ts)])
                if self.keep:
                    self.apc["B"].append(raised)
                out.append(raised)
                out += self._steps([raised], ("B",))
        return out

    def apc_row(self, eid: int, ts: int, actor: int | None, target: int | None, access: int | None,
                class_name: str | None) -> list[Raised]:  # fmt: skip
        """An apc row: route A (section 2)."""
        if self.route == "auto":
            self._decide("A")
        if "A" not in self._chains:
            return []
        rule = RULE_OF_CLASS.get(class_name or "")
        if rule is None:
            return []
        evidence = [(eid, ts)]
        raised = Raised(self.host, rule, ts, eid, actor, target, (0, access, 0), evidence)
        if actor is not None and target is not None and access is not None:
            self._pending.wait((actor, target, access), ts, evidence)
        if self.keep:
            self.apc["A"].append(raised)
        return [raised, *self._steps([raised])]

    def thread(self, eid: int, ts: int, actor: int | None, target: int | None, etw: bool, got_start: bool | None,
               start_exec: bool | None, start_status: int | None, start_type: int | None,
               start_protect: int | None, outside_flag: bool | None, corr_flags: int | None, corr_mask: int | None,
               corr_age: int | None, image_base: int | None, image_size: int | None,
               start_address: int | None, intents: list[tuple[int, int]] | None = None) -> list[Raised]:  # fmt: skip
        """A thread row: per-thread rules (section 3), the kernel chain (4), the controller's thread step (9).

        `intents`: the row's intents(t) when the caller computed them (the columnar replay); None: from the index."""
        remote = actor is not None and target is not None and actor != target
        non_image_exec = bool(remote and got_start and start_exec and start_status is not None and start_status >= 0
                              and start_type is not None and start_type != MEM_IMAGE)  # fmt: skip
        outside = bool(outside_flag)
        flags = corr_flags or 0
        evidence = [(eid, ts)]
        if flags and actor is not None and target is not None:
            evidence += self._handles.intents(actor, target, ts) if intents is None else intents
        corr = (corr_flags, corr_mask, corr_age)
        out = [Raised(self.host, rule, ts, eid, actor, target, corr, evidence)
               for rule in thread_rules(remote, outside, non_image_exec, flags)]  # fmt: skip
        marks = thread_marks(remote, outside, non_image_exec, flags)
        if marks and target:
            hit = self._chain.step(actor, target, marks, corr_flags, corr_mask, corr_age, ts, evidence)
            if hit is not None:
                rule, entry = hit
                key = chain_key(actor, target)
                out.append(Raised(self.host, rule, ts, eid, key[0], key[1], (entry.flags, entry.mask, entry.age),
                                  list(entry.evidence.items())))  # fmt: skip
        if self.keep:
            self.kernel += out
        controller: list[Raised] = []
        if etw and target:
            step = ctl.thread_step_marks(actor, target, start_address, image_base, image_size, start_type,
                                         start_protect, corr_flags)  # fmt: skip
            controller += self._step(actor, target, step, ts, eid, [(eid, ts)])
        controller += self._steps(out)
        return out + controller

    def image(self, eid: int, ts: int, pid: int | None, path: str | None, system_mode: bool | None) -> list[Raised]:
        """An image row: the ntdll checks (section 5)."""
        if not is_ntdll_image(path, system_mode):
            return []
        out = []
        if not is_known_good(path):  # type: ignore[arg-type]
            out.append(Raised(self.host, "SUSPICIOUS_NTDLL_IMAGE_PATH", ts, eid, pid, pid, (0, 0, 0), [(eid, ts)],
                              reason=path))  # fmt: skip
        if pid is not None:
            count, reset = self._ntdll.hit(pid)
            slot = counter_slot(pid)
            if reset:
                self._ntdll_rows[slot] = []
            rows = self._ntdll_rows[slot]
            rows.append((eid, ts))
            if count > 1:
                out.append(Raised(self.host, "MULTIPLE_NTDLL_IMAGE_MAPPINGS", ts, eid, pid, pid, (0, 0, 0),
                                  list(rows)))  # fmt: skip
        if self.keep:
            self.kernel += out
        return out + self._steps(out)

    def registry(self, eid: int, ts: int, actor: int | None, key_path: str | None) -> list[Raised]:
        """A registry row: high-value keys (section 6)."""
        attack = high_value_attack(key_path)
        if attack is None:
            return []
        raised = Raised(self.host, "HIGH_VALUE_REGISTRY_ACTIVITY", ts, eid, actor, 0, (0, 0, 0), [(eid, ts)],
                        reason=key_path, attack=attack)  # fmt: skip
        if self.keep:
            self.kernel.append(raised)
        return [raised]

    def ti(self, eid: int, ts: int, actor: int | None, target: int | None, event_name: str | None,
           task: int | None, creation_flags: int | None, region_size: int | None, protect: int | None,
           old_protect: int | None) -> list[Raised]:  # fmt: skip
        """A Threat-Intelligence row: one controller step (section 9)."""
        target = target if target else actor
        if target is None:
            return []
        marks = ctl.ti_step_marks(event_name, task, target, creation_flags, region_size, protect, old_protect)
        return self._step(actor, target, marks, ts, eid, [(eid, ts)])

    def live_row(self, row: LiveRow) -> None:
        """A live detection row, kept for reconciliation."""
        self.live.append(row)

    def finish(self) -> list[Raised]:
        """Every reconstructed detection of the host (the route decided: B when the host had no apc row)."""
        if self.route == "auto":
            self._decide("B")
        route = self.route
        return self.kernel + self.apc[route] + self.controller.get(route, [])
