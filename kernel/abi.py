"""Sleepwalker's binary contract, declared once and read like the C header.

Everything here restates `shared/spec/sleepwalker.md` section 1 (from `abi/sleepwalker_ioctl.h` and
`abi/sleepwalker_ipc.h` of the 2026-03-01 snapshot, plus the later 1496-byte record of section 1.8). The record
decoder (`swk.capture.ioctl`), the live capture and the generator all derive their layouts from these classes, and
`tests/test_abi.py` pins every size and offset that the spec verified with gcc (section 1.7).

Layouts are x64 MSVC natural alignment, little-endian. `WCHAR` is a 16-bit UTF-16LE code unit (never Linux's
4-byte `wchar_t`).
"""

from __future__ import annotations

import ctypes
import enum

u8 = ctypes.c_uint8
u16 = ctypes.c_uint16
u32 = ctypes.c_uint32
i32 = ctypes.c_int32
u64 = ctypes.c_uint64
i64 = ctypes.c_int64
WCHAR = ctypes.c_uint16
CHAR = ctypes.c_char


class Struct(ctypes.LittleEndianStructure):
    """Base for the ABI structs: natural (MSVC x64) alignment, little-endian."""


# --- 1.1 Device and IOCTL codes ------------------------------------------------------------------------------------

NT_DEVICE_NAME = r"\Device\SleepwalkerCtl"
DOS_DEVICE_PATH = r"\\.\Global\SleepwalkerCtl"  # preferred, tried first
LEGACY_DOS_DEVICE_PATH = r"\\.\SleepwalkerCtl"  # best-effort legacy link
DRIVER_SERVICE_NAME = "sleepwlkr"
DEVICE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)"
FILE_DEVICE_SLEEPWALKER = 0x00008337
METHOD_BUFFERED = 0
FILE_READ_DATA = 1
FILE_WRITE_DATA = 2


def ctl_code(device: int, function: int, method: int, access: int) -> int:
    """CTL_CODE from the WDK: (device << 16) | (access << 14) | (function << 2) | method."""
    return (device << 16) | (access << 14) | (function << 2) | method


class Ioctl(enum.IntEnum):
    """IOCTL codes (section 1.1); the driver's debug-print name is the member name."""

    SUBSCRIBE = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x801, METHOD_BUFFERED, FILE_WRITE_DATA)  # 0x8337A004
    UNSUBSCRIBE = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x802, METHOD_BUFFERED, FILE_WRITE_DATA)  # 0x8337A008
    GET_EVENT = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x803, METHOD_BUFFERED, FILE_READ_DATA)  # 0x8337600C
    GET_STATS = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x804, METHOD_BUFFERED, FILE_READ_DATA)  # 0x83376010
    SET_PIDS = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x805, METHOD_BUFFERED, FILE_WRITE_DATA)  # 0x8337A014
    QUERY_PROCESS_IMAGE = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x806, METHOD_BUFFERED, FILE_READ_DATA)  # 0x83376018
    SET_SHUTDOWN_MODE = ctl_code(FILE_DEVICE_SLEEPWALKER, 0x807, METHOD_BUFFERED, FILE_WRITE_DATA)  # 0x8337A01C


# --- 1.2 Constants and enums ---------------------------------------------------------------------------------------

MAX_EVENT_FRAMES = 8
MAX_PID_LIST = 64
MAX_IMAGE_PATH_CHARS = 1024
MAX_DEEP_SAMPLE_BYTES = 64
ORIGIN_PATH_CHARS = 260
# 1.8 (later build)
MAX_FULL_EVENT_FRAMES = 32
MAX_STACK_SNAPSHOT_BYTES = 256
MAX_FILE_PATH_CHARS = 520


class Stream(enum.IntFlag):
    """Stream mask bits; a subscribe mask with none of the first three is rejected."""

    HANDLE = 0x1
    MEMORY = 0x2
    THREAD = 0x4
    FILESYSTEM = 0x8  # 1.8 only


class EventType(enum.IntEnum):
    """`Header.Type`."""

    NONE = 0
    HANDLE = 1
    THREAD = 2
    FILESYSTEM = 3  # 1.8 only


class HandleClass(enum.IntEnum):
    """`ClassId` of handle records (section 3.2)."""

    UNKNOWN = 0
    LEGITIMATE_SYSCALL = 1
    DIRECT_SYSCALL_SUSPECT = 2


