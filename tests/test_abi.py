"""The driver ABI: every size and offset the spec verified with gcc (section 1.7), every code and flag value."""

from __future__ import annotations

import pytest

from swk.kernel import abi
from swk.kernel.abi import offsetof, sizeof

SIZES = [
    (abi.SLEEPWALKER_SUBSCRIBE_REQUEST, 8),
    (abi.SLEEPWALKER_UNSUBSCRIBE_REQUEST, 4),
    (abi.SLEEPWALKER_GET_EVENT_REQUEST, 4),
    (abi.SLEEPWALKER_SET_PIDS_REQUEST, 264),
    (abi.SLEEPWALKER_QUERY_PROCESS_IMAGE_REQUEST, 4),
    (abi.SLEEPWALKER_QUERY_PROCESS_IMAGE_RESPONSE, 2056),
    (abi.SLEEPWALKER_STATS_RESPONSE, 16),
    (abi.SLEEPWALKER_EVENT_HEADER, 24),
    (abi.SLEEPWALKER_HANDLE_EVENT, 744),
    (abi.SLEEPWALKER_THREAD_EVENT, 120),
    (abi.SLEEPWALKER_EVENT_RECORD, 768),
    (abi.SLEEPWALKER_IPC_HANDSHAKE_REQUEST, 4),
    (abi.SLEEPWALKER_IPC_HANDSHAKE_RESPONSE, 16),
    (abi.SLEEPWALKER_IPC_ETW_EVENT, 368),
    (abi.SLEEPWALKER_IPC_PAYLOAD, 2056),
    (abi.SLEEPWALKER_IPC_PACKET, 2080),
    # 1.8, computed with the same x64 rules
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, 1472),
    (abi.SLEEPWALKER_FILE_EVENT, 1144),
    (abi.SLEEPWALKER_EVENT_RECORD_V2, 1496),
]

OFFSETS = [
    (abi.SLEEPWALKER_SET_PIDS_REQUEST, "ProcessIds", 8),
    (abi.SLEEPWALKER_QUERY_PROCESS_IMAGE_RESPONSE, "ImagePath", 8),
    (abi.SLEEPWALKER_EVENT_HEADER, "Sequence", 12),
    (abi.SLEEPWALKER_EVENT_HEADER, "TimestampQpc", 16),
    (abi.SLEEPWALKER_HANDLE_EVENT, "DesiredAccess", 16),
    (abi.SLEEPWALKER_HANDLE_EVENT, "ClassId", 20),
    (abi.SLEEPWALKER_HANDLE_EVENT, "OriginAddress", 24),
    (abi.SLEEPWALKER_HANDLE_EVENT, "Flags", 36),
    (abi.SLEEPWALKER_HANDLE_EVENT, "FrameCount", 40),
    (abi.SLEEPWALKER_HANDLE_EVENT, "Frames", 48),
    (abi.SLEEPWALKER_HANDLE_EVENT, "StatusOpenProcess", 112),
    (abi.SLEEPWALKER_HANDLE_EVENT, "StatusSectionName", 120),
    (abi.SLEEPWALKER_HANDLE_EVENT, "DeepAllocationBase", 128),
    (abi.SLEEPWALKER_HANDLE_EVENT, "DeepRegionProtect", 144),
    (abi.SLEEPWALKER_HANDLE_EVENT, "DeepSampleSize", 156),
    (abi.SLEEPWALKER_HANDLE_EVENT, "DeepSample", 160),
    (abi.SLEEPWALKER_HANDLE_EVENT, "OriginPath", 224),
    (abi.SLEEPWALKER_THREAD_EVENT, "StartAddress", 24),
    (abi.SLEEPWALKER_THREAD_EVENT, "ImageSize", 40),
    (abi.SLEEPWALKER_THREAD_EVENT, "Flags", 48),
    (abi.SLEEPWALKER_THREAD_EVENT, "FrameCount", 52),
    (abi.SLEEPWALKER_THREAD_EVENT, "Frames", 56),
    (abi.SLEEPWALKER_EVENT_RECORD, "Data", 24),
    (abi.SLEEPWALKER_EVENT_RECORD, "Data.Handle.OriginPath", 248),
    (abi.SLEEPWALKER_EVENT_RECORD, "Data.Thread.Frames", 80),
    (abi.SLEEPWALKER_IPC_ETW_EVENT, "Reserved1", 24),
    (abi.SLEEPWALKER_IPC_ETW_EVENT, "PrimaryPid", 32),
    (abi.SLEEPWALKER_IPC_ETW_EVENT, "SecondaryPid", 40),
    (abi.SLEEPWALKER_IPC_ETW_EVENT, "EventName", 48),
    (abi.SLEEPWALKER_IPC_ETW_EVENT, "DetectionName", 240),
    (abi.SLEEPWALKER_IPC_PACKET, "Status", 16),
    (abi.SLEEPWALKER_IPC_PACKET, "Payload", 24),
    # 1.8
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "CaptureFlags", 744),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "FullFrameCount", 748),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "FullFrames", 752),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "RegRax", 1008),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "RegDr7", 1192),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "StackSnapshotAddress", 1200),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "StackSnapshotSize", 1208),
    (abi.SLEEPWALKER_HANDLE_EVENT_V2, "StackSnapshot", 1212),
    (abi.SLEEPWALKER_FILE_EVENT, "Operation", 64),
    (abi.SLEEPWALKER_FILE_EVENT, "Flags", 96),
    (abi.SLEEPWALKER_FILE_EVENT, "Path", 100),
    (abi.SLEEPWALKER_EVENT_RECORD_V2, "Data.Handle.CaptureFlags", 768),
    (abi.SLEEPWALKER_EVENT_RECORD_V2, "Data.Handle.StackSnapshot", 1236),
]


