"""Reader of the client's JSONL log (spec 5): IOCTL rows, broker detections and broker events, in chunks.

A chunk of lines is split into fields with numpy over its bytes (`jsonl_lines`), and the messages are parsed with one
RE2 pattern per category/kind in Arrow. Lines off that path (escapes, a message cut inside an escape by the client's
2047-byte buffer, keys reordered by another tool) go through `json.loads` one by one and rejoin the same vectorised
mapping. Empty lines and JSON objects that are not the client's are skipped and counted; anything else that does
not decode is rejected with its line number.

`ts` is the client's write time (`clock='client-write'`, `raw_clock` = Unix µs), not the event time. IOCTL rows get
the record's `sequence`, ClassId, full Flags (and the booleans they imply), origin/start/image addresses; broker
rows get the pids the controller chose (spec 7.4): a thread or process event's pid is the process (`target_pid`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture.base import ReadContext, Reject, line_blocks
from swk.capture.text import jsonl_lines as jl
from swk.capture.text import vector as v
from swk.capture.text.lines import check_format
from swk.capture.text.parse import CONTROLLER_NAMES
from swk.kernel.abi import HandleFlag, ThreadFlag
from swk.kernel.etw import FAMILIES, PROVIDER_NAME, THREAT_INTEL_PROVIDER_NAME

NAME = "jsonl"
DESCRIPTION = "Sleepwalker client JSONL log (events.swk.jsonl, high_priority.swk.jsonl; spec 5)"
CHUNK_BYTES = 4 << 20
_MARK = re.compile(rb'^\{"ts":"[^"\n]{0,40}","source":"sleepwalker-client"', re.MULTILINE)
_MESSAGES = {
    "handle": r"^seq=(?P<seq>\d{1,10}) class=(?P<cls>\d{1,9}) caller=(?P<caller>\d{1,20}) target=(?P<target>\d{1,20})"
              r" access=0x(?P<access>[0-9A-F]{8}) flags=0x(?P<flags>[0-9A-F]{8}) origin=0x(?P<origin>[0-9A-F]{1,16})$",
    "thread": r"^seq=(?P<seq>\d{1,10}) process=(?P<process>\d{1,20}) thread=(?P<thread>\d{1,20})"
              r" creator=(?P<creator>\d{1,20}) flags=0x(?P<flags>[0-9A-F]{8}) start=0x(?P<start>[0-9A-F]{1,16})"
              r" imageBase=0x(?P<base>[0-9A-F]{1,16})$",
    "detection": r"^event=(?P<event>.*) detection=(?P<name>.*)$",
    "local_detection": r"^event=(?P<event>.*?) detection=(?P<name>.*?) reason=(?P<reason>.*)$",
    "event": r"^event=(?P<event>.*) task=(?P<task>\d{1,5}) opcode=(?P<opcode>\d{1,5})$",
    "local_event": r"^event=(?P<event>.*)$",
}  # fmt: skip
_EVENT_FAMILY = {name: fam.family for name, fam in FAMILIES.items()}


def sniff(head: bytes, path: Path) -> bool:
    """A line in the head that starts like the client's JSONL rows."""
    return bool(_MARK.search(head))


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Rows and rejects of every line, a chunk of lines at a time."""
    check_format(path, sniff, "the Sleepwalker client's JSONL log")
    with path.open("rb") as fh:
        for block, first, consumed in line_blocks(fh, CHUNK_BYTES):
            yield from _chunk(block, first, ctx)
            ctx.advance(consumed)


def _chunk(data: bytes, first: int, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:  # damaged bytes: work on the text with U+FFFD, line breaks stay where they were
        data = data.decode("utf-8", errors="replace").encode()
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, ends = jl.lines_of(buf)
    fields = jl.Fields()
    done = jl.fast(buf, starts, ends, fields)
    rejects: list[Reject] = []
    names: dict[int, tuple[str, str]] = {}
    slow: list[tuple[int, dict[str, Any]]] = []
    for i in np.flatnonzero(~done):
        text = data[starts[i] : ends[i]].decode().removesuffix("\r")
        if (decoded := _slow(int(i), text, first, ctx, rejects)) is not None:
            slow.append((int(i), decoded))
            names[int(i)] = (decoded["category"], decoded["kind"])
    if slow:
        _add(fields, slow)
    if fields.index:
        table = _rows(fields.joined(), lambda i: data[starts[i] : ends[i]], first, names, rejects)
        if table.num_rows:
            yield from table.sort_by("source_offset").to_batches(max_chunksize=65_536)
    yield from sorted(rejects, key=lambda r: r.offset)


def _slow(i: int, text: str, first: int, ctx: ReadContext, rejects: list[Reject]) -> dict[str, Any] | None:
    """One line off the fast path: its client fields, or None when it was skipped or rejected."""
    if not text.strip():
        ctx.skip()
        return None
    obj, cut = jl.loads(text)
    if obj is None:
        rejects.append(_reject(first + i, text.encode(), "not a JSON object the client wrote (damaged or cut line)"))
        return None
    if obj.get("source") != "sleepwalker-client":
        ctx.skip()  # JSON from something else
        return None
    fields = jl.checked(obj)
    if fields is None:
        rejects.append(_reject(first + i, text.encode(), "a client JSONL key is missing or has the wrong type"))
        return None
    if cut:
        ctx.warn("a message was cut inside an escape by the client's 2047-byte buffer (spec 5)")
    return fields


def _add(out: jl.Fields, slow: list[tuple[int, dict[str, Any]]]) -> None:
    """The slow lines' fields, joined to the fast lines' arrays in one go."""
    ts = np.frombuffer("".join(f["ts"] for _, f in slow).encode(), dtype=np.uint8).reshape(-1, jl.TS_WIDTH)
    ts_us, _ = jl.timestamps(ts)

    def code(names: tuple[str, ...], key: str) -> np.ndarray:
        return np.array([names.index(f[key]) if f[key] in names else -1 for _, f in slow], dtype=np.int64)

    def ints(key: str) -> np.ndarray:
        return np.array([f[key] for _, f in slow], dtype=np.int64)

    out.add(np.array([i for i, _ in slow], dtype=np.int64), ts_us, code(jl.CATEGORIES, "category"),
            code(jl.KINDS, "kind"), ints("severity"), ints("pid"), ints("targetPid"),
            pa.array([f["message"] for _, f in slow], pa.string()))  # fmt: skip


def _reject(number: int, raw: bytes, reason: str) -> Reject:
    return Reject(number, reason, raw, len(raw))


def _rows(f: dict[str, Any], raw: Any, first: int, names: dict[int, tuple[str, str]],
          rejects: list[Reject]) -> pa.Table:  # fmt: skip
    """Case rows of decoded lines; lines whose message or values do not parse are rejected."""
    category, kind = f["category"], f["kind"]
    broker, local = np.isin(category, (1, 2)), np.isin(category, (3, 4))
    groups = (
        ("handle", (category == 0) & (kind == 0), _handle),
        ("thread", (category == 0) & (kind == 1), _thread),
        ("detection", broker & (kind == 2), _detection),
        ("local_detection", local & (kind == 2), _detection),
        ("event", broker & (kind == 3), _event),
        ("local_event", local & (kind == 3), _event),
    )
    seen = np.zeros(len(category), dtype=bool)
    tables = []
    for name, mask, build in groups:
        seen |= mask
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        m = pc.extract_regex(f["message"].take(pa.array(idx)), _MESSAGES[name])
        matched = np.asarray(m.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        # Rows whose message does not match are never built: their captures are empty strings, not numbers.
        bad_rows = list(idx[~matched])
        idx, m = idx[matched], m.filter(pa.array(matched))
        if len(idx):
            sub = {k: a[idx] for k, a in f.items() if k != "message"}
            cols, bad = build(m, sub)
            bad |= sub["ts_us"] < 0
            bad_rows += list(idx[bad])
            keep = ~bad
            if keep.any():
                common = {"ts": pa.array(sub["ts_us"][keep]).cast(pa.timestamp("us", tz="UTC")),
                          "raw_clock": sub["ts_us"][keep], "clock": "client-write",
                          "source_offset": first + sub["index"][keep]}  # fmt: skip
                cols = {k: (val.filter(pa.array(keep)) if isinstance(val, pa.Array) else
                            val[keep] if isinstance(val, np.ndarray) else val) for k, val in cols.items()}  # fmt: skip
                tables.append(v.table({**common, **cols}, int(keep.sum())))
        for j in bad_rows:
            line = int(f["index"][j])
            rejects.append(_reject(first + line, raw(line), f"{name.replace('_', ' ')} row: the message or a value "
                                   "does not parse"))  # fmt: skip
    for j in np.flatnonzero(~seen):
        line = int(f["index"][j])
        cat, knd = names.get(line, (jl.CATEGORIES[category[j]], jl.KINDS[kind[j]]))
        rejects.append(
            _reject(first + line, raw(line), f"category {cat!r} with kind {knd!r} is not a client JSONL row")
        )
    if not tables:
        return pa.table({"source_offset": pa.array([], pa.int64())})
    return pa.concat_tables(tables, promote_options="default")


def _int(values: pa.Array) -> np.ndarray:
    return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)


def _handle(m: pa.StructArray, f: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
    caller, big1 = v.dec_u64(m.field("caller"))
    target, big2 = v.dec_u64(m.field("target"))
    flags = v.hex_u64(m.field("flags")).astype(np.int64)

    def bit(b: int) -> np.ndarray:
        return (flags & b) != 0

    cols = {"family": "handle", "kind": "sleepwalker:ioctl:handle", "sequence": _int(pc.fill_null(m.field("seq"), "0")),
            "class_id": _int(pc.fill_null(m.field("cls"), "0")), "actor_pid": v.as_stored(caller),
            "target_pid": v.as_stored(target), "access_mask": v.hex_u64(m.field("access")).astype(np.int64),
            "flags": flags, "origin_address": v.as_stored(v.hex_u64(m.field("origin"))),
            "exec_protect": bit(HandleFlag.EXEC_PROTECT), "from_ntdll": bit(HandleFlag.FROM_NTDLL),
            "from_exe": bit(HandleFlag.FROM_EXE), "is_thread_object": bit(HandleFlag.THREAD_OBJECT),
            "is_duplicate": bit(HandleFlag.DUPLICATE_OPERATION)}  # fmt: skip
    return cols, big1 | big2


def _thread(m: pa.StructArray, f: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
    process, big1 = v.dec_u64(m.field("process"))
    thread, big2 = v.dec_u64(m.field("thread"))
    creator, big3 = v.dec_u64(m.field("creator"))
    flags = v.hex_u64(m.field("flags")).astype(np.int64)

    def bit(b: int) -> np.ndarray:
        return (flags & b) != 0

    corr = bit(ThreadFlag.CORR_MEMORY) * 1 | bit(ThreadFlag.CORR_THREAD_CTX) * 2 | bit(ThreadFlag.CORR_DUP_HANDLE) * 4
    cols = {"family": "thread", "kind": "sleepwalker:ioctl:thread", "sequence": _int(pc.fill_null(m.field("seq"), "0")),
            "target_pid": v.as_stored(process), "tid": v.as_stored(thread), "actor_pid": v.as_stored(creator),
            "flags": flags, "start_address": v.as_stored(v.hex_u64(m.field("start"))),
            "image_base": v.as_stored(v.hex_u64(m.field("base"))), "got_start": bit(ThreadFlag.GOT_START),
            "got_range": bit(ThreadFlag.GOT_RANGE), "is_remote": bit(ThreadFlag.REMOTE_CREATOR),
            "outside_main_image": bit(ThreadFlag.OUTSIDE_MAIN_IMG), "corr_flags": corr.astype(np.int64),
            "start_region_exec": bit(ThreadFlag.START_REGION_EXEC)}  # fmt: skip
    return cols, big1 | big2 | big3


def _names(m: pa.StructArray) -> tuple[pa.Array, pa.Array]:
    """The event name (NULL for the client's `unknown`) and the raw text."""
    event = pc.fill_null(m.field("event"), "")
    return pc.if_else(pc.equal(event, "unknown"), pa.scalar(None, pa.string()), event), event


def _detection(m: pa.StructArray, f: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
    name = pc.fill_null(m.field("name"), "")
    event, text = _names(m)
    ti = pa.array(np.isin(f["category"], (2, 4)))
    controller = pc.and_(pc.invert(ti), pc.is_in(name, pa.array(sorted(CONTROLLER_NAMES))))
    kind = pc.if_else(
        ti,
        pc.binary_join_element_wise("ti:etw:", text, ""),
        pc.if_else(controller, "sleepwalker:controller:detection", "sleepwalker:etw:DetectionTelemetry"),
    )
    provider = pc.if_else(ti, THREAT_INTEL_PROVIDER_NAME,
                          pc.if_else(controller, pa.scalar(None, pa.string()), PROVIDER_NAME))  # fmt: skip
    severity = f["severity"]
    cols: dict[str, Any] = {"family": "detection", "kind": kind, "provider": provider, "event_name": event,
                            "detection_name": name, "severity": np.minimum(severity, 0x7FFFFFFF),
                            "actor_pid": f["pid"], "target_pid": f["target"]}  # fmt: skip
    if "reason" in [m.type.field(i).name for i in range(m.type.num_fields)]:
        reason = pc.fill_null(m.field("reason"), "")
        cols["reason"] = pc.if_else(pc.equal(reason, "<none>"), "", reason)
    return cols, severity > 0x7FFFFFFF


def _event(m: pa.StructArray, f: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
    event, text = _names(m)
    ti = np.isin(f["category"], (2, 4))
    known = pc.fill_null(event, "").to_pylist()  # few distinct names: mapped in Python once per distinct value
    families = {n: _EVENT_FAMILY.get(n, "generic") for n in set(known)}
    family = np.where(ti, "ti", np.array([families[n] for n in known], dtype=object))
    has_task = "task" in [m.type.field(i).name for i in range(m.type.num_fields)]
    task = _int(pc.fill_null(m.field("task"), "0")) if has_task else None
    unnamed_ti = (
        pc.binary_join_element_wise("ti:etw:task", pc.cast(task, pa.string()), "") if has_task else "ti:etw:unknown"
    )
    kind = pc.if_else(pa.array(ti), pc.if_else(pc.is_null(event), unnamed_ti, pc.binary_join_element_wise(
        "ti:etw:", text, "")), pc.binary_join_element_wise("sleepwalker:etw:", text, ""))  # fmt: skip
    pid, target = f["pid"], f["target"]
    pair = np.isin(family, ["handle", "apc", "detection"])
    process_only = np.isin(family, ["thread", "process"])
    cols: dict[str, Any] = {
        "family": family, "kind": kind, "event_name": event,
        "provider": np.where(ti, THREAT_INTEL_PROVIDER_NAME, PROVIDER_NAME).astype(object),
        "actor_pid": pa.array(pid, mask=process_only), "target_pid": pa.array(
            np.where(pair, target, pid), mask=~(pair | process_only | (family == "image")))}  # fmt: skip
    if has_task:
        cols.update(task=task, opcode=_int(pc.fill_null(m.field("opcode"), "0")))
    return cols, (task > 0xFFFF) if has_task else np.zeros(len(pid), dtype=bool)
