"""Reader of the client console (spec 4.2 IOCTL blocks, 4.6 `[ETW-BROKER]` lines, 4.7 status lines skipped).

The console has no timestamps (`ts` NULL) and its class string is the client's user-mode recomputation (4.4), so it
goes to `class_name` only. Handle flags are printed by name for bits below 0x200 only: `flags` is stored only when
the client printed `flags=<none>` (the whole value was 0); otherwise `flags` is NULL, the flag booleans come from
the names, and `fields_json` keeps `{"flags": <printed bits>, "flagsMask": 511}`. Thread flags are printed in hex
and stored whole. Builds whose client also printed ETW printer blocks (4.5) are read with the printer's parsers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.capture.text import parse as p
from swk.capture.text import printer_blocks
from swk.capture.text.lines import (
    Block,
    Cursor,
    DamagedError,
    batched,
    check_format,
    numbered_lines,
    reject_lines,
    sniff_with,
)
from swk.kernel import names
from swk.kernel.etw import PROVIDER_NAME, THREAT_INTEL_PROVIDER_NAME

NAME = "console"
DESCRIPTION = "Sleepwalker client console ([SLEEPWALKER][HANDLE]/[THREAD] blocks, [ETW-BROKER] lines; spec 4.2, 4.6)"
H16, H8 = r"([0-9A-F]{16})", r"([0-9A-F]{8})"
_MARK = re.compile(r"\[SLEEPWALKER\]\[(HANDLE|THREAD)\] seq=\d|\[ETW-BROKER\]|\[\*\] (Driver channel: |Attached target="
                   r"|Broker mode active;|IOCTL verbose output|JSONL logging enabled|ETW uplink disabled)")  # fmt: skip
_L = {name: re.compile(text) for name, text in {
    "handle": r"\[SLEEPWALKER\]\[HANDLE\] seq=(\d{1,10})", "thread": r"\[SLEEPWALKER\]\[THREAD\] seq=(\d{1,10})",
    "class": rf"class=(LEGITIMATE-SYSCALL|DIRECT-SYSCALL-SUSPECT|UNKNOWN-ORIGIN) callerPid={H16} targetPid={H16}"
             rf" access=0x{H8}",
    "origin": rf"origin=0x{H16} \((.*)\)", "path": r"path=(.*)", "protect": rf"protect=0x{H8}", "flags": r"flags=(.*)",
    "status": rf"statusOpen=0x{H8} statusBasic=0x{H8} statusSection=0x{H8}",
    "deep": rf"deep allocBase=0x{H16} regionSize=0x{H16} protect=0x{H8} state=0x{H8} type=0x{H8}",
    "sample": r"deep sampleSize=(\d{1,2}) entropy=(\d\.\d{3}) opcodes=((?:[0-9A-F]{2})(?: [0-9A-F]{2}){0,15}"
              r"(?: \.\.\.)?|<none>)",
    "frames": r"stackFrames=([0-8])", "frame": rf"  #(\d) 0x{H16} \((.*)\)",
    "warn": r"\[WARN\] fromNtdll flag mismatch: flag=([01]) resolvedNtdll=([01])",
    "alert": r"\[ALERT\] direct-syscall-suspect classification observed",
    "tids": rf"pid={H16} tid={H16} creatorPid={H16} flags=0x{H8}", "start": rf"start=0x{H16} \((.*)\)",
    "image": rf"imageBase=0x{H16} \((.*)\) imageSize=0x([0-9A-F]{{1,16}})",
    "detection": r"\[ETW-BROKER\] detection=(.*) severity=(\d{1,10}) event=(.*) actor=(\d{1,10}) target=(\d{1,10})",
    "ti": r"\[ETW-BROKER\]\[TI\] event=(.*) task=(\d{1,5}) actor=(\d{1,10}) target=(\d{1,10})",
}.items()}  # fmt: skip
PRINTED_HANDLE_BITS = 0x1FF


def sniff(head: bytes, path: Path) -> bool:
    """A client IOCTL block title, an uplink line or a client status line in the head."""
    return sniff_with(head, _MARK)


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Rows and rejects of every client block and uplink line, in file order."""
    check_format(path, sniff, "a Sleepwalker client console")
    yield from batched(_items(Cursor(numbered_lines(path, ctx)), ctx))


def _items(cursor: Cursor, ctx: ReadContext) -> Iterator[dict[str, Any] | Reject]:
    state = printer_blocks.State()
    for item in cursor:
        text = item[1]
        if not text:
            continue
        if text.startswith("[SLEEPWALKER]["):
            span = cursor.span(item, lambda line: line.startswith("[") and not line.startswith(("[WARN] ", "[ALERT] ")))
            noise = [line for line in span[1:] if line[1].startswith("[WARN] ") and not _L["warn"].fullmatch(line[1])]
            ctx.skip(len(noise))  # e.g. a symbol-resolver warning printed while frames were resolved
            span = [line for line in span if line not in noise]
            try:
                block = Block(span)
                row = _handle(block) if text.startswith("[SLEEPWALKER][HANDLE]") else _thread(block)
                block.end()
                yield {**row, "source_offset": item[0]}
            except (DamagedError, ValueError, OverflowError) as exc:
                yield reject_lines(span, f"client IOCTL block: {exc}")
        elif text.startswith("[ETW-BROKER]"):
            try:
                yield {**_uplink(text), "source_offset": item[0]}
            except (DamagedError, ValueError, OverflowError) as exc:
                yield reject_lines([item], f"client uplink line: {exc}")
        elif (out := printer_blocks.consume(cursor, item, state)) is not None:
            yield from out
        else:
            ctx.skip()


