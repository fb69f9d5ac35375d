"""The ETW printer's blocks (spec 4.5, `sleepwalker_etw_printer.c`) from case rows, for every ETW family and TI.

The printer is stateful, and so is `Printer`: `dt=` is the FILETIME difference to the previous printed Meta line of
any family (one shared static), the pid->image and module caches fill as events are printed, and a non-high-value
OPEN_KEY identical to the previous printed one is counted instead of printed, its count flushed as a summary line
before the next printed event (and at the end). Each block starts with an empty line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from swk.capture.outputs import OutputContext
from swk.capture.text import render as r
from swk.capture.text.printer_cache import Modules, ProcessImages, ci
from swk.kernel import names
from swk.kernel.abi import HANDLE_CLASS_ETW, MEM_COMMIT, MEM_IMAGE, MEM_MAPPED, MEM_PRIVATE

COLUMNS = ("ts", "raw_clock", "clock", "family", "kind", "actor_pid", "target_pid", "tid", "header_pid", "header_tid",
           "event_name", "access_mask", "class_id", "class_name", "flags", "origin_address", "origin_protect",
           "origin_path", "exec_protect", "from_ntdll", "from_exe", "frame_count", "frames", "status_open_process",
           "status_basic_info", "status_section_name", "deep_alloc_base", "deep_region_size", "deep_region_protect",
           "deep_region_state", "deep_region_type", "deep_sample_size", "deep_sample", "start_address", "image_base",
           "image_size", "got_start", "got_range", "is_remote", "outside_main_image", "corr_flags",
           "corr_access_mask", "corr_age_ms", "start_region_protect", "start_region_state", "start_region_type",
           "start_region_status", "is_create", "create_status", "parent_pid", "creator_pid", "creator_tid",
           "process_start_key", "session_id", "image_path", "command_line", "is_system_mode",
           "is_signature_level_known", "signature_level", "signature_type", "operation", "notify_class", "data_type",
           "data_size", "is_high_value", "key_path", "value_name", "detection_name", "severity", "reason", "level",
           "opcode", "etw_version", "fields_json")  # fmt: skip
REGISTRY_CLASSES = {4: "RegNtPreCreateKey", 6: "RegNtPreCreateKeyEx", 10: "RegNtPreOpenKey", 12: "RegNtPreOpenKeyEx",
                    22: "RegNtPreSetValueKey", 24: "RegNtPreDeleteValueKey"}  # fmt: skip
BACKING = {MEM_PRIVATE: "private", MEM_MAPPED: "mapped", MEM_IMAGE: "image"}
TI_FIELDS = {"caller": ("CallingProcessId", "CallerProcessId", "SourceProcessId", "ProcessId"),
             "target": ("TargetProcessId", "NewProcessId", "DestProcessId", "ProcessId"),
             "tid": ("TargetThreadId", "NewThreadId", "ThreadId"),
             "start": ("StartAddress", "ThreadStartAddress", "Win32StartAddress"),
             "routine": ("ApcRoutine", "NormalRoutine", "Routine"),
             "access": ("DesiredAccess", "GrantedAccess", "ThreadAccessMask")}  # fmt: skip
TI_SIGNALS = ((("createthread", "ntcreatethreadex"), "Signal NtCreateThreadEx / remote-thread style TI event"),
              (("setcontext", "setthreadcontext"), "Signal thread-context modification TI event (hijack compatible)"),
              (("queueapc", "insertqueueapc"), "Signal APC queue/insertion TI event"))  # fmt: skip


def _b(value: Any) -> int:
    return 1 if value else 0


def _num(value: Any) -> int | None:
    """A decoded TI field value as a number (ints, or decimal/hex text)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None