# ETW `class` strings of HandleTelemetry, by ClassId (section 4.4: the ETW field says UNKNOWN-ORIGIN).
HANDLE_CLASS_ETW = {0: "UNKNOWN-ORIGIN", 1: "LEGITIMATE-SYSCALL", 2: "DIRECT-SYSCALL-SUSPECT"}
HANDLE_CLASS_ID = {name: cid for cid, name in HANDLE_CLASS_ETW.items()}


# --- 1.3 Struct layouts (x64) ----------------------------------------------------------------------------------------


class SLEEPWALKER_SUBSCRIBE_REQUEST(Struct):
    _fields_ = [
        ("ProcessId", u32),  # @0
        ("StreamMask", u32),  # @4
    ]  # 8


class SLEEPWALKER_UNSUBSCRIBE_REQUEST(Struct):
    _fields_ = [("ProcessId", u32)]  # @0 -> 4


class SLEEPWALKER_GET_EVENT_REQUEST(Struct):
    _fields_ = [("TimeoutMs", u32)]  # @0 -> 4; the kernel never reads it


class SLEEPWALKER_SET_PIDS_REQUEST(Struct):
    _fields_ = [
        ("StreamMask", u32),  # @0
        ("ProcessCount", u32),  # @4, 1..64
        ("ProcessIds", u32 * MAX_PID_LIST),  # @8
    ]  # 264


class SLEEPWALKER_QUERY_PROCESS_IMAGE_REQUEST(Struct):
    _fields_ = [("ProcessId", u32)]  # @0 -> 4


class SLEEPWALKER_QUERY_PROCESS_IMAGE_RESPONSE(Struct):
    _fields_ = [
        ("ProcessId", u32),  # @0
        ("Status", i32),  # @4 NTSTATUS
        ("ImagePath", WCHAR * MAX_IMAGE_PATH_CHARS),  # @8, NUL-terminated, silently truncated to 1023
    ]  # 2056


class SLEEPWALKER_STATS_RESPONSE(Struct):
    _fields_ = [
        ("SubscriptionCount", u32),  # @0
        ("QueueDepth", u32),  # @4
        ("DroppedEvents", u32),  # @8
        ("Reserved", u32),  # @12, always 0
    ]  # 16


class SLEEPWALKER_EVENT_HEADER(Struct):
    _fields_ = [
        ("Size", u32),  # @0   768 (or 1496 in the later build, 1.8): readers key on it
        ("Type", u32),  # @4   EventType
        ("StreamMask", u32),  # @8   handle 0x1 or 0x3 (MEMORY_RELATED); thread 0x4
        ("Sequence", u32),  # @12  per kernel client; drops leave gaps (7.3)
        ("TimestampQpc", i64),  # @16  raw KeQueryPerformanceCounter at publish; no frequency recorded
    ]  # 24


class SLEEPWALKER_HANDLE_EVENT(Struct):
    _fields_ = [
        ("CallerPid", u64),  # @0   abs 24
        ("TargetPid", u64),  # @8   abs 32  (thread objects: the thread's process)
        ("DesiredAccess", u32),  # @16  abs 40
        ("ClassId", u32),  # @20  abs 44  HandleClass
        ("OriginAddress", u64),  # @24  abs 48  = Frames[0]
        ("OriginProtect", u32),  # @32  abs 56
        ("Flags", u32),  # @36  abs 60  HandleFlag
        ("FrameCount", u32),  # @40  abs 64  0..8
        # 4 bytes padding @44
        ("Frames", u64 * MAX_EVENT_FRAMES),  # @48  abs 72
        ("StatusOpenProcess", i32),  # @112 abs 136 (0xC0000001 when the step was not reached)
        ("StatusBasicInfo", i32),  # @116 abs 140
        ("StatusSectionName", i32),  # @120 abs 144
        # 4 bytes padding @124
        ("DeepAllocationBase", u64),  # @128 abs 152
        ("DeepRegionSize", u64),  # @136 abs 160
        ("DeepRegionProtect", u32),  # @144 abs 168 always == OriginProtect [Q]
        ("DeepRegionState", u32),  # @148 abs 172
        ("DeepRegionType", u32),  # @152 abs 176
        ("DeepSampleSize", u32),  # @156 abs 180 0 or 64
        ("DeepSample", u8 * MAX_DEEP_SAMPLE_BYTES),  # @160 abs 184 bytes at the region base
        ("OriginPath", WCHAR * ORIGIN_PATH_CHARS),  # @224 abs 248 NT path, <= 259 chars + NUL
    ]  # 744


