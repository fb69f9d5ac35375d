"""`analyze_batches()`: the replay of `analyze()` over column batches, with the bulk of a case handled array-wise.

Most rows of a case raise nothing by themselves: ordinary registry opens, handle opens that are neither DIRECT nor
a remote thread-context open, image loads other than ntdll. What they do is feed later detections' evidence: a handle
row is among the intents(t) of later thread rows and completes a route-A APC detection. Those rows are selected and
indexed with numpy a batch at a time. Every row that can raise something or steps a stateful table (thread, apc, ti
and live detection rows, ntdll loads, DIRECT and route-B handle rows, high-value keys) goes through the same
`HostEngine` as `analyze()`, one by one in stream order, so the two cannot differ in a rule; the per-row `analyze()`
is the reference this is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from swk.kernel.abi import THREAD_SET_CONTEXT, HandleClass
from swk.kernel.model.detection import Detection, Raised
from swk.kernel.model.engine import ETW_THREAD_KIND, HostEngine, LiveRow
from swk.kernel.model.ntdll import is_ntdll_image
from swk.kernel.model.reconcile import detections_table
from swk.kernel.model.registry import high_value_attack
from swk.kernel.model.replay import FAMILY_COLUMNS, OrderError
from swk.kernel.model.timing import APC_EVIDENCE_MS, INTENT_WINDOW_MS, within_us

OTHER, HANDLE, THREAD, APC, IMAGE, REGISTRY, TI, DETECTION, REJECT = range(9)
FAMILY_CODE = {"handle": HANDLE, "thread": THREAD, "apc": APC, "image": IMAGE, "registry": REGISTRY, "ti": TI,
               "detection": DETECTION, "reject": REJECT}  # fmt: skip
_NAME = {code: name for name, code in FAMILY_CODE.items()}
INTENT_SPAN = within_us(INTENT_WINDOW_MS)  # h.ts > t.ts - span  <=>  ms(h, t) <= 5000
APC_SPAN = within_us(APC_EVIDENCE_MS)
_DIRECT = int(HandleClass.DIRECT_SYSCALL_SUSPECT)


class Columns(Protocol):
    """One batch of case rows, column by column (a reader implements it, e.g. `swk.capture.simulate.case_rows`).

    Rows are in (ts, event_id) order within each host; hosts may interleave.
    """

    num_rows: int

    def ints(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(int64 values, validity) of an integer or boolean column; an absent column is all NULL."""
        ...

    def codes(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """(int64 codes, distinct values) of a text column: row i holds values[codes[i]]; -1 is NULL."""
        ...

    def pylists(self, names: Sequence[str], positions: np.ndarray) -> list[list[Any]]:
        """The values of each named column at `positions`, as Python objects (None for NULL)."""
        ...


class _Cached:
    """A batch whose column conversions are made once (several hosts may share a batch)."""

    def __init__(self, batch: Columns) -> None:
        self.batch = batch
        self._ints: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._codes: dict[str, tuple[np.ndarray, list[Any]]] = {}

    def ints(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        got = self._ints.get(name)
        if got is None:
            got = self._ints[name] = self.batch.ints(name)
        return got

    def codes(self, name: str) -> tuple[np.ndarray, list[Any]]:
        got = self._codes.get(name)
        if got is None:
            got = self._codes[name] = self.batch.codes(name)
        return got

    def lookup(self, name: str, test: Any) -> np.ndarray:
        """`test(value)` of each row's text value (False for NULL), computed once per distinct value."""
        codes, values = self.codes(name)
        table = np.array([bool(test(v)) for v in values] + [False], dtype=bool)
        return table[codes]  # code -1 reads the trailing False


class _HandleRows:
    """Handle rows of the last 5001 ms with a known actor and target, column-wise: the intents(t) of thread rows."""

    def __init__(self) -> None:
        empty = np.empty(0, dtype=np.int64)
        self.actor = self.target = self.eid = self.ts = self.pos = empty

    def extend(self, actor: np.ndarray, target: np.ndarray, eid: np.ndarray, ts: np.ndarray,
               pos: np.ndarray) -> None:  # fmt: skip
        """Append rows (in stream order)."""
        if len(pos):
            self.actor = np.concatenate((self.actor, actor))
            self.target = np.concatenate((self.target, target))
            self.eid = np.concatenate((self.eid, eid))
            self.ts = np.concatenate((self.ts, ts))
            self.pos = np.concatenate((self.pos, pos))

    def trim(self, last_ts: int) -> None:
        """Forget rows no later row can reach (rows arrive in ts order)."""
        keep = int(np.searchsorted(self.ts, last_ts - INTENT_SPAN, side="right"))
        if keep:
            self.actor, self.target, self.eid = self.actor[keep:], self.target[keep:], self.eid[keep:]
            self.ts, self.pos = self.ts[keep:], self.pos[keep:]

    def intents(self, actor: np.ndarray, target: np.ndarray, ts: np.ndarray,
                pos: np.ndarray) -> list[list[tuple[int, int]]]:  # fmt: skip
        """For each query row: the indexed rows of its pair before it in the stream with ms(h, t) <= 5000."""
        n, q = len(self.pos), len(pos)
        if not n:
            return [[] for _ in range(q)]
        # the first indexed row inside each query's window (ts ascends with the stream position)
        first = np.searchsorted(self.ts, ts - INTENT_SPAN, side="right")
        values, inverse = np.unique(np.concatenate((self.actor, self.target, actor, target)), return_inverse=True)
        m = len(values)
        h_pair = inverse[:n] * m + inverse[n : 2 * n]
        q_pair = inverse[2 * n : 2 * n + q] * m + inverse[2 * n + q :]
        shift = max(int(self.pos[-1]), int(pos.max())).bit_length() + 1
        if (m * m).bit_length() + shift > 62:  # too many distinct pids to pack (pair, position) in an int64
            return self._intents_slow(h_pair, q_pair, first, pos)
        key = (h_pair << shift) | self.pos
        order = np.argsort(key, kind="stable")
        key = key[order]
        low_pos = np.where(first < n, self.pos[np.minimum(first, n - 1)], (1 << shift) - 1)
        lo = np.searchsorted(key, (q_pair << shift) | low_pos, side="left").tolist()
        hi = np.searchsorted(key, (q_pair << shift) | pos, side="left").tolist()
        eids, times = self.eid[order].tolist(), self.ts[order].tolist()
        return [list(zip(eids[a:b], times[a:b], strict=True)) if b > a else [] for a, b in zip(lo, hi, strict=True)]

    def _intents_slow(self, h_pair: np.ndarray, q_pair: np.ndarray, first: np.ndarray,
                      pos: np.ndarray) -> list[list[tuple[int, int]]]:  # fmt: skip
        groups: dict[int, list[int]] = {}
        for i, pair in enumerate(h_pair.tolist()):
            groups.setdefault(pair, []).append(i)
        eids, times, positions = self.eid.tolist(), self.ts.tolist(), self.pos.tolist()
        out = []
        for pair, lo, at in zip(q_pair.tolist(), first.tolist(), pos.tolist(), strict=True):
            out.append([(eids[i], times[i]) for i in groups.get(pair, ()) if lo <= i and positions[i] < at])
        return out


class _Waiting:
    """Route-A detections waiting for the handle row of their operation (`PendingApc`, matched a batch at a time).

    A waiting detection takes the first later handle row with its (actor, target, access) if it is within 1000 ms;
    that row ends the wait either way, as in `PendingApc.offer`.
    """

    def __init__(self) -> None:
        self.position = 0  # stream position of the apc row being fed
        self.items: list[tuple[int, int, int, int, int, list[tuple[int, int]]]] = []

    def wait(self, key: tuple[int, int, int], ts: int, evidence: list[tuple[int, int]]) -> None:
        """Register an apc row's evidence list."""
        self.items.append((key[0], key[1], key[2], self.position, ts, evidence))

    def resolve(self, actor: np.ndarray, target: np.ndarray, access: np.ndarray, pos: np.ndarray, eid: np.ndarray,
                ts: np.ndarray, last_ts: int) -> None:  # fmt: skip
        """Offer a batch's handle rows (known actor, target and access, in stream order)."""
        keep = []
        for item in self.items:
            a, t, mask, at, since, evidence = item
            hits = np.flatnonzero((pos > at) & (actor == a) & (target == t) & (access == mask))
            if len(hits):
                k = hits[0]
                if int(ts[k]) - since < APC_SPAN:
                    evidence.append((int(eid[k]), int(ts[k])))
            elif last_ts - since < APC_SPAN:  # a later row may still be the one
                keep.append(item)
        self.items = keep


class _Host:
    """One host's replay: the engine, the stream position, the column-wise evidence indexes."""

    def __init__(self, host: Any, table: str) -> None:
        self.waiting = _Waiting()
        self.engine = HostEngine(host, table=table, pending=self.waiting)  # type: ignore[arg-type]
        self.handles = _HandleRows()
        self.count = 0  # rows fed so far (stream positions)
        self.last: tuple[int, int] | None = None

    def disorder(self, ts: np.ndarray, eid: np.ndarray) -> tuple[int, OrderError] | None:
        """(index, error) of the first row before its predecessor in (ts, event_id), as the streamed `analyze()`."""
        prev_ts, prev_eid = np.empty_like(ts), np.empty_like(eid)
        prev_ts[1:], prev_eid[1:] = ts[:-1], eid[:-1]
        prev_ts[0], prev_eid[0] = self.last if self.last is not None else (ts[0], eid[0])
        bad = np.flatnonzero((ts < prev_ts) | ((ts == prev_ts) & (eid < prev_eid)))
        if not len(bad):
            return None
        i = int(bad[0])
        return i, OrderError(f"host {self.engine.host!r}: event {int(eid[i])} (ts {int(ts[i])}) comes after event "
                             f"{int(prev_eid[i])} (ts {int(prev_ts[i])}): pass a list, or rows sorted by "
                             "(ts, event_id) per host")  # fmt: skip

    def feed(self, cols: _Cached, rows: np.ndarray, family: np.ndarray, ts: np.ndarray, eid: np.ndarray) -> None:
        """This host's rows of a batch (`rows`: their positions in the batch, ascending, in order)."""
        ts_h, eid_h, fam = ts[rows], eid[rows], family[rows]
        self.last = (int(ts_h[-1]), int(eid_h[-1]))
        gpos = np.arange(self.count, self.count + len(rows), dtype=np.int64)
        self.count += len(rows)
        last_ts = int(ts_h[-1])
        seq = (fam == THREAD) | (fam == APC) | (fam == TI) | (fam == DETECTION)
        offer = None
        is_handle = fam == HANDLE
        if is_handle.any():
            offer = self._handle_rows(cols, rows, is_handle, seq, ts_h, eid_h, gpos)
        is_registry = fam == REGISTRY
        if is_registry.any():
            seq |= is_registry & cols.lookup("key_path", high_value_attack)[rows]
        is_image = fam == IMAGE
        if is_image.any():
            system, known = cols.ints("is_system_mode")
            user = ~(known[rows] & (system[rows] != 0))
            seq |= is_image & user & cols.lookup("image_path", lambda p: is_ntdll_image(p, False))[rows]
        intents = self._intents(cols, rows, fam, ts_h, gpos)
        if seq.any():
            self._sequential(cols, rows[seq], fam[seq], ts_h[seq], eid_h[seq], gpos[seq], intents)
        if offer is not None:
            self.waiting.resolve(*offer, last_ts)
        self.handles.trim(last_ts)

    def _handle_rows(self, cols: _Cached, rows: np.ndarray, is_handle: np.ndarray, seq: np.ndarray, ts: np.ndarray,
                     eid: np.ndarray, gpos: np.ndarray) -> tuple[np.ndarray, ...] | None:  # fmt: skip
        """Index the handle rows, mark the ones that raise something; returns the rows that complete APC waits."""
        actor, actor_ok = cols.ints("actor_pid")
        target, target_ok = cols.ints("target_pid")
        access, access_ok = cols.ints("access_mask")
        class_id, class_ok = cols.ints("class_id")
        thread_obj, thread_ok = cols.ints("is_thread_object")
        a, t, m = actor[rows], target[rows], access[rows]
        known = is_handle & actor_ok[rows] & target_ok[rows]
        self.handles.extend(a[known], t[known], eid[known], ts[known], gpos[known])
        with_access = known & access_ok[rows]
        route_b = with_access & thread_ok[rows] & (thread_obj[rows] != 0) & (a != t) & ((m & THREAD_SET_CONTEXT) != 0)
        seq |= route_b | (is_handle & class_ok[rows] & (class_id[rows] == _DIRECT))
        return a[with_access], t[with_access], m[with_access], gpos[with_access], eid[with_access], ts[with_access]

    def _intents(self, cols: _Cached, rows: np.ndarray, fam: np.ndarray, ts: np.ndarray,
                 gpos: np.ndarray) -> dict[int, list[tuple[int, int]]]:  # fmt: skip
        """intents(t) of the thread rows that carry a correlation (by stream position)."""
        is_thread = fam == THREAD
        if not is_thread.any():
            return {}
        flags, flags_ok = cols.ints("corr_flags")
        actor, actor_ok = cols.ints("actor_pid")
        target, target_ok = cols.ints("target_pid")
        query = is_thread & flags_ok[rows] & (flags[rows] != 0) & actor_ok[rows] & target_ok[rows]
        if not query.any():
            return {}
        found = self.handles.intents(actor[rows][query], target[rows][query], ts[query], gpos[query])
        return dict(zip(gpos[query].tolist(), found, strict=True))

    def _sequential(self, cols: _Cached, rows: np.ndarray, fam: np.ndarray, ts: np.ndarray, eid: np.ndarray,
                    gpos: np.ndarray, intents: dict[int, list[tuple[int, int]]]) -> None:  # fmt: skip
        """Feed the rows that raise or step something to the engine, in stream order."""
        values: dict[int, Any] = {}
        for code in np.unique(fam).tolist():
            values[code] = iter(zip(*cols.batch.pylists(FAMILY_COLUMNS[_NAME[code]], rows[fam == code]), strict=True))
        engine, waiting = self.engine, self.waiting
        none: tuple = ()
        for f, t, e, g in zip(fam.tolist(), ts.tolist(), eid.tolist(), gpos.tolist(), strict=True):
            r = next(values[f])
            if f == THREAD:
                engine.thread(e, t, r[1], r[2], r[0] == ETW_THREAD_KIND, *r[3:], intents=intents.get(g, none))
            elif f == DETECTION:
                if r[1]:
                    engine.live_row(LiveRow(e, t, r[1], r[2], r[3], r[4], r[5], (r[6], r[7], r[8]), r[9], r[0]))
            elif f == HANDLE:
                engine.handle_rules(e, t, *r)
            elif f == REGISTRY:
                engine.registry(e, t, *r)
            elif f == IMAGE:
                engine.image(e, t, *r)
            elif f == APC:
                waiting.position = g
                engine.apc_row(e, t, *r)
            elif f == TI:
                engine.ti(e, t, *r)


def analyze_batches(batches: Iterable[Columns], *, table: str = "per-key") -> list[Detection]:
    """The detections table of a case given as column batches (rows in (ts, event_id) order per host); equal to
    `analyze()` of the same rows."""
    if table not in ("per-key", "driver"):
        raise ValueError(f"table must be 'per-key' or 'driver', not {table!r}")
    hosts: dict[Any, _Host] = {}
    for batch in batches:
        if batch.num_rows:
            _feed(hosts, _Cached(batch), table)
    finished: list[tuple[Any, list[Raised], list[LiveRow]]] = []
    for host in hosts.values():
        finished.append((host.engine.host, host.engine.finish(), host.engine.live))
    return detections_table(finished)


def _feed(hosts: dict[Any, _Host], cols: _Cached, table: str) -> None:
    ts, ts_ok = cols.ints("ts")
    codes, names = cols.codes("family")
    family = np.array([FAMILY_CODE.get(name, OTHER) for name in names] + [OTHER], dtype=np.int64)[codes]
    usable = np.flatnonzero(ts_ok & (family != REJECT))
    if not len(usable):
        return
    eid, _ = cols.ints("event_id")
    host_codes, host_names = cols.codes("host")
    present = host_codes[usable]
    distinct, first = np.unique(present, return_index=True)
    work = []
    for code in distinct[np.argsort(first)].tolist():  # hosts in order of their first row, as analyze() meets them
        name = host_names[code] if code >= 0 else None
        state = hosts.get(name)
        if state is None:
            state = hosts[name] = _Host(name, table)
        work.append((state, usable if len(distinct) == 1 else usable[present == code]))
    # the row analyze() would stop at: the earliest one out of order over every host of the batch
    errors = [(int(rows[i]), error) for state, rows in work if (found := state.disorder(ts[rows], eid[rows]))
              for i, error in (found,)]  # fmt: skip
    if errors:
        raise min(errors, key=lambda e: e[0])[1]
    for state, rows in work:
        state.feed(cols, rows, family, ts, eid)