def _frames(block: Block, pid_row: dict[str, Any]) -> None:
    count = int(block.take(_L["frames"], "stackFrames")[1])  # the client prints at most 8
    pid_row.update(frame_count=count, frames=p.frame_lines(block, count, _L["frame"]))


def _handle(block: Block) -> dict[str, Any]:
    title = _L["handle"].fullmatch(block.span[0][1])
    if title is None:
        raise DamagedError("the title line does not parse")
    c = block.take(_L["class"], "class")
    origin = block.take(_L["origin"], "origin")
    path = block.take(_L["path"], "path")[1]
    protect = p.u32(block.take(_L["protect"], "protect")[1])
    printed = block.take(_L["flags"], "flags")[1]
    bits = 0 if printed == "<none>" else p.flag_names(printed, names.CLIENT_HANDLE_FLAG_NAMES)
    status = block.take(_L["status"], "status")
    row: dict[str, Any] = {
        "family": "handle", "kind": "sleepwalker:ioctl:handle", "sequence": p.u32(title[1], 10), "class_name": c[1],
        "actor_pid": p.u64(c[2]), "target_pid": p.u64(c[3]), "access_mask": p.u32(c[4]),
        "origin_address": p.u64(origin[1]), "origin_path": "" if path == "<unknown>" else path,
        "origin_protect": protect, "flags": 0 if printed == "<none>" else None, **p.handle_flag_columns(bits),
        "status_open_process": p.i32(status[1]),
        "status_basic_info": p.i32(status[2]), "status_section_name": p.i32(status[3]),
    }  # fmt: skip
    extra: dict[str, Any] = {} if printed == "<none>" else {"flags": bits, "flagsMask": PRINTED_HANDLE_BITS}
    if deep := block.maybe(_L["deep"]):
        sample = block.take(_L["sample"], "deep sampleSize")
        row.update(deep_alloc_base=p.u64(deep[1]), deep_region_size=p.u64(deep[2]), deep_region_protect=p.u32(deep[3]),
                   deep_region_state=p.u32(deep[4]), deep_region_type=p.u32(deep[5]), deep_sample_size=int(sample[1]))  # fmt: skip
        if int(sample[1]):
            extra.update(deepSampleEntropy=sample[2], deepSampleOpcodes=sample[3])
    else:  # the deep lines are printed whenever one of these is non-zero
        row.update(deep_alloc_base=0, deep_region_size=0, deep_sample_size=0)
    if extra:
        row["fields_json"] = json.dumps(extra)
    _frames(block, row)
    warn = block.maybe(_L["warn"])
    if warn and int(warn[1]) != int(row["from_ntdll"]):
        raise DamagedError("the fromNtdll warning disagrees with the flags line")
    if (block.maybe(_L["alert"]) is not None) != (c[1] == "DIRECT-SYSCALL-SUSPECT"):
        raise DamagedError("the [ALERT] line does not agree with the class")
    return row


def _thread(block: Block) -> dict[str, Any]:
    title = _L["thread"].fullmatch(block.span[0][1])
    if title is None:
        raise DamagedError("the title line does not parse")
    ids = block.take(_L["tids"], "pid/tid")
    start = block.take(_L["start"], "start")
    image = block.take(_L["image"], "imageBase")
    flags = p.u32(ids[4])
    printed = block.take(_L["flags"], "flags")[1]
    expected = "<none>" if flags == 0 else "".join(f"{n} " for n in names.flag_names(flags, names.THREAD_FLAG_NAMES))
    if printed != expected:
        raise DamagedError("the flag names disagree with the hex flags")
    row: dict[str, Any] = {
        "family": "thread", "kind": "sleepwalker:ioctl:thread", "sequence": p.u32(title[1], 10),
        "target_pid": p.u64(ids[1]), "tid": p.u64(ids[2]), "actor_pid": p.u64(ids[3]), "flags": flags,
        "start_address": p.u64(start[1]), "image_base": p.u64(image[1]), "image_size": p.u64(image[3]),
        **p.thread_flag_columns(flags),
    }  # fmt: skip
    _frames(block, row)
    return row


def _uplink(text: str) -> dict[str, Any]:
    """An `[ETW-BROKER]` detection or `[ETW-BROKER][TI]` line (4.6)."""
    if m := _L["ti"].fullmatch(text):
        event, task = (None if m[1] == "unknown" else m[1]), int(m[2])
        target = p.u32(m[4], 10)
        return {"family": "ti", "kind": p.ti_kind(event, task), "provider": THREAT_INTEL_PROVIDER_NAME,
                "event_name": event, "task": task, "actor_pid": p.u32(m[3], 10), "target_pid": target or None}  # fmt: skip
    if m := _L["detection"].fullmatch(text):
        kind = p.detection_kind(m[1])
        return {"family": "detection", "kind": kind, "provider": None if "controller" in kind else PROVIDER_NAME,
                "event_name": None if m[3] == "unknown" else m[3], "detection_name": m[1], "severity": p.small(m[2]),
                "actor_pid": p.u32(m[4], 10), "target_pid": p.u32(m[5], 10)}  # fmt: skip
    raise DamagedError("the uplink line does not parse")
