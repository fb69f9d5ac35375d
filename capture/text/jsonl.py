"""Reader of the client's JSONL log (spec 5): IOCTL rows, broker detections and broker events, in chunks.

A chunk of lines is matched with one RE2 pattern of the client's exact line shape (key order, no escapes), and the
messages with one pattern per category/kind, all in Arrow; numbers are converted with numpy. Lines off that path
(escapes, a message cut inside an escape by the client's 2047-byte buffer, keys reordered by another tool) go through
`json.loads` one by one and rejoin the same vectorised mapping. Empty lines and JSON objects that are not the
client's are skipped and counted; anything else that does not decode is rejected with its line number.

`ts` is the client's write time (`clock='client-write'`, `raw_clock` = Unix µs), not the event time. IOCTL rows get
the record's `sequence`, ClassId, full Flags (and the booleans they imply), origin/start/image addresses; broker
rows get the pids the controller chose (spec 7.4): a thread or process event's pid is the process (`target_pid`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture.base import ReadContext, Reject
from swk.capture.text import vector as v
from swk.capture.text.lines import check_format
from swk.capture.text.parse import CONTROLLER_NAMES
from swk.kernel.abi import HandleFlag, ThreadFlag
from swk.kernel.etw import FAMILIES, PROVIDER_NAME, THREAT_INTEL_PROVIDER_NAME

NAME = "jsonl"
DESCRIPTION = "Sleepwalker client JSONL log (events.swk.jsonl, high_priority.swk.jsonl; spec 5)"
CHUNK_BYTES = 4 << 20
_MARK = re.compile(rb'^\{"ts":"[^"\n]{0,40}","source":"sleepwalker-client"', re.MULTILINE)
_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"
_LINE = (rf'^\{{"ts":"(?P<ts>{_TS})Z","source":"sleepwalker-client","category":"(?P<category>[a-z-]{{1,20}})",'
         r'"kind":"(?P<kind>[a-z]{1,12})","severity":(?P<severity>\d{1,10}),"pid":(?P<pid>\d{1,10}),'
         r'"targetPid":(?P<target>\d{1,10}),"message":"(?P<message>[^"\\]*)"\}$')  # fmt: skip
_FIELDS = ("ts", "category", "kind", "severity", "pid", "target", "message")
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
    first = 1
    carry = b""
    with path.open("rb") as fh:
        while data := fh.read(CHUNK_BYTES):
            data = carry + data
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            yield from _chunk(data[:cut], first, ctx)
            first += data.count(b"\n", 0, cut) + 1
            ctx.advance(fh.tell() - len(carry))
        if carry:  # a last line with no newline: the file was cut, the line may still be whole
            yield from _chunk(carry, first, ctx)
            ctx.advance(fh.tell())


def _chunk(data: bytes, first: int, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    text = data.decode("utf-8", errors="replace")
    lines = v.split_lines(text)
    numbers = np.arange(first, first + len(lines), dtype=np.int64)
    matched = pc.extract_regex(lines, _LINE)
    fast = np.asarray(matched.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    fields = {name: matched.field(name).filter(pa.array(fast)) for name in _FIELDS}
    raw, nums = lines.filter(pa.array(fast)), numbers[fast]
    rejects: list[Reject] = []
    slow = _slow([(int(n), lines[int(i)].as_py()) for i, n in zip(np.flatnonzero(~fast), numbers[~fast], strict=True)],
                 ctx, rejects)  # fmt: skip
    if slow:
        for name in _FIELDS:
            fields[name] = pa.concat_arrays([fields[name], pa.array([s[1][name] for s in slow], pa.string())])
        raw = pa.concat_arrays([raw, pa.array([s[2] for s in slow], pa.string())])
        nums = np.concatenate([nums, np.array([s[0] for s in slow], dtype=np.int64)])
    if len(nums):
        table = _rows(fields, raw, nums, rejects)
        if table.num_rows:
            yield from table.sort_by("source_offset").to_batches(max_chunksize=65_536)
    yield from sorted(rejects, key=lambda r: r.offset)


def _slow(items: list[tuple[int, str]], ctx: ReadContext, rejects: list[Reject]) -> list[tuple[int, dict, str]]:
    """Lines off the fast path, decoded one by one: (line number, the seven fields as text, raw line)."""
    out = []
    for number, text in items:
        if not text.strip():
            ctx.skip()
            continue
        obj, cut = _loads(text)
        if obj is None:
            rejects.append(_reject(number, text, "not a JSON object the client wrote (damaged or cut line)"))
            continue
        if obj.get("source") != "sleepwalker-client":
            ctx.skip()  # JSON from something else
            continue
        if cut:
            ctx.warn("a message was cut inside an escape by the client's 2047-byte buffer (spec 5)")
        fields = {"ts": obj.get("ts"), "category": obj.get("category"), "kind": obj.get("kind"),
                  "severity": obj.get("severity"), "pid": obj.get("pid"), "target": obj.get("targetPid"),
                  "message": obj.get("message")}  # fmt: skip
        ints = all(type(fields[k]) is int and 0 <= fields[k] <= 0xFFFFFFFF for k in ("severity", "pid", "target"))
        strs = all(isinstance(fields[k], str) for k in ("ts", "category", "kind", "message"))
        if not (ints and strs and re.fullmatch(_TS + "Z", fields["ts"])):
            rejects.append(_reject(number, text, "a client JSONL key is missing or has the wrong type"))
            continue
        fields["ts"] = fields["ts"][:-1]
        out.append((number, {k: str(val) for k, val in fields.items()}, text))
    return out


def _loads(text: str) -> tuple[dict[str, Any] | None, bool]:
    """The JSON object of a line; a message cut after a lone backslash is repaired by dropping it."""
    for attempt, cut in ((text, False), (_uncut(text), True)):
        if attempt is None:
            continue
        try:
            obj = json.loads(attempt, strict=False)
        except ValueError:
            continue
        return (obj, cut) if isinstance(obj, dict) else (None, False)
    return None, False


def _uncut(text: str) -> str | None:
    """A line whose message ended in half an escape (`...\\"}`): the odd trailing backslash removed."""
    if not text.endswith('"}'):
        return None
    body = text[:-2]
    run = len(body) - len(body.rstrip("\\"))
    return body[:-1] + '"}' if run % 2 else None


def _reject(number: int, text: str, reason: str) -> Reject:
    raw = text.encode("utf-8", "replace")
    return Reject(number, reason, raw, len(raw))


def _rows(f: dict[str, pa.Array], raw: pa.Array, nums: np.ndarray, rejects: list[Reject]) -> pa.Table:
    """Case rows of lines decoded to their seven fields; lines whose message does not parse are rejected."""
    category, kind = f["category"], f["kind"]
    ioctl = pc.equal(category, "ioctl")
    broker = pc.is_in(category, pa.array(["sleepwalker-broker", "ti-broker"]))
    local = pc.is_in(category, pa.array(["sleepwalker", "ti"]))
    groups = (
        ("handle", pc.and_(ioctl, pc.equal(kind, "handle")), _handle),
        ("thread", pc.and_(ioctl, pc.equal(kind, "thread")), _thread),
        ("detection", pc.and_(broker, pc.equal(kind, "detection")), _detection),
        ("local_detection", pc.and_(local, pc.equal(kind, "detection")), _detection),
        ("event", pc.and_(broker, pc.equal(kind, "event")), _event),
        ("local_event", pc.and_(local, pc.equal(kind, "event")), _event),
    )
    seen = np.zeros(len(nums), dtype=bool)
    tables = []
    ts_us = _ts(f["ts"])
    for name, mask, build in groups:
        mask = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
        seen |= mask
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        m = pc.extract_regex(f["message"].take(pa.array(idx)), _MESSAGES[name])
        matched = np.asarray(m.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        # Rows whose message does not match are never built: their captures are empty strings, not numbers.
        for i in idx[~matched]:
            rejects.append(_reject(int(nums[i]), raw[int(i)].as_py(), f"{name.replace('_', ' ')} row: the message "
                                   "does not parse"))  # fmt: skip
        idx, m = idx[matched], m.filter(pa.array(matched))
        if not len(idx):
            continue
        cols, bad = build(m, {k: a.take(pa.array(idx)) for k, a in f.items()})
        bad |= np.isnan(ts_us[idx])
        for j in np.flatnonzero(bad):
            rejects.append(_reject(int(nums[idx[j]]), raw[int(idx[j])].as_py(),
                                   f"{name.replace('_', ' ')} row: a value does not parse"))  # fmt: skip
        keep = ~bad
        if not keep.any():
            continue
        common = {"ts": pa.array(ts_us[idx][keep].astype(np.int64)).cast(pa.timestamp("us", tz="UTC")),
                  "raw_clock": ts_us[idx][keep].astype(np.int64), "clock": "client-write",
                  "source_offset": nums[idx][keep]}  # fmt: skip
        cols = {k: (val.filter(pa.array(keep)) if isinstance(val, pa.Array) else
                    val[keep] if isinstance(val, np.ndarray) else val) for k, val in cols.items()}  # fmt: skip
        tables.append(v.table({**common, **cols}, int(keep.sum())))
    for j in np.flatnonzero(~seen):
        rejects.append(_reject(int(nums[j]), raw[int(j)].as_py(),
                               f"category {f['category'][int(j)].as_py()!r} with kind {f['kind'][int(j)].as_py()!r}"
                               " is not a client JSONL row"))  # fmt: skip
    if not tables:
        return pa.table({"source_offset": pa.array([], pa.int64())})
    return pa.concat_tables(tables, promote_options="default")


def _ts(ts: pa.Array) -> np.ndarray:
    """Unix µs of `YYYY-MM-DDTHH:MM:SS.mmm` (NaN where the date is impossible)."""
    seconds = pc.strptime(pc.utf8_slice_codeunits(ts, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="s",
                          error_is_null=True)  # fmt: skip
    ms = pc.cast(pc.utf8_slice_codeunits(ts, 20, 23), pa.int64())
    out = pc.add(pc.multiply(seconds.cast(pa.int64()), 1_000_000), pc.multiply(ms, 1000))
    return out.to_numpy(zero_copy_only=False).astype(np.float64)


def _int(values: pa.Array) -> np.ndarray:
    return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)


def _handle(m: pa.StructArray, f: dict[str, pa.Array]) -> tuple[dict[str, Any], np.ndarray]:
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


def _thread(m: pa.StructArray, f: dict[str, pa.Array]) -> tuple[dict[str, Any], np.ndarray]:
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


def _detection(m: pa.StructArray, f: dict[str, pa.Array]) -> tuple[dict[str, Any], np.ndarray]:
    name = pc.fill_null(m.field("name"), "")
    event, text = _names(m)
    ti = pc.is_in(f["category"], pa.array(["ti-broker", "ti"]))
    controller = pc.and_(pc.invert(ti), pc.is_in(name, pa.array(sorted(CONTROLLER_NAMES))))
    kind = pc.if_else(
        ti,
        pc.binary_join_element_wise("ti:etw:", text, ""),
        pc.if_else(controller, "sleepwalker:controller:detection", "sleepwalker:etw:DetectionTelemetry"),
    )
    provider = pc.if_else(ti, THREAT_INTEL_PROVIDER_NAME,
                          pc.if_else(controller, pa.scalar(None, pa.string()), PROVIDER_NAME))  # fmt: skip
    severity = _int(f["severity"])
    cols: dict[str, Any] = {"family": "detection", "kind": kind, "provider": provider, "event_name": event,
                            "detection_name": name, "severity": np.minimum(severity, 0x7FFFFFFF),
                            "actor_pid": _int(f["pid"]), "target_pid": _int(f["target"])}  # fmt: skip
    if "reason" in [m.type.field(i).name for i in range(m.type.num_fields)]:
        reason = pc.fill_null(m.field("reason"), "")
        cols["reason"] = pc.if_else(pc.equal(reason, "<none>"), "", reason)
    return cols, severity > 0x7FFFFFFF


def _event(m: pa.StructArray, f: dict[str, pa.Array]) -> tuple[dict[str, Any], np.ndarray]:
    event, text = _names(m)
    ti = np.asarray(pc.is_in(f["category"], pa.array(["ti-broker", "ti"])).to_numpy(zero_copy_only=False), dtype=bool)
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
    pid, target = _int(f["pid"]), _int(f["target"])
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
