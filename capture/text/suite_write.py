"""The test suite's record printer (spec 4.3, `sleepwalker_event_printer.c`) from case rows.

Every IOCTL record the suite pumps is printed: a header with the raw QPC, then the handle or thread block with the
kernel ClassId. Addresses use the suite's own renderer (`0x%llX` plus the symbol text).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.outputs import OutputContext
from swk.capture.text import render as r
from swk.capture.text.console_write import IOCTL_PATH_CHARS, flag_list, frame_count, status
from swk.kernel import names
from swk.kernel.abi import HandleFlag, Stream

COLUMNS = ("ts", "raw_clock", "clock", "family", "kind", "sequence", "stream_mask", "actor_pid", "target_pid", "tid",
           "access_mask", "class_id", "class_name", "flags", "origin_address", "origin_protect", "origin_path",
           "exec_protect", "from_ntdll", "from_exe", "is_thread_object", "is_duplicate", "frame_count", "frames",
           "status_open_process", "status_basic_info", "status_section_name", "start_address", "image_base",
           "image_size", "got_start", "got_range", "is_remote", "outside_main_image", "corr_flags",
           "start_region_exec", "start_region_protect", "fields_json")  # fmt: skip
SUITE_CLASS = {1: "LEGITIMATE-SYSCALL", 2: "DIRECT-SYSCALL-SUSPECT"}


def stream_mask(row: dict[str, Any], flags: int) -> int:
    """Header.StreamMask: the row's, else what the driver sets (handle 0x1 or 0x3, thread 0x4)."""
    if row["stream_mask"] is not None:
        return r.u32(row["stream_mask"])
    if row["family"] == "thread":
        return Stream.THREAD
    return Stream.HANDLE | (Stream.MEMORY if flags & HandleFlag.MEMORY_RELATED else 0)


def stack_lines(ctx: OutputContext, addresses: list[int], count: int, pid: int) -> list[str]:
    """`Stack  frames=<n>` then one line per frame, or `       <none>`."""
    count = min(count, 8)
    addresses = (addresses + [0] * count)[:count]
    lines = [f"Stack  frames={count}"]
    lines += [f"       #{i} {r.suite_address(ctx, a, pid)}" for i, a in enumerate(addresses)] or ["       <none>"]
    return lines


def block(row: dict[str, Any], ctx: OutputContext) -> list[str]:
    """The empty line, header and body the suite prints for one record."""
    handle = row["family"] == "handle"
    flags = r.handle_flags(row) if handle else r.thread_flags(row)
    mask = stream_mask(row, flags)
    lines = ["", f"[IOCTL][EVENT] seq={r.u32(row['sequence'])} type={'HANDLE' if handle else 'THREAD'}"
                 f" stream=0x{mask:08X}({names.stream_names(mask)}) size=768 qpc={r.qpc(row, ctx)}"]  # fmt: skip
    if handle:
        caller, cid = r.u64(row["actor_pid"]), r.class_id(row)
        path = (row["origin_path"] or "")[:IOCTL_PATH_CHARS]
        lines += [f"[IOCTL][HANDLE] class={SUITE_CLASS.get(cid, 'UNKNOWN')}({cid}) caller={caller}"
                  f" target={r.u64(row['target_pid'])} access=0x{r.u32(row['access_mask']):08X}",
                  f"Flags  {flag_list(flags, names.SUITE_HANDLE_FLAG_NAMES)}", f"Path   {path or '<none>'}",
                  f"Mem    protect=0x{r.u32(row['origin_protect']):08X}",
                  f"Origin {r.suite_address(ctx, r.origin(row), caller)}",
                  f"Status open=0x{status(row['status_open_process']):08X} basic=0x{status(row['status_basic_info']):08X}"
                  f" section=0x{status(row['status_section_name']):08X}"]  # fmt: skip
        return lines + stack_lines(ctx, r.frames(row), frame_count(row), caller)
    pid = r.u64(row["target_pid"])
    lines += [f"[IOCTL][THREAD] process={pid} thread={r.u64(row['tid'])} creator={r.u64(row['actor_pid'])}",
              f"Flags  {flag_list(flags, names.THREAD_FLAG_NAMES)}",
              f"Start  {r.suite_address(ctx, r.u64(row['start_address']), pid)}",
              f"Image  {r.suite_address(ctx, r.u64(row['image_base']), pid)}",
              f"Size   imageSize=0x{r.u64(row['image_size']):X}"]  # fmt: skip
    return lines + stack_lines(ctx, r.frames(row), frame_count(row), pid)


def render(rows: Iterable[dict[str, Any]], ctx: OutputContext) -> Iterator[list[str]]:
    """One block per IOCTL record, in row order."""
    for row in rows:
        if r.is_ioctl_record(row):
            yield block(row, ctx)


def write(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """Write the suite's record dump; returns the number of records printed."""
    count = 0
    with r.text_output(path, ctx.newline) as out:
        for lines in render(r.each(batches, COLUMNS), ctx):
            out.extend(lines)
            count += 1
    return count
