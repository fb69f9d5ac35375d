"""The client's JSONL log (spec 5) from case rows: one line per IOCTL record and per broker ETW event.

Escaping follows `JsonEscapeA`: backslash and quote escaped, CR/LF/TAB as `\\r \\n \\t`, other bytes below 0x20
dropped, everything else raw; category/kind are cut at 127 escaped bytes, the message at 2047, the line at 2599
(before its newline), so a cut can split an escape or a UTF-8 sequence exactly as the client's buffers do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.outputs import OutputContext, atomic_output
from swk.capture.text import render as r
from swk.kernel.abi import ThreadFlag

COLUMNS = ("ts", "raw_clock", "clock", "family", "kind", "sequence", "actor_pid", "target_pid", "tid", "header_pid",
           "event_name", "access_mask", "class_id", "class_name", "flags", "origin_address", "frames",
           "exec_protect", "from_ntdll", "from_exe", "is_thread_object", "is_duplicate", "start_address",
           "image_base", "got_start", "got_range", "is_remote", "outside_main_image", "corr_flags",
           "start_region_exec", "start_region_protect", "detection_name", "severity", "task", "opcode",
           "fields_json")  # fmt: skip
_DROP = bytes(b for b in range(32) if b not in (9, 10, 13))  # control bytes the client drops
MESSAGE_LIMIT, NAME_LIMIT, LINE_LIMIT = 2047, 127, 2599


def escape(text: str, limit: int) -> bytes:
    """`JsonEscapeA` of `text` (as UTF-8), cut at `limit` escaped bytes."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text.encode()[:limit]  # the common case: nothing to escape or drop
    raw = text.encode("utf-8", "surrogateescape").translate(None, _DROP)
    raw = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    raw = raw.replace(b"\r", b"\\r").replace(b"\n", b"\\n").replace(b"\t", b"\\t")
    return raw[:limit]


class _Clock:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` of Unix microseconds; the seconds part is cached (lines come in time order)."""

    def __init__(self) -> None:
        self.second, self.prefix = None, ""

    def __call__(self, us: int) -> str:
        second, rest = divmod(us, 1_000_000)
        if second != self.second:
            self.second, self.prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self.prefix}.{rest // 1000:03d}Z"


def line(ts: str, category: str, kind: str, severity: int, pid: int, target: int, message: str) -> bytes:
    """One JSONL line (with its newline) in the client's key order."""
    out = (b'{"ts":"' + ts.encode() + b'","source":"sleepwalker-client","category":"' + escape(category, NAME_LIMIT)
           + b'","kind":"' + escape(kind, NAME_LIMIT) + b'","severity":' + str(severity).encode() + b',"pid":'
           + str(pid).encode() + b',"targetPid":' + str(target).encode() + b',"message":"'
           + escape(message, MESSAGE_LIMIT) + b'"}')  # fmt: skip
    return out[:LINE_LIMIT] + b"\n"


def ioctl_line(row: dict[str, Any], ts: str) -> tuple[int, bytes]:
    """The `ioctl` row of an IOCTL handle or thread record."""
    seq = r.u32(row["sequence"])
    if row["family"] == "handle":
        caller, target, cid, flags = (
            r.u64(row["actor_pid"]),
            r.u64(row["target_pid"]),
            r.class_id(row),
            r.handle_flags(row),
        )
        origin = r.origin(row)
        message = (f"seq={seq} class={cid} caller={caller} target={target} access=0x{r.u32(row['access_mask']):08X}"
                   f" flags=0x{flags:08X} origin=0x{origin:X}")  # fmt: skip
        severity = 4 if cid == 2 else 2
        return severity, line(ts, "ioctl", "handle", severity, caller & r.MASK32, target & r.MASK32, message)
    process, creator, flags = r.u64(row["target_pid"]), r.u64(row["actor_pid"]), r.thread_flags(row)
    message = (f"seq={seq} process={process} thread={r.u64(row['tid'])} creator={creator} flags=0x{flags:08X}"
               f" start=0x{r.u64(row['start_address']):X} imageBase=0x{r.u64(row['image_base']):X}")  # fmt: skip
    severity = 3 if flags & ThreadFlag.CORRELATED_INTENT else 1
    return severity, line(ts, "ioctl", "thread", severity, creator & r.MASK32, process & r.MASK32, message)


def broker_line(row: dict[str, Any], ts: str) -> tuple[int, bytes]:
    """The `sleepwalker-broker`/`ti-broker` row of an ETW event the broker forwarded."""
    category = "ti-broker" if row["family"] == "ti" else "sleepwalker-broker"
    event = (r.event_name(row) or "unknown")[:95] or "unknown"  # WCHAR[96]
    actor, target = r.client_pids(row)
    if row["family"] == "detection":
        severity = row["severity"] if row["severity"] is not None and 1 <= row["severity"] <= 10 else 4
        name = (row["detection_name"] or "UNKNOWN")[:127]  # CHAR[128]
        return severity, line(ts, category, "detection", severity, actor, target, f"event={event} detection={name}")
    task, opcode = (row["task"] or 0) & 0xFFFF, (row["opcode"] or 0) & 0xFFFF
    return 1, line(ts, category, "event", 1, actor, target, f"event={event} task={task} opcode={opcode}")


def render(rows: Iterable[dict[str, Any]], ctx: OutputContext) -> Iterable[tuple[int, bytes]]:
    """(severity, line) of the client's JSONL lines for rows in time order."""
    clock = _Clock()
    last_us = 0
    for row in rows:
        ns = r.event_ns(row, ctx)
        last_us = ns // 1000 + ctx.client_latency_us if ns is not None else last_us
        ts = clock(last_us)
        if r.is_etw_event(row) or row["kind"] == r.CONTROLLER_KIND:
            yield broker_line(row, ts)
        if r.is_ioctl_record(row):
            yield ioctl_line(row, ts)


def write(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext, minimum: int = 0) -> int:
    """Write the JSONL log (lines of at least `minimum` severity); returns the number of lines."""
    count = 0
    chunk: list[bytes] = []
    with atomic_output(path) as fh:
        for severity, data in render(r.each(batches, COLUMNS), ctx):
            if severity < minimum:
                continue
            chunk.append(data)
            if len(chunk) >= 8192:
                fh.write(b"".join(chunk))
                count += len(chunk)
                chunk.clear()
        fh.write(b"".join(chunk))
        count += len(chunk)
    return count


def write_high_priority(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """Write the high-priority file: the same lines, only those of severity >= the policy's minimum (default 4)."""
    return write(batches, path, ctx, ctx.high_priority_min_severity)