@pytest.mark.parametrize(("struct", "size"), SIZES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_struct_size(struct: type, size: int) -> None:
    assert sizeof(struct) == size


@pytest.mark.parametrize(("struct", "field", "offset"), OFFSETS,
                         ids=[f"{s.__name__}.{f}" for s, f, _ in OFFSETS])  # fmt: skip
def test_field_offset(struct: type, field: str, offset: int) -> None:
    assert offsetof(struct, field) == offset


def test_ioctl_codes_match_the_compiled_formula() -> None:
    assert [int(c) for c in abi.Ioctl] == [0x8337A004, 0x8337A008, 0x8337600C, 0x83376010, 0x8337A014, 0x83376018,
                                           0x8337A01C]  # fmt: skip
    assert [c.name for c in abi.Ioctl] == ["SUBSCRIBE", "UNSUBSCRIBE", "GET_EVENT", "GET_STATS", "SET_PIDS",
                                           "QUERY_PROCESS_IMAGE", "SET_SHUTDOWN_MODE"]  # fmt: skip


def test_record_layouts_are_keyed_by_header_size() -> None:
    assert abi.RECORD_LAYOUTS == {768: abi.SLEEPWALKER_EVENT_RECORD, 1496: abi.SLEEPWALKER_EVENT_RECORD_V2}


FLAG_VALUES = {
    abi.HandleFlag: {"EXEC_PROTECT": 0x1, "FROM_NTDLL": 0x2, "FROM_EXE": 0x4, "MEMORY_RELATED": 0x8,
                     "THREAD_OBJECT": 0x10, "DUPLICATE_OPERATION": 0x20, "DEEP_PATH_CANDIDATE": 0x40,
                     "DEEP_PATH_CAPTURED": 0x80, "DEEP_PATH_CACHE_HIT": 0x100, "RETURN_ADDRESS_VALID": 0x200,
                     "STACK_VALIDATED": 0x400, "STACK_SPOOF_SUSPECT": 0x800, "SYSCALL_EXPORT_MATCH": 0x1000,
                     "SYSCALL_EXPORT_MISMATCH": 0x2000, "MODULE_CHAIN_SANE": 0x4000,
                     "UNWIND_METADATA_VALID": 0x8000, "TEB_STACK_BOUNDS_VALID": 0x10000,
                     "FRAMES_OUTSIDE_TEB_STACK": 0x20000},
    abi.ThreadFlag: {"GOT_START": 0x1, "GOT_RANGE": 0x2, "REMOTE_CREATOR": 0x4, "OUTSIDE_MAIN_IMG": 0x8,
                     "CORRELATED_INTENT": 0x10, "CORR_MEMORY": 0x20, "CORR_THREAD_CTX": 0x40, "CORR_DUP_HANDLE": 0x80,
                     "START_REGION_EXEC": 0x100},
    abi.IntentFlag: {"PROCESS_MEMORY": 0x1, "THREAD_CONTEXT": 0x2, "DUP_HANDLE": 0x4},
    abi.KernelMark: {"REMOTE_THREAD": 0x1, "OUTSIDE_IMAGE": 0x2, "NON_IMAGE_EXEC": 0x4, "MEMORY_INTENT": 0x8,
                     "THREAD_CONTEXT_INTENT": 0x10, "DUP_HANDLE_INTENT": 0x20},
    abi.TamperFlag: {"MAJOR_FN_CHANGED": 0x1, "UNLOAD_CHANGED": 0x2, "FASTIO_CHANGED": 0x4,
                     "OBJECT_TYPE_INVALID": 0x8, "OBJECT_SIZE_INVALID": 0x10, "EXTENSION_MISSING": 0x20,
                     "CONTROL_INTEGRITY": 0x40, "ETW_INTEGRITY": 0x80, "IOCTL_DISPATCH_INVALID": 0x100,
                     "MAJOR_PTR_INVALID": 0x200, "DRIVER_IMAGE_INVALID": 0x400, "CHECK_IRQL_INVALID": 0x800,
                     "MONITOR_INTEGRITY": 0x1000},
    abi.ControllerMark: {"CREATE_SUSPENDED": 0x1, "TI_ALLOC_RW_LARGE": 0x2, "TI_WRITE_VM": 0x4, "TI_PROTECT_RX": 0x8,
                         "THREAD_START_NON_IMAGE_EXEC": 0x10, "THREAD_START_OUTSIDE_IMAGE": 0x20,
                         "THREAD_CONTEXT_INTENT": 0x40, "REMOTE_THREAD_INTENT": 0x80, "IMAGE_DRIFT": 0x100,
                         "TXF_SUSPECT": 0x200},
    abi.IpcCapability: {"DRIVER_PROXY": 0x1, "ETW_TI_SESSION": 0x2, "ETW_TI_UPLINK": 0x4},
    abi.Stream: {"HANDLE": 0x1, "MEMORY": 0x2, "THREAD": 0x4, "FILESYSTEM": 0x8},
    abi.CaptureFlag: {"CONTEXT_VALID": 0x1, "DEBUG_REGS_VALID": 0x2, "FULL_FRAMES_VALID": 0x4,
                      "STACK_SNAPSHOT_VALID": 0x8},
    abi.FileFlag: {"PRE_OPERATION": 0x1, "POST_OPERATION": 0x2, "PAGING_IO": 0x4, "SYNCHRONOUS_IO": 0x8,
                   "NON_CACHED_IO": 0x10, "DIRECTORY_FILE": 0x20, "DELETE_ON_CLOSE": 0x40, "REPARSE_POINT": 0x80,
                   "FAST_IO": 0x100},
}  # fmt: skip


@pytest.mark.parametrize("enum", list(FLAG_VALUES), ids=lambda e: e.__name__)
def test_flag_names_and_values(enum: type) -> None:
    assert {m.name: int(m) for m in enum} == FLAG_VALUES[enum]


def test_ipc_constants() -> None:
    assert abi.IPC_MAGIC.to_bytes(4, "little") == b"RKWS"  # 52 4B 57 53 on the wire
    assert [int(c) for c in abi.IpcCommand] == list(range(1, 10))
    assert abi.ERROR_NO_MORE_ITEMS == 259
    assert abi.STATUS_UNSUCCESSFUL & 0xFFFFFFFF == 0xC0000001
    assert abi.STATUS_NOT_FOUND & 0xFFFFFFFF == 0xC0000225


def test_event_type_and_class_enums() -> None:
    assert [int(t) for t in abi.EventType] == [0, 1, 2, 3]
    assert abi.HANDLE_CLASS_ETW == {0: "UNKNOWN-ORIGIN", 1: "LEGITIMATE-SYSCALL", 2: "DIRECT-SYSCALL-SUSPECT"}
    assert [op.name for op in abi.FileOperation][:3] == ["Unknown", "Create", "Read"]