class SLEEPWALKER_THREAD_EVENT(Struct):
    _fields_ = [
        ("ProcessId", u64),  # @0  abs 24
        ("ThreadId", u64),  # @8  abs 32
        ("CreatorPid", u64),  # @16 abs 40  resolved actor (3.5)
        ("StartAddress", u64),  # @24 abs 48
        ("ImageBase", u64),  # @32 abs 56
        ("ImageSize", u64),  # @40 abs 64  first region at ImageBase, usually 0x1000 [Q]
        ("Flags", u32),  # @48 abs 72  ThreadFlag
        ("FrameCount", u32),  # @52 abs 76
        ("Frames", u64 * MAX_EVENT_FRAMES),  # @56 abs 80  kernel frames of the analysing worker [Q]
    ]  # 120; record bytes 144..767 are zero


class SLEEPWALKER_EVENT_DATA(ctypes.Union):
    _fields_ = [
        ("Handle", SLEEPWALKER_HANDLE_EVENT),
        ("Thread", SLEEPWALKER_THREAD_EVENT),
    ]  # 744


class SLEEPWALKER_EVENT_RECORD(Struct):
    _fields_ = [
        ("Header", SLEEPWALKER_EVENT_HEADER),  # @0
        ("Data", SLEEPWALKER_EVENT_DATA),  # @24
    ]  # 768, 8-aligned


# --- 1.8 The later 1496-byte record ---------------------------------------------------------------------------------

REGISTER_NAMES = (
    "Rax", "Rbx", "Rcx", "Rdx", "Rsi", "Rdi", "Rbp", "Rsp",
    "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
    "Rip", "EFlags", "Dr0", "Dr1", "Dr2", "Dr3", "Dr6", "Dr7",
)  # fmt: skip


class SLEEPWALKER_HANDLE_EVENT_V2(Struct):
    _fields_ = [
        *SLEEPWALKER_HANDLE_EVENT._fields_,  # @0..743 unchanged
        ("CaptureFlags", u32),  # @744  abs 768  CaptureFlag
        ("FullFrameCount", u32),  # @748  abs 772
        ("FullFrames", u64 * MAX_FULL_EVENT_FRAMES),  # @752  abs 776
        *[(f"Reg{name}", u64) for name in REGISTER_NAMES],  # @1008..1199 abs 1032..1223
        ("StackSnapshotAddress", u64),  # @1200 abs 1224
        ("StackSnapshotSize", u32),  # @1208 abs 1232
        ("StackSnapshot", u8 * MAX_STACK_SNAPSHOT_BYTES),  # @1212 abs 1236
        # 4 bytes tail padding
    ]  # 1472


class SLEEPWALKER_FILE_EVENT(Struct):
    _fields_ = [
        ("ProcessId", u64),  # @0
        ("ThreadId", u64),  # @8
        ("FileObject", u64),  # @16
        ("FileId", u64),  # @24
        ("ByteOffset", u64),  # @32
        ("Length", u64),  # @40
        ("Status", u64),  # @48
        ("Information", u64),  # @56
        ("Operation", u32),  # @64 FileOperation
        ("MajorCode", u32),  # @68
        ("MinorCode", u32),  # @72
        ("IrpFlags", u32),  # @76
        ("CreateOptions", u32),  # @80
        ("CreateDisposition", u32),  # @84
        ("DesiredAccess", u32),  # @88
        ("ShareAccess", u32),  # @92
        ("Flags", u32),  # @96 FileFlag
        ("Path", WCHAR * MAX_FILE_PATH_CHARS),  # @100
    ]  # 1144


class SLEEPWALKER_EVENT_DATA_V2(ctypes.Union):
    _fields_ = [
        ("Handle", SLEEPWALKER_HANDLE_EVENT_V2),
        ("Thread", SLEEPWALKER_THREAD_EVENT),
        ("File", SLEEPWALKER_FILE_EVENT),
    ]  # 1472


