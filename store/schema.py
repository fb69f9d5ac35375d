"""The case schema: one explicit, versioned Arrow schema, never inferred.

One row per captured event. Common columns say what, when, where from and who; every family's fields follow in
their own columns, NULL where a family or a source format does not carry them (nothing is invented). Rejected input
travels in the same table as `family = 'reject'` rows, so a case stays one Parquet file.

Storage types are chosen so DuckDB and Spark read them natively: pids, tids, addresses and 32-bit masks are
BIGINT (a 64-bit address keeps its two's-complement bits, so kernel addresses read negative; format them with
`& 0xFFFFFFFFFFFFFFFF`), NTSTATUS values INT (signed, as Windows defines them), times `timestamp[us, UTC]`
(Spark cannot read nanosecond Parquet timestamps natively; the source's exact clock value stays in `raw_clock`).
Unsigned Parquet types are avoided on purpose: Spark reads UINT64 as decimal(20,0) and DuckDB 2 no longer casts
UBIGINT to BIGINT implicitly.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

# Metadata keys in the Parquet footer.
META_SCHEMA_VERSION = b"swk.schema_version"
META_MANIFEST = b"swk.manifest"

FAMILIES = ("handle", "thread", "apc", "process", "image", "registry", "detection", "ti", "file", "generic",
            "reject")  # fmt: skip

# A stack frame: the return address, and module + offset where the source names them (Sysmon CallTrace).
FRAME = pa.struct([pa.field("address", pa.int64()), pa.field("module", pa.string()), pa.field("offset", pa.int64())])

REGISTERS = pa.struct([pa.field(name.lower(), pa.int64()) for name in (
    "Rax", "Rbx", "Rcx", "Rdx", "Rsi", "Rdi", "Rbp", "Rsp", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
    "Rip", "EFlags", "Dr0", "Dr1", "Dr2", "Dr3", "Dr6", "Dr7")])  # fmt: skip


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={b"doc": doc.encode()})


I64, I32, STR, BOOL, BIN = pa.int64(), pa.int32(), pa.string(), pa.bool_(), pa.binary()
TS = pa.timestamp("us", tz="UTC")

COMMON = [
    _f("event_id", I64, "stable id of the row within the case; evidence lists point at it", nullable=False),
    _f("ts", TS, "UTC event time (IOCTL records: boot time + QPC / frequency, see the manifest's clock)"),
    _f("raw_clock", I64, "the source's own clock value: QPC ticks or FILETIME"),
    _f("clock", STR, "what raw_clock is: qpc, filetime, text"),
    _f(
        "family",
        STR,
        "handle, thread, apc, process, image, registry, detection, ti, file, generic, reject",
        nullable=False,
    ),
    _f(
        "kind", STR, "namespaced source kind, e.g. sleepwalker:ioctl:handle, sleepwalker:etw:ThreadTelemetry, sysmon:10"
    ),
    _f("source_format", STR, "reader that produced the row: ioctl, etl, jsonl, console, printer, evtx, ..."),
    _f("source_file", STR, "input path as given to swk"),
    _f("source_offset", I64, "byte offset (binary inputs) or 1-based line number (text inputs)"),
    _f("host", STR, "host the event came from"),
    _f("sequence", I64, "source sequence number (IOCTL Header.Sequence, EVTX record id)"),
    _f("actor_pid", I64, "acting process: handle caller, thread creator (resolved actor), detection processId"),
    _f("target_pid", I64, "acted-on process: handle target, thread's process, new process, detection targetPid"),
    _f("tid", I64, "thread the event is about (new thread id for thread events)"),
    _f("header_pid", I64, "ETW header ProcessId (spec 2.3: the context the kernel code ran in)"),
    _f("header_tid", I64, "ETW header ThreadId"),
    _f("provider", STR, "ETW provider or log channel"),
    _f("event_name", STR, "TraceLogging/TDH event name, or the Sysmon event name"),
    _f("actor_guid", STR, "Sysmon SourceProcessGuid/ParentProcessGuid"),
    _f("target_guid", STR, "Sysmon TargetProcessGuid/ProcessGuid"),
    _f("actor_image", STR, "image path of the actor when the source names it"),
    _f("target_image", STR, "image path of the target when the source names it"),
]

HANDLE = [
    _f("access_mask", I64, "desired (or granted, Sysmon) access mask; also APC, TI and file access"),
    _f("class_id", I32, "handle ClassId 0 unknown, 1 legitimate syscall, 2 direct-syscall suspect"),
    _f("class_name", STR, "class string (HandleTelemetry, ApcTelemetry)"),
    _f("flags", I64, "IOCTL record Flags (handle, thread or file flags by family)"),
    _f("stream_mask", I64, "IOCTL Header.StreamMask"),
    _f("origin_address", I64, "innermost user-mode return address (= frames[0])"),
    _f("origin_protect", I64, "page protection of the origin region"),
    _f("origin_path", STR, "NT path of the section mapped at the origin"),
    _f("exec_protect", BOOL, "origin protection is executable"),
    _f("from_ntdll", BOOL, "origin path contains ntdll.dll"),
    _f("from_exe", BOOL, "origin path contains .exe"),
    _f("is_thread_object", BOOL, "handle is to a thread (IOCTL flag; ETW does not carry it)"),
    _f("is_duplicate", BOOL, "operation is a handle duplicate (IOCTL flag, ApcTelemetry)"),
    _f("frame_count", I32, "frames the source says it captured"),
    pa.field("frames", pa.list_(FRAME), metadata={b"doc": b"stack frames, innermost first"}),
    _f("status_open_process", I32, "NTSTATUS of opening the caller"),
    _f("status_basic_info", I32, "NTSTATUS of the basic memory query at the origin"),
    _f("status_section_name", I32, "NTSTATUS of the section-name query at the origin"),
    _f("deep_alloc_base", I64, "AllocationBase of the origin region"),
    _f("deep_region_size", I64, "RegionSize of the origin region"),
    _f("deep_region_protect", I64, "always equals origin_protect [Q]"),
    _f("deep_region_state", I64, "MEM_COMMIT/RESERVE/FREE"),
    _f("deep_region_type", I64, "MEM_IMAGE/MAPPED/PRIVATE"),
    _f("deep_sample_size", I32, "0 or 64"),
    _f("deep_sample", BIN, "first bytes at the origin region's base"),
    _f("capture_flags", I64, "1496-byte records: CaptureFlags"),
    pa.field("full_frames", pa.list_(FRAME), metadata={b"doc": b"1496-byte records: up to 32 frames"}),
    pa.field("registers", REGISTERS, metadata={b"doc": b"1496-byte records: caller context registers"}),
    _f("stack_snapshot_address", I64, "1496-byte records: address of the stack snapshot"),
    _f("stack_snapshot", BIN, "1496-byte records: up to 256 stack bytes"),
]

THREAD = [
    _f("start_address", I64, "Win32 start address"),
    _f("image_base", I64, "thread: process main image base; image: the loaded image's base"),
    _f("image_size", I64, "thread: first region at image_base [Q]; image: the image size"),
    _f("got_start", BOOL, "start address query succeeded"),
    _f("got_range", BOOL, "main image range obtained"),
    _f("is_remote", BOOL, "resolved actor differs from the thread's process"),
    _f("outside_main_image", BOOL, "start outside [image_base, image_base + image_size)"),
    _f("corr_flags", I64, "intent flags: 1 process memory, 2 thread context, 4 duplicate handle"),
    _f("corr_access_mask", I64, "OR of the correlated intents' access masks"),
    _f("corr_age_ms", I64, "age of the newest correlated intent in ms"),
    _f("start_region_protect", I64, "protection of the start region"),
    _f("start_region_state", I64, "state of the start region"),
    _f("start_region_type", I64, "type of the start region"),
    _f("start_region_status", I32, "NTSTATUS of the start region query"),
    _f("start_region_exec", BOOL, "start region executable (IOCTL START_REGION_EXEC or from the protection)"),
    _f("start_module", STR, "module of the start address (Sysmon StartModule; NULL = not carried)"),
    _f("start_function", STR, "function at the start address (Sysmon StartFunction)"),
]

PROCESS = [
    _f("is_create", BOOL, "process create (true) or exit (false)"),
    _f("create_status", I32, "NTSTATUS of the create"),
    _f("parent_pid", I64, "parent process id"),
    _f("creator_pid", I64, "creating process id"),
    _f("creator_tid", I64, "creating thread id"),
    _f("process_start_key", I64, "process start key"),
    _f("session_id", I64, "session id"),
    _f("image_path", STR, "process or loaded image path"),
    _f("command_line", STR, "process command line"),
    _f("is_system_mode", BOOL, "image: kernel-mode image"),
    _f("is_signature_level_known", BOOL, "image: signature level known"),
    _f("signature_level", I32, "image: signature level"),
    _f("signature_type", I32, "image: signature type"),
]

REGISTRY = [
    _f("operation", STR, "registry: SET_VALUE, CREATE_KEY, OPEN_KEY, DELETE_VALUE; file: the 1.8 operation"),
    _f("notify_class", I32, "REG_NOTIFY_CLASS value"),
    _f("data_type", I64, "registry value type"),
    _f("data_size", I64, "registry value size"),
    _f("is_high_value", BOOL, "key path matches a high-value needle"),
    _f("key_path", STR, "registry key path"),
    _f("value_name", STR, "registry value name"),
    _f("value_data", STR, "registry value data when the source carries it (Sysmon 13 Details)"),
]

DETECTION = [
    _f("detection_name", STR, "detection name as raised"),
    _f("severity", I32, "severity as raised"),
    _f("reason", STR, "reason string as raised"),
    _f("marks", I64, "controller marks (from [ETW][SYNTH] lines)"),
]

TI = [
    _f("etw_event_id", I32, "ETW descriptor Id"),
    _f("etw_version", I32, "ETW descriptor Version"),
    _f("task", I32, "ETW descriptor Task (TI: 1 ALLOCVM, 2 PROTECTVM, 7 WRITEVM)"),
    _f("opcode", I32, "ETW descriptor Opcode"),
    _f("level", I32, "ETW descriptor Level"),
    _f("keyword", I64, "ETW descriptor Keyword"),
    _f("base_address", I64, "TI: base address of the region"),
    _f("region_size", I64, "TI: region size"),
    _f("protect", I64, "TI: (new) protection"),
    _f("old_protect", I64, "TI: previous protection"),
    _f("creation_flags", I64, "TI: process creation flags"),
    _f("fields_json", STR, "every decoded field of the source event as JSON (TI, generic, Sysmon raw values)"),
]

FILE = [
    _f("file_object", I64, "1.8 file event: FileObject"),
    _f("file_id", I64, "1.8 file event: FileId"),
    _f("byte_offset", I64, "1.8 file event: ByteOffset"),
    _f("length", I64, "1.8 file event: Length"),
    _f("io_status", I64, "1.8 file event: Status"),
    _f("information", I64, "1.8 file event: Information"),
    _f("major_code", I32, "1.8 file event: MajorCode"),
    _f("minor_code", I32, "1.8 file event: MinorCode"),
    _f("irp_flags", I64, "1.8 file event: IrpFlags"),
    _f("create_options", I64, "1.8 file event: CreateOptions"),
    _f("create_disposition", I64, "1.8 file event: CreateDisposition"),
    _f("share_access", I64, "1.8 file event: ShareAccess"),
    _f("file_path", STR, "1.8 file event: Path"),
]

REJECT = [
    _f("reject_reason", STR, "why the input could not be decoded, naming the struct and field"),
    _f("raw_preview", STR, "hex of the first bytes of the rejected input"),
    _f("raw_length", I64, "length in bytes of the rejected input"),
]

EVENTS = pa.schema(COMMON + HANDLE + THREAD + PROCESS + REGISTRY + DETECTION + TI + FILE + REJECT,
                   metadata={META_SCHEMA_VERSION: str(SCHEMA_VERSION).encode()})  # fmt: skip
COLUMNS: tuple[str, ...] = tuple(EVENTS.names)


def doc(column: str) -> str:
    """The documentation of a column."""
    meta = EVENTS.field(column).metadata or {}
    return meta.get(b"doc", b"").decode()
