"""Reader of the test suite's console (spec 4.3): `[IOCTL][EVENT]` record blocks; `[PASS]/[FAIL]/[SKIP]/[INFO]`,
summary and `key=value` lines are skipped and counted.

The suite prints the kernel ClassId and the raw QPC (`ts` is derived like the IOCTL reader's: boot time + QPC /
frequency). Handle flags are printed by name without the three Deep* bits, so `flags` is stored only for
`Flags  <none>` (the value was 0); otherwise it is NULL with the booleans from the names and
`fields_json = {"flags": <printed bits>, "flagsMask": 261695}`. Thread flags are printed by name for every defined
bit and are stored whole. A record of another type (`[IOCTL][UNKNOWN]`, later builds' file records) is rejected:
the suite printed none of its fields.
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
from swk.kernel.clock import to_ns

NAME = "suite"
DESCRIPTION = "Sleepwalker test-suite console ([IOCTL][EVENT] record blocks, [PASS]/[FAIL] lines; spec 4.3)"
H8, ADDR = r"([0-9A-F]{8})", r"0x([0-9A-F]{1,16})(?: (.*))?"
_MARK = re.compile(r"\[IOCTL\]\[EVENT\] seq=\d|\[(PASS|FAIL|SKIP)\]\[T\d{4}\] |\[(OK|FAIL)\] SleepwalkerTestSuite "
                   r"complete\.|\[INFO\] suite (knobs|Timing) ")  # fmt: skip
_L = {name: re.compile(text) for name, text in {
    "event": r"\[IOCTL\]\[EVENT\] seq=(\d{1,10}) type=(HANDLE|THREAD|FILESYSTEM|UNKNOWN\(\d{1,10}\)) "
             r"stream=0x([0-9A-F]{8})\((.*)\) size=(\d{1,10}) qpc=(-?\d{1,19})",
    "handle": rf"\[IOCTL\]\[HANDLE\] class=(LEGITIMATE-SYSCALL|DIRECT-SYSCALL-SUSPECT|UNKNOWN)\((\d{{1,10}})\)"
              rf" caller=(\d{{1,20}}) target=(\d{{1,20}}) access=0x{H8}",
    "thread": r"\[IOCTL\]\[THREAD\] process=(\d{1,20}) thread=(\d{1,20}) creator=(\d{1,20})",
    "unknown": r"\[IOCTL\]\[UNKNOWN\] event type=(\d{1,10})",
    "flags": r"Flags  (.*)", "path": r"Path   (.*)", "mem": rf"Mem    protect=0x{H8}", "origin": rf"Origin {ADDR}",
    "status": rf"Status open=0x{H8} basic=0x{H8} section=0x{H8}", "start": rf"Start  {ADDR}",
    "image": rf"Image  {ADDR}", "size": r"Size   imageSize=0x([0-9A-F]{1,16})", "stack": r"Stack  frames=([0-8])",
    "frame": rf"       #(\d) {ADDR}", "none": r"       <none>",
}.items()}  # fmt: skip
SUITE_CLASS = {"LEGITIMATE-SYSCALL": 1, "DIRECT-SYSCALL-SUSPECT": 2}
PRINTED_HANDLE_BITS = sum(bit for _, bit in names.SUITE_HANDLE_FLAG_NAMES)  # 0x3FE3F


def _ends(line: str) -> bool:
    """A record block runs to the next header or non-`[IOCTL]` bracket line (a cut `[IOCTL][HAN` stays inside)."""
    return line.startswith("[IOCTL][EVENT]") or (line.startswith("[") and not line.startswith("[IOCTL]["))


def sniff(head: bytes, path: Path) -> bool:
    """A record header, a check line or a suite summary line in the head."""
    return sniff_with(head, _MARK)


def read(path: Path, ctx: ReadContext) -> Iterator[pa.RecordBatch | Reject]:
    """Rows and rejects of every printed record, in file order."""
    check_format(path, sniff, "SleepwalkerTestSuite output")
    boot_ns = to_ns(ctx.boot_time) if ctx.boot_time else 0
    cursor = Cursor(numbered_lines(path, ctx))

    def items() -> Iterator[dict[str, Any] | Reject]:
        for item in cursor:
            if not item[1]:
                continue
            if not item[1].startswith("[IOCTL]["):
                ctx.skip()
                continue
            span = cursor.span(item, _ends)
            try:
                block = Block(span)
                row = _record(block, boot_ns, ctx.qpc_frequency)
                block.end()
                yield {**row, "source_offset": item[0]}
            except (DamagedError, ValueError, OverflowError) as exc:
                yield reject_lines(span, f"test-suite record block: {exc}")

    yield from batched(items())


def _stack(block: Block, row: dict[str, Any]) -> None:
    count = int(block.take(_L["stack"], "Stack")[1])  # the suite prints at most 8
    frames = p.frame_lines(block, count, _L["frame"])
    if not count:
        block.take(_L["none"], "<none> frame")
    row.update(frame_count=count, frames=frames)


def _record(block: Block, boot_ns: int, frequency: int) -> dict[str, Any]:
    head = _L["event"].fullmatch(block.span[0][1])
    if head is None:
        raise DamagedError("the [IOCTL][EVENT] line does not parse")
    mask, qpc = p.u32(head[3]), int(head[6])
    if head[4] != names.stream_names(mask):
        raise DamagedError(f"stream names {head[4]!r} disagree with 0x{mask:08X}")
    if qpc >= 1 << 63 or qpc < -(1 << 63):
        raise DamagedError("qpc does not fit 64 bits")
    seconds, rest = divmod(qpc, frequency)
    row: dict[str, Any] = {"sequence": p.u32(head[1], 10), "stream_mask": mask, "raw_clock": qpc, "clock": "qpc",
                           "ts": (boot_ns + seconds * 1_000_000_000 + rest * 1_000_000_000 // frequency) // 1000}  # fmt: skip
    if head[2] == "HANDLE":
        _handle(block, row)
    elif head[2] == "THREAD":
        _thread(block, row)
    else:
        raise DamagedError(f"a {head[2]} record: the test suite printed none of its fields")
    return row


def _handle(block: Block, row: dict[str, Any]) -> None:
    c = block.take(_L["handle"], "[IOCTL][HANDLE]")
    class_id = p.u32(c[2], 10)
    if SUITE_CLASS.get(c[1]) != (class_id if class_id in (1, 2) else None):  # any other id prints UNKNOWN
        raise DamagedError(f"class {c[1]} with ClassId {class_id}")
    printed = block.take(_L["flags"], "Flags")[1]
    bits = 0 if printed == "<none>" else p.flag_names(printed, names.SUITE_HANDLE_FLAG_NAMES)
    path = block.take(_L["path"], "Path")[1]
    protect = p.u32(block.take(_L["mem"], "Mem")[1])
    origin = block.take(_L["origin"], "Origin")
    status = block.take(_L["status"], "Status")
    row.update(family="handle", kind="sleepwalker:ioctl:handle", class_id=class_id, class_name=c[1],
               actor_pid=p.u64(c[3], 10), target_pid=p.u64(c[4], 10), access_mask=p.u32(c[5]),
               flags=0 if printed == "<none>" else None, **p.handle_flag_columns(bits), origin_path="" if path == "<none>" else path, origin_protect=protect,
               origin_address=p.u64(origin[1]), status_open_process=p.i32(status[1]),
               status_basic_info=p.i32(status[2]), status_section_name=p.i32(status[3]))  # fmt: skip
    if printed != "<none>":
        row["fields_json"] = json.dumps({"flags": bits, "flagsMask": PRINTED_HANDLE_BITS})
    _stack(block, row)


def _thread(block: Block, row: dict[str, Any]) -> None:
    t = block.take(_L["thread"], "[IOCTL][THREAD]")
    printed = block.take(_L["flags"], "Flags")[1]
    flags = 0 if printed == "<none>" else p.flag_names(printed, names.THREAD_FLAG_NAMES)
    start = block.take(_L["start"], "Start")
    image = block.take(_L["image"], "Image")
    size = block.take(_L["size"], "Size")
    row.update(family="thread", kind="sleepwalker:ioctl:thread", target_pid=p.u64(t[1], 10), tid=p.u64(t[2], 10),
               actor_pid=p.u64(t[3], 10), flags=flags, start_address=p.u64(start[1]), image_base=p.u64(image[1]),
               image_size=p.u64(size[1]), **p.thread_flag_columns(flags))  # fmt: skip
    _stack(block, row)