class SLEEPWALKER_EVENT_RECORD_V2(Struct):
    _fields_ = [
        ("Header", SLEEPWALKER_EVENT_HEADER),  # @0
        ("Data", SLEEPWALKER_EVENT_DATA_V2),  # @24
    ]  # 1496


# Record layouts by `Header.Size`: a reader picks the layout from the data, never assumes one.
RECORD_LAYOUTS: dict[int, type[Struct]] = {
    ctypes.sizeof(SLEEPWALKER_EVENT_RECORD): SLEEPWALKER_EVENT_RECORD,
    ctypes.sizeof(SLEEPWALKER_EVENT_RECORD_V2): SLEEPWALKER_EVENT_RECORD_V2,
}


class FileOperation(enum.IntEnum):
    """`Operation` of the 1.8 file event."""

    Unknown = 0
    Create = 1
    Read = 2
    Write = 3
    Close = 4
    Cleanup = 5
    SetInformation = 6
    QueryInformation = 7
    DirectoryControl = 8
    FsControl = 9


# --- 1.4 Flag and enum bit values ------------------------------------------------------------------------------------


class HandleFlag(enum.IntFlag):
    """`Flags` of handle records (`kernel/monitors/handle_monitor.c`)."""

    EXEC_PROTECT = 0x00000001
    FROM_NTDLL = 0x00000002
    FROM_EXE = 0x00000004
    MEMORY_RELATED = 0x00000008  # "any bit of PROCESS_ALL_ACCESS" [Q], whatever the object type
    THREAD_OBJECT = 0x00000010
    DUPLICATE_OPERATION = 0x00000020
    DEEP_PATH_CANDIDATE = 0x00000040
    DEEP_PATH_CAPTURED = 0x00000080
    DEEP_PATH_CACHE_HIT = 0x00000100
    RETURN_ADDRESS_VALID = 0x00000200
    STACK_VALIDATED = 0x00000400
    STACK_SPOOF_SUSPECT = 0x00000800
    SYSCALL_EXPORT_MATCH = 0x00001000
    SYSCALL_EXPORT_MISMATCH = 0x00002000
    MODULE_CHAIN_SANE = 0x00004000
    UNWIND_METADATA_VALID = 0x00008000
    TEB_STACK_BOUNDS_VALID = 0x00010000
    FRAMES_OUTSIDE_TEB_STACK = 0x00020000


class ThreadFlag(enum.IntFlag):
    """`Flags` of thread records (`kernel/monitors/thread_monitor.c`)."""

    GOT_START = 0x001
    GOT_RANGE = 0x002
    REMOTE_CREATOR = 0x004
    OUTSIDE_MAIN_IMG = 0x008
    CORRELATED_INTENT = 0x010
    CORR_MEMORY = 0x020
    CORR_THREAD_CTX = 0x040
    CORR_DUP_HANDLE = 0x080
    START_REGION_EXEC = 0x100


class IntentFlag(enum.IntFlag):
    """Intent flags (`intent_store.h`); also `correlationFlags` and the `Corr flags=` rendering."""

    PROCESS_MEMORY = 0x1
    THREAD_CONTEXT = 0x2
    DUP_HANDLE = 0x4


class KernelMark(enum.IntFlag):
    """Kernel hollowing marks (internal, never emitted; `hollowing_engine.c`)."""

    REMOTE_THREAD = 0x01
    OUTSIDE_IMAGE = 0x02
    NON_IMAGE_EXEC = 0x04
    MEMORY_INTENT = 0x08
    THREAD_CONTEXT_INTENT = 0x10
    DUP_HANDLE_INTENT = 0x20


class TamperFlag(enum.IntFlag):
    """Anti-tamper mask, emitted in `correlationFlags` of DRIVER_DISPATCH_OR_OBJECT_TAMPER."""

    MAJOR_FN_CHANGED = 0x1
    UNLOAD_CHANGED = 0x2
    FASTIO_CHANGED = 0x4
    OBJECT_TYPE_INVALID = 0x8
    OBJECT_SIZE_INVALID = 0x10
    EXTENSION_MISSING = 0x20
    CONTROL_INTEGRITY = 0x40
    ETW_INTEGRITY = 0x80
    IOCTL_DISPATCH_INVALID = 0x100
    MAJOR_PTR_INVALID = 0x200
    DRIVER_IMAGE_INVALID = 0x400
    CHECK_IRQL_INVALID = 0x800
    MONITOR_INTEGRITY = 0x1000


