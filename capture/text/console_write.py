"""The client console (spec 4.2, 4.6, 4.7) from case rows: IOCTL handle/thread blocks and broker ETW lines.

The client prints every IOCTL record (verbose on, no scope filter, see `swk.capture.outputs`) and, of the broker
uplink, only detections and Threat-Intelligence events; other Sleepwalker ETW events go to JSONL only. Its class
string is the user-mode recomputation of 4.2, and its resolved text is dbghelp on the client's own process, i.e.
`OutputContext.resolve` (the per-pid module cache is never filled inside this client).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.outputs import OutputContext
from swk.capture.text import render as r
from swk.kernel import names
from swk.kernel.abi import STATUS_UNSUCCESSFUL, HandleFlag

COLUMNS = ("ts", "raw_clock", "clock", "family", "kind", "sequence", "actor_pid", "target_pid", "tid", "header_pid",
           "event_name", "access_mask", "class_id", "class_name", "flags", "origin_address", "origin_protect",
           "origin_path", "exec_protect", "from_ntdll", "from_exe", "is_thread_object", "is_duplicate", "frame_count",
           "frames", "status_open_process", "status_basic_info", "status_section_name", "deep_alloc_base",
           "deep_region_size", "deep_region_protect", "deep_region_state", "deep_region_type", "deep_sample_size",
           "deep_sample", "start_address", "image_base", "image_size", "got_start", "got_range", "is_remote",
           "outside_main_image", "corr_flags", "start_region_exec", "start_region_protect", "detection_name",
           "severity", "task", "opcode", "fields_json")  # fmt: skip
IOCTL_PATH_CHARS = 259  # OriginPath is WCHAR[260] in the record


def status_lines(ctx: OutputContext) -> list[str]:
    """Start-up lines of a broker client with JSONL logging and the ETW uplink on (4.7)."""
    return [f"[*] JSONL logging enabled file={ctx.jsonl_file} highPriority={ctx.high_priority_file} "
            f"minSeverity={ctx.high_priority_min_severity}",
            "[*] Driver channel: service-broker",
            "[*] Broker mode active; ETW uplink enabled (service TI=on tiEnableErr=0).",
            "[*] IOCTL verbose output remains enabled. Use --ioctl-verbose 0 to suppress duplicate dumps.",
            "[INFO] symbol resolver: mode=dbghelp-first (no remote process module probing)"]  # fmt: skip


def flag_list(flags: int, table: tuple[tuple[str, int], ...]) -> str:
    """`flags=` text: every printed name followed by a space, or `<none>` when the whole value is 0."""
    return "<none>" if flags == 0 else "".join(f"{name} " for name in names.flag_names(flags, table))


def status(value: int | None) -> int:
    """An NTSTATUS as the record holds it (the driver's default when the step was not reached)."""
    return (STATUS_UNSUCCESSFUL if value is None else value) & r.MASK32


def stack_lines(ctx: OutputContext, addresses: list[int], count: int, pid: int) -> list[str]:
    """`stackFrames=<n>` and one `  #i` line per frame (at most 8; missing entries are the record's zeros)."""
    count = min(count, 8)
    addresses = (addresses + [0] * count)[:count]
    return [
        f"stackFrames={count}",
        *(f"  #{i} 0x{a:016X} ({r.resolved(ctx, a, pid)})" for i, a in enumerate(addresses)),
    ]


def frame_count(row: dict[str, Any]) -> int:
    """FrameCount of the record (the row's, else its frame list's length)."""
    return row["frame_count"] if row["frame_count"] is not None else len(row["frames"] or ())


def handle_block(row: dict[str, Any], ctx: OutputContext) -> list[str]:
    """`PrintHandleEvent`: the block of one IOCTL handle record, ending with its empty line."""
    caller, target, flags = r.u64(row["actor_pid"]), r.u64(row["target_pid"]), r.handle_flags(row)
    origin = r.origin(row)
    text = r.resolved(ctx, origin, caller)
    path = (row["origin_path"] or "")[:IOCTL_PATH_CHARS]
    flag_ntdll = bool(flags & HandleFlag.FROM_NTDLL)
    resolved_ntdll = "ntdll!" in text.lower() or "ntdll+" in text.lower()
    exec_ = bool(flags & HandleFlag.EXEC_PROTECT)
    from_ntdll = flag_ntdll or resolved_ntdll
    if exec_ and from_ntdll:
        klass = "LEGITIMATE-SYSCALL"
    elif exec_ and (flags & HandleFlag.FROM_EXE or not path):
        klass = "DIRECT-SYSCALL-SUSPECT"
    else:
        klass = "UNKNOWN-ORIGIN"
    protect = r.u32(row["origin_protect"])
    lines = [f"[SLEEPWALKER][HANDLE] seq={r.u32(row['sequence'])}",
             f"class={klass} callerPid={caller:016X} targetPid={target:016X} access=0x{r.u32(row['access_mask']):08X}",
             f"origin=0x{origin:016X} ({text})", f"path={path or '<unknown>'}", f"protect=0x{protect:08X}",
             f"flags={flag_list(flags, names.CLIENT_HANDLE_FLAG_NAMES)}",
             f"statusOpen=0x{status(row['status_open_process']):08X} statusBasic=0x{status(row['status_basic_info']):08X}"
             f" statusSection=0x{status(row['status_section_name']):08X}"]  # fmt: skip
    size, entropy, opcodes = r.sample_facts(row)
    base, region = r.u64(row["deep_alloc_base"]), r.u64(row["deep_region_size"])
    if base or region or size:
        deep_protect = protect if row["deep_region_protect"] is None else r.u32(row["deep_region_protect"])
        lines += [f"deep allocBase=0x{base:016X} regionSize=0x{region:016X} protect=0x{deep_protect:08X}"
                  f" state=0x{r.u32(row['deep_region_state']):08X} type=0x{r.u32(row['deep_region_type']):08X}",
                  f"deep sampleSize={size} entropy={entropy} opcodes={opcodes if size else '<none>'}"]  # fmt: skip
    lines += stack_lines(ctx, r.frames(row), frame_count(row), caller)
    if flag_ntdll != resolved_ntdll:
        lines.append(f"[WARN] fromNtdll flag mismatch: flag={int(flag_ntdll)} resolvedNtdll={int(resolved_ntdll)}")
    if klass == "DIRECT-SYSCALL-SUSPECT":
        lines.append("[ALERT] direct-syscall-suspect classification observed")
    return [*lines, ""]


def thread_block(row: dict[str, Any], ctx: OutputContext) -> list[str]:
    """`PrintThreadEvent`: the block of one IOCTL thread record, ending with its empty line."""
    pid, flags = r.u64(row["target_pid"]), r.thread_flags(row)
    start, base = r.u64(row["start_address"]), r.u64(row["image_base"])
    return [f"[SLEEPWALKER][THREAD] seq={r.u32(row['sequence'])}",
            f"pid={pid:016X} tid={r.u64(row['tid']):016X} creatorPid={r.u64(row['actor_pid']):016X} flags=0x{flags:08X}",
            f"start=0x{start:016X} ({r.resolved(ctx, start, pid)})",
            f"imageBase=0x{base:016X} ({r.resolved(ctx, base, pid)}) imageSize=0x{r.u64(row['image_size']):X}",
            f"flags={flag_list(flags, names.THREAD_FLAG_NAMES)}",
            *stack_lines(ctx, r.frames(row), frame_count(row), pid), ""]  # fmt: skip


def broker_lines(row: dict[str, Any]) -> list[str]:
    """`LoggerEmitBrokerEtwEvent`: an empty line and the uplink line of a detection or TI event (4.6)."""
    actor, target = r.client_pids(row)
    event = (r.event_name(row) or "unknown")[:95] or "unknown"
    if row["family"] == "detection":
        severity = row["severity"] if row["severity"] is not None and 1 <= row["severity"] <= 10 else 4
        name = (row["detection_name"] or "UNKNOWN")[:127]
        return ["", f"[ETW-BROKER] detection={name} severity={severity} event={event} actor={actor} target={target}"]
    return ["", f"[ETW-BROKER][TI] event={event} task={(row['task'] or 0) & 0xFFFF} actor={actor} target={target}"]


def render(rows: Iterable[dict[str, Any]], ctx: OutputContext) -> Iterator[list[str]]:
    """One list of lines per printed record or uplink event, in row order."""
    for row in rows:
        if (r.is_etw_event(row) or row["kind"] == r.CONTROLLER_KIND) and row["family"] in ("detection", "ti"):
            yield broker_lines(row)
        if r.is_ioctl_record(row):
            yield handle_block(row, ctx) if row["family"] == "handle" else thread_block(row, ctx)


def write(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """Write the client console; returns the number of IOCTL blocks and uplink lines."""
    count = 0
    with r.text_output(path, ctx.newline) as out:
        if ctx.status_lines:
            out.extend(status_lines(ctx))
        for block in render(r.each(batches, COLUMNS), ctx):
            out.extend(block)
            count += 1
    return count