class Printer:
    """`SLEEPWALKERPrintEtwRecord` / `SLEEPWALKERPrintThreatIntelRecord` with their static state."""

    def __init__(self, ctx: OutputContext) -> None:
        self.ctx = ctx
        self.last_filetime = 0  # the shared static of PrintHeaderMetadata
        self.images = ProcessImages(ctx.process_image, ctx.query_image)
        self.modules = Modules()
        self.suppressor: tuple | None = None  # the printed OPEN_KEY's comparison key and summary values
        self.suppressed = 0

    # -- shared pieces -----------------------------------------------------------------------------------------------

    def meta(self, row: dict[str, Any], name: str) -> str:
        current = r.filetime(row, self.ctx)
        dt = current - self.last_filetime if self.last_filetime and current >= self.last_filetime else 0
        self.last_filetime = current
        cpu = self.ctx.cpu(r.u32(row["header_tid"]), current) if self.ctx.cpu else 0
        level = 4 if row["level"] is None else row["level"]
        return (f"Meta   event={name} pid={r.u32(row['header_pid'])} tid={r.u32(row['header_tid'])} cpu={cpu}"
                f" lvl={level} op={row['opcode'] or 0} ver={row['etw_version'] or 0} ts=0x{current:016X} dt=0x{dt:X}")  # fmt: skip

    def address(self, pid: int, address: int) -> str:
        """`SLEEPWALKEREtwSymbolsFormatAddressForProcess`: dbghelp, then the module cache for `[unresolved]`."""
        text = r.resolved(self.ctx, address, pid)
        if "[unresolved]" in text:
            text = self.modules.resolve(pid, address) or text
        return text

    def hinted(self, pid: int, address: int, hint: str) -> str:
        """`FormatAddressWithImageHint`: a main-image-range address still unresolved prints the hint's base name."""
        text = self.address(pid, address)
        if "[unresolved]" not in text or not hint:
            return text
        if 0x7FF600000000 <= address <= 0x7FF7FFFFFFFF or 0x140000000 <= address <= 0x1FFFFFFFF:
            return r.base_name(hint)
        return text

    def stack(self, row: dict[str, Any], pid: int, hint: str, count: int) -> list[str]:
        addresses = (r.frames(row) + [0] * 8)[: min(count, 8)]
        return [f"Stack  frames={count}",
                *(f"       #{i} 0x{a:016X} ({self.hinted(pid, a, hint)})" for i, a in enumerate(addresses))]  # fmt: skip

    def flush(self) -> list[str]:
        """The suppression summary line, if any OPEN_KEY events were counted since the last printed one."""
        if not self.suppressor or not self.suppressed:
            return []
        op, pid, klass, path, value = self.suppressor[-1]
        count, self.suppressed = self.suppressed, 0
        return [f"[REGISTRY] op={op} pid={pid:016X} class={klass} path={path or '<unknown>'}"
                f" value={value or '<none>'} (+{count} similar suppressed)"]  # fmt: skip

    # -- families ----------------------------------------------------------------------------------------------------

    def handle(self, row: dict[str, Any]) -> list[str]:
        caller, target = r.u64(row["actor_pid"]), r.u64(row["target_pid"])
        exec_, ntdll, exe = _b(row["exec_protect"]), _b(row["from_ntdll"]), _b(row["from_exe"])
        path = row["origin_path"] or ""
        kernel = ci(row["class_name"] or HANDLE_CLASS_ETW.get(row["class_id"], ""))
        if kernel in ("legitimate-syscall", "direct-syscall-suspect"):
            klass = kernel.upper()
        elif exec_ and ntdll:
            klass = "LEGITIMATE-SYSCALL"
        elif exec_ and (exe or not path):
            klass = "DIRECT-SYSCALL-SUSPECT"
        else:
            klass = "UNKNOWN-ORIGIN"
        access, protect = r.u32(row["access_mask"]), r.u32(row["origin_protect"])
        caller_image, target_image = self.images(caller), self.images(target)
        origin = r.origin(row)
        stack_pid = target if caller & r.MASK32 in (0, 4) else caller
        lines = ["", f"[HANDLE] {klass}  {caller:016X} -> {target:016X}  access=0x{access:08X} ({names.access_names(access)})",
                 self.meta(row, "HandleTelemetry"), f"Actor  callerImage={caller_image}",
                 f"       targetImage={target_image}",
                 f"Origin addr=0x{origin:016X} ({self.hinted(caller, origin, caller_image)})",
                 f"       path={path or '<unknown>'}",
                 f"       protect={names.protect_display(protect)} exec={exec_} fromNtdll={ntdll} fromExe={exe}",
                 f"Status open={names.status_text(r.u32(row['status_open_process']))}"
                 f" basic={names.status_text(r.u32(row['status_basic_info']))}"
                 f" section={names.status_text(r.u32(row['status_section_name']))}"]  # fmt: skip
        size, entropy, opcodes = r.sample_facts(row)
        base, region = r.u64(row["deep_alloc_base"]), r.u64(row["deep_region_size"])
        if base or region or size:
            state, kind = r.u32(row["deep_region_state"]), r.u32(row["deep_region_type"])
            committed = state == MEM_COMMIT
            lines += [f"Deep   allocBase=0x{base:016X} regionSize=0x{region:X} protect="
                      f"{names.protect_display(r.u32(row['deep_region_protect']))} state={names.memory_state(state)}"
                      f" type={names.memory_type(kind)}",
                      f"       backing={BACKING.get(kind, 'unknown')} committed={int(committed)}"
                      f" privateCommit={int(committed and kind == MEM_PRIVATE)} imageCommit="
                      f"{int(committed and kind == MEM_IMAGE)} mappedCommit={int(committed and kind == MEM_MAPPED)}",
                      f"       sampleSize={size} entropy={entropy} opcodes={opcodes if size else '<none>'}"]  # fmt: skip
        lines += self.stack(row, stack_pid, caller_image, r.u32(row["frame_count"]))
        if klass == "DIRECT-SYSCALL-SUSPECT":
            lines.append("Alert  direct-syscall-suspect classification observed")
        return lines

    def thread(self, row: dict[str, Any]) -> list[str]:
        pid, creator = r.u64(row["target_pid"]), r.u64(row["actor_pid"])
        process_image, creator_image = self.images(pid), self.images(creator)
        start, base = r.u64(row["start_address"]), r.u64(row["image_base"])
        corr, state, kind = r.u32(row["corr_flags"]), r.u32(row["start_region_state"]), r.u32(row["start_region_type"])
        committed = state == MEM_COMMIT
        lines = ["", f"[THREAD] pid={pid:016X} tid={r.u64(row['tid']):016X} creator={creator:016X}",
                 self.meta(row, "ThreadTelemetry"),
                 f"Flags  remote={_b(row['is_remote'])} outsideMainImage={_b(row['outside_main_image'])}"
                 f" gotStart={_b(row['got_start'])} gotRange={_b(row['got_range'])}",
                 f"Actor  processImage={process_image}", f"       creatorImage={creator_image}",
                 f"Start  0x{start:016X} ({self.hinted(pid, start, process_image)})",
                 f"Image  base=0x{base:016X} ({self.hinted(pid, base, process_image)}) size=0x{r.u64(row['image_size']):X}",
                 f"Corr   flags=0x{corr:08X} ({names.corr_names(corr)}) access=0x{r.u32(row['corr_access_mask']):08X}"
                 f" ageMs={r.u32(row['corr_age_ms'])}",
                 f"StartR status={names.status_text(r.u32(row['start_region_status']))}"
                 f" protect={names.protect_display(r.u32(row['start_region_protect']))}"
                 f" state={names.memory_state(state)} type={names.memory_type(kind)}",
                 f"StartB backing={BACKING.get(kind, 'unknown')} committed={int(committed)}"
                 f" privateCommit={int(committed and kind == MEM_PRIVATE)}"]  # fmt: skip
        lines += self.stack(row, pid, process_image, r.u32(row["frame_count"]))
        if row["outside_main_image"]:
            lines.append("Alert  thread start is outside main image range")
        if corr:
            lines.append("Alert  thread event has recent handle-intent correlation")
        return lines

    def process(self, row: dict[str, Any]) -> list[str]:
        pid = r.u64(row["target_pid"])
        self.images.remember(pid, row["image_path"])
        return ["", f"[PROCESS] {'CREATE' if row['is_create'] else 'EXIT'} pid={pid:016X} parent={r.u64(row['parent_pid']):016X}"
                    f" creator={r.u64(row['creator_pid']):016X}/{r.u64(row['creator_tid']):016X} session={r.u32(row['session_id'])}",
                self.meta(row, "ProcessTelemetry"),
                f"Status create={names.status_text(r.u32(row['create_status']))}"
                f" startKey=0x{r.u64(row['process_start_key']):016X}",
                f"Image  {row['image_path'] or '<unknown>'}", f"Cmd    {row['command_line'] or '<none>'}"]  # fmt: skip

    def image(self, row: dict[str, Any]) -> list[str]:
        pid, base, size = r.u64(row["target_pid"]), r.u64(row["image_base"]), r.u64(row["image_size"])
        self.images.remember(pid, row["image_path"])
        self.modules.add(pid, base, size, row["image_path"])
        symbol, process_image = self.address(pid, base), self.images(pid)
        return ["", f"[IMAGE] pid={pid:016X} base=0x{base:016X} size=0x{size:X}", self.meta(row, "ImageTelemetry"),
                f"Actor  processImage={process_image}", f"Image  path={row['image_path'] or '<unknown>'}",
                f"       symbol={symbol}",
                f"Trust  systemMode={_b(row['is_system_mode'])} sigKnown={_b(row['is_signature_level_known'])}"
                f" sigLevel={(row['signature_level'] or 0) & 0xFF} sigType={(row['signature_type'] or 0) & 0xFF}"]  # fmt: skip

    def registry(self, row: dict[str, Any]) -> list[str]:
        op = (row["operation"] or "")[:63] or "OTHER"
        pid, session, notify = r.u64(row["actor_pid"]), r.u32(row["session_id"]), r.u32(row["notify_class"])
        dtype, dsize, high = r.u32(row["data_type"]), r.u32(row["data_size"]), _b(row["is_high_value"])
        key, value = (row["key_path"] or "")[:1023], (row["value_name"] or "")[:255]
        image = self.images(pid)
        klass = f"{REGISTRY_CLASSES.get(notify, 'Other')}({notify})"
        suppressible = ci(row["operation"] or "") == "open_key" and not high
        compare = (pid, session, notify, dtype, dsize, high, ci(op), ci(image), ci(key), ci(value))
        if suppressible and self.suppressor and self.suppressor[:-1] == compare:
            self.suppressed += 1
            return []
        lines = self.flush()
        lines += ["", f"[REGISTRY] op={op} pid={pid:016X} session={session} class={klass}",
                  self.meta(row, "RegistryTelemetry"), f"Actor  processImage={image}", f"Path   {key or '<unknown>'}",
                  f"Value  {value or '<none>'}", f"Data   type={dtype} size={dsize} highValue={high}"]  # fmt: skip
        self.suppressor = (*compare, (op, pid, klass, key, value)) if suppressible else None
        self.suppressed = 0
        return lines

    def detection(self, row: dict[str, Any]) -> list[str]:
        pid, target, corr = r.u64(row["actor_pid"]), r.u64(row["target_pid"]), r.u32(row["corr_flags"])
        return ["", f"[DETECTION] name={(row['detection_name'] or '')[:127] or 'UNKNOWN'} severity={r.u32(row['severity'])}"
                    f" pid={pid:016X} target={target:016X}",
                self.meta(row, "DetectionTelemetry"), f"Actor  processImage={self.images(pid)}",
                f"       targetImage={self.images(target)}",
                f"Corr   flags=0x{corr:08X} ({names.corr_names(corr)}) access=0x{r.u32(row['corr_access_mask']):08X}"
                f" ageMs={r.u32(row['corr_age_ms'])}", f"Reason {row['reason'] or '<none>'}"]  # fmt: skip

    def ti(self, row: dict[str, Any]) -> list[str]:
        name = row["event_name"] or "<unnamed-ti-event>"
        extra = r.fields(row)
        column = {"caller": row["actor_pid"], "target": row["target_pid"], "tid": row["tid"],
                  "start": row["start_address"], "routine": None, "access": row["access_mask"]}  # fmt: skip
        value = {}
        for key, candidates in TI_FIELDS.items():
            found = next((_num(extra[c]) for c in candidates if c in extra and _num(extra[c]) is not None), None)
            value[key] = r.u64(found if found is not None else column[key])
        if self.ctx.ti_pid_width < 8:  # the printer's 64-bit reader refuses 4-byte properties [Q]
            value["caller"] = value["target"] = value["tid"] = 0
        caller_image, target_image = self.images(value["caller"]), self.images(value["target"])
        lines = ["", f"[ETW-TI] event={name}", self.meta(row, name),
                 f"Actor  callerPid={value['caller']:016X} image={caller_image}",
                 f"Target pid={value['target']:016X} image={target_image} tid={value['tid']:016X}"
                 f" access=0x{value['access'] & r.MASK32:08X}"]  # fmt: skip
        if value["start"]:
            lines.append(
                f"Start  0x{value['start']:016X} ({self.hinted(value['target'], value['start'], target_image)})"
            )
        if value["routine"]:
            text = self.hinted(value["target"], value["routine"], target_image)
            lines.append(f"APC    routine=0x{value['routine']:016X} ({text})")
        lowered = ci(name)
        lines += [line for needles, line in TI_SIGNALS if any(n in lowered for n in needles)]
        return lines

    def other(self, row: dict[str, Any], name: str) -> list[str]:
        return ["", f"[ETW] event={name} (no formatter)", self.meta(row, name)]

    def __call__(self, row: dict[str, Any]) -> list[str]:
        """The lines printed for one event (none for a suppressed OPEN_KEY)."""
        if row["family"] == "ti":
            return self.flush() + self.ti(row)
        name = r.event_name(row) or "<unnamed>"
        if name == "RegistryTelemetry":
            return self.registry(row)
        method = {"HandleTelemetry": self.handle, "ThreadTelemetry": self.thread, "ProcessTelemetry": self.process,
                  "ImageTelemetry": self.image, "DetectionTelemetry": self.detection}.get(name)  # fmt: skip
        return self.flush() + (method(row) if method else self.other(row, name))


def write(batches: Iterable[pa.RecordBatch], path: Path, ctx: OutputContext) -> int:
    """Write the printer's console; returns the number of blocks printed (summary lines not counted)."""
    printer = Printer(ctx)
    count = 0
    with r.text_output(path, ctx.newline) as out:
        for row in r.each(batches, COLUMNS):
            if not r.is_etw_event(row):
                continue
            lines = printer(row)
            count += lines.count("")
            out.extend(lines)
        out.extend(printer.flush())
    return count