class ControllerMark(enum.IntFlag):
    """Controller marks (64-bit, printed as `marks=0x...`; `sleepwalker_controller_hollowing.inc`)."""

    CREATE_SUSPENDED = 0x1
    TI_ALLOC_RW_LARGE = 0x2
    TI_WRITE_VM = 0x4
    TI_PROTECT_RX = 0x8
    THREAD_START_NON_IMAGE_EXEC = 0x10
    THREAD_START_OUTSIDE_IMAGE = 0x20
    THREAD_CONTEXT_INTENT = 0x40
    REMOTE_THREAD_INTENT = 0x80
    IMAGE_DRIFT = 0x100
    TXF_SUSPECT = 0x200


class CaptureFlag(enum.IntFlag):
    """`CaptureFlags` of the 1.8 handle event."""

    CONTEXT_VALID = 0x1
    DEBUG_REGS_VALID = 0x2
    FULL_FRAMES_VALID = 0x4
    STACK_SNAPSHOT_VALID = 0x8


class FileFlag(enum.IntFlag):
    """`Flags` of the 1.8 file event."""

    PRE_OPERATION = 0x1
    POST_OPERATION = 0x2
    PAGING_IO = 0x4
    SYNCHRONOUS_IO = 0x8
    NON_CACHED_IO = 0x10
    DIRECTORY_FILE = 0x20
    DELETE_ON_CLOSE = 0x40
    REPARSE_POINT = 0x80
    FAST_IO = 0x100


# Windows facts the driver's tests are written against.
PROCESS_ALL_ACCESS = 0x001FFFFF
PROCESS_CREATE_THREAD = 0x0002
PROCESS_VM_OPERATION = 0x0008
PROCESS_VM_READ = 0x0010
PROCESS_VM_WRITE = 0x0020
THREAD_SUSPEND_RESUME = 0x0002
THREAD_GET_CONTEXT = 0x0008
THREAD_SET_CONTEXT = 0x0010
EXECUTE_PROTECT_BITS = 0x10 | 0x20 | 0x40 | 0x80  # PAGE_EXECUTE, _READ, _READWRITE, _WRITECOPY
MEM_COMMIT = 0x1000
MEM_RESERVE = 0x2000
MEM_FREE = 0x10000
MEM_IMAGE = 0x1000000
MEM_MAPPED = 0x40000
MEM_PRIVATE = 0x20000
STATUS_UNSUCCESSFUL = -0x3FFFFFFF  # 0xC0000001, the handle statuses' "step not reached" default
STATUS_NOT_FOUND = -0x3FFFFDDB  # 0xC0000225, startRegionStatus when there is no start address


# --- 1.5 IPC ABI (client <-> controller) -----------------------------------------------------------------------------

PIPE_NAME = r"\\.\pipe\SleepwlkrController"
PIPE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)"
IPC_MAGIC = 0x53574B52  # bytes on the wire 52 4B 57 53
IPC_VERSION = 1
IPC_PACKET_REQUEST = 1
IPC_PACKET_RESPONSE = 2
IPC_CONNECT_TIMEOUT_MS = 3000


class IpcCapability(enum.IntFlag):
    """Handshake capability bits; the controller always advertises 0x7."""

    DRIVER_PROXY = 0x1
    ETW_TI_SESSION = 0x2
    ETW_TI_UPLINK = 0x4


class IpcCommand(enum.IntEnum):
    """IPC commands (section 1.5)."""

    Handshake = 1
    Subscribe = 2
    Unsubscribe = 3
    SetPids = 4
    GetEvent = 5
    GetStats = 6
    QueryProcessImage = 7
    SetShutdownMode = 8
    GetEtwEvent = 9


class IpcEtwSource(enum.IntEnum):
    """`Source` of an IPC ETW event."""

    UNKNOWN = 0
    SLEEPWALKER = 1
    THREAT_INTELLIGENCE = 2


# Win32 error codes the controller answers with (`Status` of a response).
ERROR_SUCCESS = 0
ERROR_INVALID_FUNCTION = 1
ERROR_INVALID_PARAMETER = 87
ERROR_INSUFFICIENT_BUFFER = 122
ERROR_NO_MORE_ITEMS = 259
ERROR_OPERATION_ABORTED = 995
ERROR_DEVICE_NOT_CONNECTED = 1167
ERROR_NOT_FOUND = 1168


