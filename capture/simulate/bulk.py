"""The high-volume part of benign activity, generated a second at a time with numpy and applied in slices.

Registry opens and sets, process and thread handle opens and DLL loads among the long-running processes make up
most of a host's telemetry and raise nothing by themselves (no high-value key, no DIRECT stack, no APC access, no
ntdll). What they change in the driver is its intent ring, its work queue and the replay's evidence index, so each
slice of them that falls between two other events is applied through `Driver.open_handles` (the driver's effects
one by one) and its rows are built column-wise. `reference=True` runs the very same operations one at a time
through the ordinary actions instead, which is how the fast path is tested.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from swk.capture.simulate.host import Process
from swk.capture.simulate.modules import COMMON_DLLS
from swk.capture.simulate.rows import CaseSink, class_table, signed, stream_mask
from swk.capture.simulate.sim import Simulation, hkcu
from swk.capture.simulate.world import Baseline
from swk.kernel.abi import HandleFlag
from swk.kernel.etw import PROVIDER_NAME, REGISTRY_NOTIFY_CLASS
from swk.kernel.model.access import intent_flags
from swk.kernel.model.classify import Classification
from swk.kernel.model.registry import high_value_attack

REGISTRY, HANDLE, IMAGE = 0, 1, 2
_MEMORY_RELATED, _THREAD_OBJECT, _DUPLICATE = (int(HandleFlag.MEMORY_RELATED), int(HandleFlag.THREAD_OBJECT),
                                              int(HandleFlag.DUPLICATE_OPERATION))  # fmt: skip
CHUNK_US = 1_000_000
RELATIVE_KEYS = (
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced", "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
    "System\\CurrentControlSet\\Control\\Nls\\CodePage", "Software\\Classes\\CLSID\\{9BA05972-F6A8-11CF-A442-00A0C90A8F39}\\InprocServer32",
    "SOFTWARE\\Microsoft\\Cryptography\\Defaults\\Provider", "Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings",
    "SOFTWARE\\Policies\\Microsoft\\Windows\\System", "System\\CurrentControlSet\\Services\\Tcpip\\Parameters",
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders", "SOFTWARE\\Microsoft\\Ole",
    "Control Panel\\Desktop", "Software\\Microsoft\\Windows\\DWM", "SOFTWARE\\Microsoft\\Windows Defender\\Features",
)  # fmt: skip
ABSOLUTE_KEYS = (
    "\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList",
    "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Environment",
    "\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\FolderDescriptions",
)  # fmt: skip
SET_KEYS = (("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\UserAssist\\{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}\\Count", "HRZR_PGYFRFFVBA", (3, 72)),
            ("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs", "MRUListEx", (3, 40)),
            ("Software\\Microsoft\\Edge\\BLBeacon", "failed_count", (4, 4)))  # fmt: skip


@dataclass(frozen=True)
class RegistryTemplate:
    """One registry operation a process makes over and over."""

    operation: str
    key_path: str
    value_name: str = ""
    data: tuple[int, int] | None = None


@dataclass(frozen=True)
class HandleTemplate:
    """One kind of handle open a caller makes (its stack, access and object kind); the target varies."""

    caller: Process
    api: str
    threadpool: bool
    access: int
    kind: str  # process, duplicate, thread


class Bulk:
    """Generates and applies the high-volume benign operations of one simulation."""

    def __init__(self, sim: Simulation, base: Baseline, rate: float, weights: tuple[float, float, float], seed: int,
                 reference: bool = False) -> None:  # fmt: skip
        self.sim = sim
        self.rng = np.random.default_rng(seed)
        self.rate = rate  # operations per second
        self.weights = np.array(weights) / sum(weights)
        self.reference = reference
        self.procs = [p for p in base.all() if p.threads]
        self.pids = np.array([p.pid for p in self.procs], dtype=np.int64)
        self.tids = np.array([p.threads[0].tid for p in self.procs], dtype=np.int64)
        self.sessions = np.array([p.session for p in self.procs], dtype=np.int64)
        self.registry = self._registry_templates()
        self.handles = self._handle_templates(base)
        self.dlls = list(COMMON_DLLS[16:])
        self._explorer = self.procs.index(base.explorer)
        self._chunk_end: int | None = None
        self._ts = np.zeros(0, dtype=np.int64)
        self._i = 0
        self.applied = 0
        self._slices: list[tuple] = []
        self._prepare()
        sim.sink.producers.append(self)

    def _registry_templates(self) -> list[RegistryTemplate]:
        out = [RegistryTemplate("OPEN_KEY", k) for k in RELATIVE_KEYS + ABSOLUTE_KEYS]
        out += [RegistryTemplate("SET_VALUE", hkcu(k), v, d) for k, v, d in SET_KEYS]
        out.append(
            RegistryTemplate("CREATE_KEY", "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\SessionInfo\\1")
        )
        assert not any(high_value_attack(t.key_path) for t in out), "bulk registry keys must raise nothing"
        return out

    def _handle_templates(self, base: Baseline) -> list[HandleTemplate]:
        # (weight, template): Defender scanning, services and WMI querying, user apps, a WOW64 client, ntdll-internal
        # opens (LEGITIMATE), RPC servers duplicating handles, stack walks opening threads for GET_CONTEXT
        out = [(35, HandleTemplate(base.defender, "OpenProcess", True, 0x1410, "process"))]
        out += [(35 / 4 / len(base.svchosts), HandleTemplate(s, "OpenProcess", True, a, "process"))
                for s in base.svchosts for a in (0x1000, 0x1000, 0x101000, 0x1400)]  # fmt: skip
        users = (base.explorer, *base.user)
        out += [(10 / 3 / len(users), HandleTemplate(u, "OpenProcess", False, a, "process"))
                for u in users for a in (0x1000, 0x100000, 0x1010)]  # fmt: skip
        out += [(6, HandleTemplate(base.steam, "OpenProcess", False, 0x1000, "process")),
                (4, HandleTemplate(base.wmi, "QueryDebugInformation", False, 0x1410, "process"))]  # fmt: skip
        out += [(2, HandleTemplate(s, "DuplicateHandle", False, 0x101000, "duplicate")) for s in base.svchosts[:3]]
        out.append((4, HandleTemplate(base.defender, "OpenThread", False, 0x0A, "thread")))
        self._handle_p = np.array([w for w, _ in out]) / sum(w for w, _ in out)
        templates = [t for _, t in out]
        self._classes: list[Classification] = []
        for t in templates:
            frames = self.sim.frames(t.caller, t.api, t.threadpool)
            self._classes.append(self.sim.driver._classify(t.caller.pid, t.caller.threads[0].tid, t.caller.space,
                                                          frames, t.kind))  # fmt: skip
        assert all(c.class_id != 2 and c.deep_key is None for c in self._classes), "bulk stacks must raise nothing"
        return templates

    # -- generation ---------------------------------------------------------------------------------------------

    def _chunk(self, start: int) -> None:
        """Draw the next second of operations."""
        rng = self.rng
        n = rng.poisson(self.rate * CHUNK_US / 1e6)
        self._ts = np.sort(rng.integers(start, start + CHUNK_US, n, dtype=np.int64))
        self._kind = rng.choice(3, n, p=self.weights)
        self._actor = rng.integers(0, len(self.procs), n)
        self._target = rng.integers(0, len(self.procs), n)
        self._reg = rng.integers(0, len(self.registry), n)
        self._handle = rng.choice(len(self.handles), n, p=self._handle_p)
        self._dll = rng.integers(0, len(self.dlls), n)
        # the user's shell writes the user's keys
        self._actor[(self._kind == REGISTRY) & self._is_set[self._reg]] = self._explorer
        self._i = 0
        self._chunk_end = start + CHUNK_US
        # the handle opens of the chunk as Python lists, once: a slice then only slices lists
        hpos = np.flatnonzero(self._kind == HANDLE)
        handle = self._handle[hpos]
        self._h_pos = hpos.tolist()
        self._h_ts = self._ts[hpos].tolist()
        self._h_target = self.pids[self._target[hpos]].tolist()
        self._h_caller = self._t_caller[handle].tolist()
        self._h_access = self._t_access[handle].tolist()
        self._h_intent = self._t_intent[handle].tolist()
        self._h_kind = [self._t_kind[k] for k in handle.tolist()]
        self._h_class = [self._classes[k] for k in handle.tolist()]
        self._ts_list = self._ts.tolist()

    def flush_until(self, end_us: int) -> None:
        """Apply every operation before `end_us` (in time order)."""
        while True:
            if self._chunk_end is None:
                self._chunk(self.sim.start_us)
            j = bisect.bisect_left(self._ts_list, end_us, self._i)  # (a numpy call costs more, ~80k calls per 1M)
            if j > self._i:
                self._apply(self._i, j)
                self._i = j
            if end_us <= self._chunk_end:
                return
            self._chunk(self._chunk_end)

    # -- application ----------------------------------------------------------------------------------------------

    def _apply(self, i: int, j: int) -> None:
        self.applied += j - i
        if self.reference:
            self._one_by_one(self._kind[i:j], self._ts[i:j], self._reg[i:j], self._handle[i:j], self._dll[i:j],
                             self._actor[i:j], self._target[i:j])  # fmt: skip
            return
        sink = self.sim.sink
        sink.check_time(self._ts_list[i])
        lo, hi = bisect.bisect_left(self._h_pos, i), bisect.bisect_left(self._h_pos, j)
        sequences: list[int] = []
        workers: list[int] = []
        keep = None
        if hi > lo:
            driver = self.sim.driver
            h_ts, targets = self._h_ts[lo:hi], self._h_target[lo:hi]
            callers, accesses = self._h_caller[lo:hi], self._h_access[lo:hi]
            kept, sequences, workers = driver.open_handles(h_ts, callers, targets, accesses, self._h_kind[lo:hi],
                                                           self._h_intent[lo:hi])  # fmt: skip
            first = sink.next_id - i
            if all(kept):
                eids = [first + pos for pos in self._h_pos[lo:hi]]
                driver.index_handles(eids, h_ts, callers, targets, accesses, self._h_class[lo:hi])
            else:  # the work queue dropped some opens: they get no rows
                hpos = np.array(self._h_pos[lo:hi]) - i
                keep = np.ones(j - i, dtype=bool)
                keep[hpos] = kept
                eids = (sink.next_id + np.cumsum(keep) - 1)[hpos].tolist()
                pick = [k for k, ok in enumerate(kept) if ok]
                driver.index_handles([eids[k] for k in pick], [h_ts[k] for k in pick], [callers[k] for k in pick],
                                     [targets[k] for k in pick], [accesses[k] for k in pick],
                                     [self._h_class[lo + k] for k in pick])  # fmt: skip
        rows = (j - i) if keep is None else int(keep.sum())
        self._slices.append((sink.next_id, i, j, keep, sequences, workers, self._chunk_arrays()))
        sink.check_time(self._ts_list[j - 1])
        sink.take(rows)

    def _chunk_arrays(self) -> tuple[np.ndarray, ...]:
        return self._ts, self._kind, self._reg, self._handle, self._dll, self._actor, self._target

    def _one_by_one(self, kind: np.ndarray, ts: np.ndarray, reg: np.ndarray, handle: np.ndarray, dll: np.ndarray,
                    actor: np.ndarray, target: np.ndarray) -> None:  # fmt: skip
        sim = self.sim
        for k, t, r, h, d, a, g in zip(kind.tolist(), ts.tolist(), reg.tolist(), handle.tolist(), dll.tolist(),
                                       actor.tolist(), target.tolist(), strict=True):  # fmt: skip
            if k == REGISTRY:
                tmpl = self.registry[r]
                sim.registry(t, self.procs[a], tmpl.operation, tmpl.key_path, tmpl.value_name, tmpl.data)
            elif k == IMAGE:
                proc, spec = self.procs[a], self.dlls[d]
                sim.driver.load_image(t, proc.pid, proc.threads[0].tid, sim.host.bases[spec], spec.size, spec.path)
            else:
                tmpl, victim = self.handles[h], self.procs[g]
                frames = sim.frames(tmpl.caller, tmpl.api, tmpl.threadpool)
                sim.driver.open_handle(t, tmpl.caller.pid, tmpl.caller.threads[0].tid, victim.pid, tmpl.access,
                                       frames, thread=tmpl.kind == "thread", duplicate=tmpl.kind == "duplicate")  # fmt: skip

    # -- rows -------------------------------------------------------------------------------------------------------

    def tables(self, sink: CaseSink) -> list[pa.Table]:
        """Registry, handle and image rows of every slice applied since the last call (the sink's flush)."""
        if not self._slices:
            return []
        # slices of one chunk are taken from its arrays at once (a flush spans a few chunks and thousands of slices)
        parts: list[list[np.ndarray]] = [[] for _ in range(7)]
        eid_parts: list[np.ndarray] = []
        sequences: list[int] = []
        workers: list[int] = []
        positions: list[np.ndarray] = []
        arrays: tuple[np.ndarray, ...] = ()
        for first, i, j, keep, seq, work, chunk in self._slices:
            if positions and chunk[0] is not arrays[0]:
                self._take(arrays, positions, parts)
                positions = []
            arrays = chunk
            pos = np.arange(i, j, dtype=np.int64)
            if keep is not None:
                pos = pos[keep]
            positions.append(pos)
            eid_parts.append(np.arange(first, first + len(pos), dtype=np.int64))
            sequences += seq  # of the handle rows
            workers += work
        self._take(arrays, positions, parts)
        self._slices = []
        ts, kind, reg, handle, dll, actor, target = (np.concatenate(p) for p in parts)
        eids = np.concatenate(eid_parts)
        sequences, workers = np.array(sequences, dtype=np.int64), np.array(workers, dtype=np.int64)
        cols = {"eids": eids, "ts": ts, "reg": reg, "handle": handle, "dll": dll, "actor": actor, "target": target}
        out = []
        for code, build in ((REGISTRY, self._registry_rows), (HANDLE, self._handle_rows), (IMAGE, self._image_rows)):
            mask = kind == code
            if mask.any():
                out.append(build(sink, {k: v[mask] for k, v in cols.items()}, sequences, workers))
        return out

    @staticmethod
    def _take(arrays: tuple[np.ndarray, ...], positions: list[np.ndarray], parts: list[list[np.ndarray]]) -> None:
        index = np.concatenate(positions)
        for part, array in zip(parts, arrays, strict=True):
            part.append(array[index])

    def _common(self, sink: CaseSink, c: dict, family: str, event: str, header_pid: np.ndarray,
                header_tid: np.ndarray) -> dict:  # fmt: skip
        return sink.common([c["eids"], c["ts"], header_pid, header_tid], len(c["eids"]), family,
                           f"sleepwalker:etw:{event}", PROVIDER_NAME, event)  # fmt: skip

    def _registry_rows(self, sink: CaseSink, c: dict, _seq: np.ndarray, _workers: np.ndarray) -> pa.Table:
        actor, reg = c["actor"], pa.array(c["reg"])
        out = self._common(sink, c, "registry", "RegistryTelemetry", self.pids[actor], self.tids[actor])
        out.update({"actor_pid": pa.array(self.pids[actor]), "session_id": pa.array(self.sessions[actor]),
                    **{name: column.take(reg) for name, column in self._registry_columns.items()}})  # fmt: skip
        return pa.table(out)

    def _handle_rows(self, sink: CaseSink, c: dict, sequences: np.ndarray, workers: np.ndarray) -> pa.Table:
        index = c["handle"]
        n = len(index)
        out = self._common(sink, c, "handle", "HandleTelemetry", np.full(n, 4, dtype=np.int64), workers)
        flags = pa.array(self._t_flags[index])
        classes = pa.array(index.astype(np.int32))
        out.update({
            "actor_pid": pa.array(self._t_caller[index]), "target_pid": pa.array(self.pids[c["target"]]),
            "access_mask": pa.array(self._t_access[index]), "flags": flags, "stream_mask": stream_mask(flags),
            "sequence": pa.array(sequences), "is_thread_object": pa.array(self._t_thread[index]),
            "is_duplicate": pa.array(self._t_dup[index]),
            **{name: column.take(classes) for name, column in self._class_columns.items()},
            "deep_sample_size": pa.array(np.zeros(n, dtype=np.int32)),
            "deep_sample": pa.array(np.full(n, b"", dtype=object), type=pa.binary()),
        })  # fmt: skip
        return pa.table(out)

    def _image_rows(self, sink: CaseSink, c: dict, _seq: np.ndarray, _workers: np.ndarray) -> pa.Table:
        actor, dll = c["actor"], pa.array(c["dll"])
        n = len(actor)
        pids = pa.array(self.pids[actor])
        out = self._common(sink, c, "image", "ImageTelemetry", self.pids[actor], self.tids[actor])
        out.update({"actor_pid": pids, "target_pid": pids, "is_system_mode": pa.array(np.zeros(n, dtype=bool)),
                    "is_signature_level_known": pa.array(np.ones(n, dtype=bool)),
                    "signature_level": pa.array(np.full(n, 12, dtype=np.int32)),
                    "signature_type": pa.array(np.full(n, 1, dtype=np.int32)),
                    **{name: column.take(dll) for name, column in self._image_columns.items()}})  # fmt: skip
        return pa.table(out)

    def _prepare(self) -> None:
        """Per-template columns and attributes, computed once."""
        t = self.registry
        self._is_set = np.array([x.operation == "SET_VALUE" for x in t])
        self._registry_columns = {
            "operation": pa.array([x.operation for x in t]),
            "notify_class": pa.array([REGISTRY_NOTIFY_CLASS[x.operation] for x in t], type=pa.int32()),
            "data_type": pa.array([x.data[0] if x.data else 0 for x in t], type=pa.int64()),
            "data_size": pa.array([x.data[1] if x.data else 0 for x in t], type=pa.int64()),
            "is_high_value": pa.array([False] * len(t)), "key_path": pa.array([x.key_path for x in t]),
            "value_name": pa.array([x.value_name for x in t])}  # fmt: skip
        self._class_columns = class_table(self._classes)
        h = self.handles
        self._t_caller = np.array([x.caller.pid for x in h], dtype=np.int64)
        self._t_access = np.array([x.access for x in h], dtype=np.int64)
        self._t_kind = [x.kind for x in h]
        self._t_intent = np.array([intent_flags(x.access, x.kind == "thread", x.kind == "duplicate") for x in h])
        self._t_thread = np.array([x.kind == "thread" for x in h])
        self._t_dup = np.array([x.kind == "duplicate" for x in h])
        flags = np.array([c.flags for c in self._classes], dtype=np.int64)
        flags |= np.where((self._t_access & 0x1FFFFF) != 0, _MEMORY_RELATED, 0)
        self._t_flags = flags | np.where(self._t_thread, _THREAD_OBJECT, 0) | np.where(self._t_dup, _DUPLICATE, 0)
        specs = self.dlls
        self._image_columns = {
            "image_base": pa.array([signed(self.sim.host.bases[s]) for s in specs], type=pa.int64()),
            "image_size": pa.array([s.size for s in specs], type=pa.int64()),
            "image_path": pa.array([s.path for s in specs], type=pa.string())}  # fmt: skip