class SLEEPWALKER_IPC_HANDSHAKE_REQUEST(Struct):
    _fields_ = [("RequestedVersion", u32)]  # @0 -> 4


class SLEEPWALKER_IPC_HANDSHAKE_RESPONSE(Struct):
    _fields_ = [
        ("NegotiatedVersion", u32),  # @0 (=1)
        ("Capabilities", u32),  # @4 (=0x7)
        ("ThreatIntelEnabled", u32),  # @8
        ("Reserved", u32),  # @12 Win32 error from enabling the TI provider
    ]  # 16


class SLEEPWALKER_IPC_GET_EVENT_REQUEST(Struct):
    _fields_ = [("TimeoutMs", u32)]  # @0; the controller polls every 20 ms up to it


class SLEEPWALKER_IPC_ETW_EVENT(Struct):
    _fields_ = [
        ("Source", u32),  # @0   IpcEtwSource
        ("EventId", u16),  # @4   0 for every Sleepwalker TraceLogging and synthetic event
        ("Opcode", u16),  # @6
        ("Task", u16),  # @8   meaningful for TI
        ("Reserved0", u16),  # @10
        ("EventProcessId", u32),  # @12  ETW header pid (synthetic: actor, or target if actor 0)
        ("EventThreadId", u32),  # @16  (synthetic: 0)
        ("Severity", u32),  # @20  detections only
        ("Reserved1", u32),  # @24
        # 4 bytes padding @28
        ("PrimaryPid", u64),  # @32  (7.4)
        ("SecondaryPid", u64),  # @40
        ("EventName", WCHAR * 96),  # @48  TDH event name, may be empty
        ("DetectionName", CHAR * 128),  # @240 DetectionTelemetry only (`UNKNOWN` if empty)
    ]  # 368


class SLEEPWALKER_IPC_PAYLOAD(ctypes.Union):
    _fields_ = [
        ("Raw", u8 * 2056),
        ("HandshakeRequest", SLEEPWALKER_IPC_HANDSHAKE_REQUEST),
        ("HandshakeResponse", SLEEPWALKER_IPC_HANDSHAKE_RESPONSE),
        ("Subscribe", SLEEPWALKER_SUBSCRIBE_REQUEST),
        ("Unsubscribe", SLEEPWALKER_UNSUBSCRIBE_REQUEST),
        ("SetPids", SLEEPWALKER_SET_PIDS_REQUEST),
        ("GetEvent", SLEEPWALKER_IPC_GET_EVENT_REQUEST),
        ("Event", SLEEPWALKER_EVENT_RECORD),
        ("Stats", SLEEPWALKER_STATS_RESPONSE),
        ("QueryImageRequest", SLEEPWALKER_QUERY_PROCESS_IMAGE_REQUEST),
        ("QueryImageResponse", SLEEPWALKER_QUERY_PROCESS_IMAGE_RESPONSE),
        ("EtwEvent", SLEEPWALKER_IPC_ETW_EVENT),
    ]  # 2056, align 8


class SLEEPWALKER_IPC_PACKET(Struct):
    _fields_ = [
        ("Magic", u32),  # @0  IPC_MAGIC
        ("Version", u16),  # @4  1
        ("PacketType", u16),  # @6  1 request, 2 response
        ("Command", u32),  # @8  IpcCommand (echoed)
        ("Sequence", u32),  # @12 echoed; client sequences start at 2
        ("Status", u32),  # @16 Win32 error code in responses
        # 4 bytes padding @20
        ("Payload", SLEEPWALKER_IPC_PAYLOAD),  # @24
    ]  # 2080


def sizeof(struct: type[ctypes.Structure] | type[ctypes.Union]) -> int:
    """`sizeof` of an ABI struct."""
    return ctypes.sizeof(struct)


def offsetof(struct: type[ctypes.Structure], path: str) -> int:
    """`offsetof` of a (dotted) field, e.g. `offsetof(SLEEPWALKER_EVENT_RECORD, "Data.Handle.Frames")`."""
    offset = 0
    current: type = struct
    for name in path.split("."):
        field = getattr(current, name)
        offset += field.offset
        current = dict(current._fields_)[name]
    return offset
