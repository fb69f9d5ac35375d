"""The `Sleepwalker.Kernel` ETW provider and its seven event families, as data (spec sections 2.1-2.3).

Fields are listed in wire order with their TraceLogging in-type, so the ETL reader, the ETL writer of the generator
and the live capture agree on one description. `column` is the case column a field lands in (`swk.store.schema`);
fields whose meaning the case holds elsewhere (the per-frame `stack0..stack7`) say so in `column`.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

PROVIDER_NAME = "Sleepwalker.Kernel"
PROVIDER_GUID = uuid.UUID("D6C73F8A-6AD8-4F4B-A363-3D2FA31CD0E2")
# Every Sleepwalker event: level 4, keyword 0, opcode 0, version 0, id 0, task 0; the name identifies it.
LEVEL = 4
KEYWORD = 0

THREAT_INTEL_PROVIDER_NAME = "Microsoft-Windows-Threat-Intelligence"
THREAT_INTEL_PROVIDER_GUID = uuid.UUID("F4E1897C-BB5D-5668-F1D8-040F4D8DD344")
CONTROLLER_SESSION_NAME = "SleepwlkrControllerSession"


class TlType(enum.IntEnum):
    """TraceLogging in-types (`TraceLoggingProvider.h` / `TDH_INTYPE`) that Sleepwalker writes."""

    UNICODESTRING = 1  # NUL-terminated UTF-16LE
    ANSISTRING = 2  # NUL-terminated 8-bit
    UINT8 = 4
    INT32 = 7
    UINT32 = 8
    UINT64 = 10
    BOOL32 = 13  # 4 bytes, not 1
    BINARY = 14  # counted: u16 byte count, then the bytes
    HEXINT32 = 20
    HEXINT64 = 21  # HexUInt64 and 64-bit Pointer alike


WIRE_SIZE = {
    TlType.UINT8: 1,
    TlType.INT32: 4,
    TlType.UINT32: 4,
    TlType.HEXINT32: 4,
    TlType.BOOL32: 4,
    TlType.UINT64: 8,
    TlType.HEXINT64: 8,
}


@dataclass(frozen=True)
class Field:
    """One TraceLogging field: wire name, in-type, case column, and whether the value is signed."""

    name: str
    type: TlType
    column: str
    signed: bool = False


@dataclass(frozen=True)
class Family:
    """One Sleepwalker event: its TraceLogging name, the case family it lands in, its fields in wire order."""

    event_name: str
    family: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        """The field called `name`."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.event_name} has no field {name!r}")


def _f(name: str, type_: TlType, column: str, signed: bool = False) -> Field:
    return Field(name, type_, column, signed)


T = TlType
_STACK = tuple(_f(f"stack{i}", T.HEXINT64, f"frames[{i}]") for i in range(8))

HANDLE_TELEMETRY = Family("HandleTelemetry", "handle", (
    _f("class", T.ANSISTRING, "class_name"),
    _f("callerPid", T.HEXINT64, "actor_pid"),
    _f("targetPid", T.HEXINT64, "target_pid"),
    _f("desiredAccess", T.HEXINT32, "access_mask"),
    _f("originAddress", T.HEXINT64, "origin_address"),
    _f("originProtect", T.HEXINT32, "origin_protect"),
    _f("execProtect", T.BOOL32, "exec_protect"),
    _f("fromNtdll", T.BOOL32, "from_ntdll"),
    _f("fromExe", T.BOOL32, "from_exe"),
    _f("originPath", T.UNICODESTRING, "origin_path"),
    _f("frameCount", T.UINT32, "frame_count"),
    *_STACK,
    _f("statusOpenProcess", T.HEXINT32, "status_open_process", signed=True),
    _f("statusBasicInfo", T.HEXINT32, "status_basic_info", signed=True),
    _f("statusSectionName", T.HEXINT32, "status_section_name", signed=True),
    _f("deepAllocationBase", T.HEXINT64, "deep_alloc_base"),
    _f("deepRegionSize", T.UINT64, "deep_region_size"),
    _f("deepRegionProtect", T.HEXINT32, "deep_region_protect"),
    _f("deepRegionState", T.HEXINT32, "deep_region_state"),
    _f("deepRegionType", T.HEXINT32, "deep_region_type"),
    _f("deepSampleSize", T.UINT32, "deep_sample_size"),
    _f("deepSample", T.BINARY, "deep_sample"),
))  # fmt: skip

THREAD_TELEMETRY = Family("ThreadTelemetry", "thread", (
    _f("processId", T.HEXINT64, "target_pid"),
    _f("threadId", T.HEXINT64, "tid"),
    _f("creatorPid", T.HEXINT64, "actor_pid"),
    _f("startAddress", T.HEXINT64, "start_address"),
    _f("imageBase", T.HEXINT64, "image_base"),
    _f("imageSize", T.UINT64, "image_size"),
    _f("gotStart", T.BOOL32, "got_start"),
    _f("gotRange", T.BOOL32, "got_range"),
    _f("isRemoteCreator", T.BOOL32, "is_remote"),
    _f("outsideMainImage", T.BOOL32, "outside_main_image"),
    _f("correlationFlags", T.HEXINT32, "corr_flags"),
    _f("correlationAccessMask", T.HEXINT32, "corr_access_mask"),
    _f("correlationAgeMs", T.UINT32, "corr_age_ms"),
    _f("startRegionProtect", T.HEXINT32, "start_region_protect"),
    _f("startRegionState", T.HEXINT32, "start_region_state"),
    _f("startRegionType", T.HEXINT32, "start_region_type"),
    _f("startRegionStatus", T.HEXINT32, "start_region_status", signed=True),
    _f("workerFrameCount", T.UINT32, "frame_count"),
    *_STACK,
))  # fmt: skip

APC_TELEMETRY = Family("ApcTelemetry", "apc", (
    _f("class", T.ANSISTRING, "class_name"),
    _f("callerPid", T.HEXINT64, "actor_pid"),
    _f("targetPid", T.HEXINT64, "target_pid"),
    _f("desiredAccess", T.HEXINT32, "access_mask"),
    _f("isDuplicateOperation", T.BOOL32, "is_duplicate"),
    _f("correlationFlags", T.HEXINT32, "corr_flags"),
    _f("correlationAccessMask", T.HEXINT32, "corr_access_mask"),
    _f("correlationAgeMs", T.UINT32, "corr_age_ms"),
))  # fmt: skip

PROCESS_TELEMETRY = Family("ProcessTelemetry", "process", (
    _f("isCreate", T.BOOL32, "is_create"),
    _f("createStatus", T.HEXINT32, "create_status", signed=True),
    _f("processId", T.HEXINT64, "target_pid"),
    _f("parentProcessId", T.HEXINT64, "parent_pid"),
    _f("creatorProcessId", T.HEXINT64, "creator_pid"),
    _f("creatorThreadId", T.HEXINT64, "creator_tid"),
    _f("processStartKey", T.HEXINT64, "process_start_key"),
    _f("sessionId", T.UINT32, "session_id"),
    _f("imagePath", T.UNICODESTRING, "image_path"),
    _f("commandLine", T.UNICODESTRING, "command_line"),
))  # fmt: skip

IMAGE_TELEMETRY = Family("ImageTelemetry", "image", (
    _f("processId", T.HEXINT64, "target_pid"),
    _f("imageBase", T.HEXINT64, "image_base"),
    _f("imageSize", T.UINT64, "image_size"),
    _f("isSystemModeImage", T.BOOL32, "is_system_mode"),
    _f("isSignatureLevelKnown", T.BOOL32, "is_signature_level_known"),
    _f("signatureLevel", T.UINT8, "signature_level"),
    _f("signatureType", T.UINT8, "signature_type"),
    _f("imagePath", T.UNICODESTRING, "image_path"),
))  # fmt: skip

REGISTRY_TELEMETRY = Family("RegistryTelemetry", "registry", (
    _f("operation", T.ANSISTRING, "operation"),
    _f("processId", T.HEXINT64, "actor_pid"),
    _f("sessionId", T.UINT32, "session_id"),
    _f("notifyClass", T.UINT32, "notify_class"),
    _f("dataType", T.UINT32, "data_type"),
    _f("dataSize", T.UINT32, "data_size"),
    _f("isHighValuePath", T.BOOL32, "is_high_value"),
    _f("keyPath", T.UNICODESTRING, "key_path"),
    _f("valueName", T.UNICODESTRING, "value_name"),
))  # fmt: skip

DETECTION_TELEMETRY = Family("DetectionTelemetry", "detection", (
    _f("detectionName", T.ANSISTRING, "detection_name"),
    _f("severity", T.UINT32, "severity"),
    _f("processId", T.HEXINT64, "actor_pid"),
    _f("targetPid", T.HEXINT64, "target_pid"),
    _f("correlationFlags", T.HEXINT32, "corr_flags"),
    _f("correlationAccessMask", T.HEXINT32, "corr_access_mask"),
    _f("correlationAgeMs", T.UINT32, "corr_age_ms"),
    _f("reason", T.UNICODESTRING, "reason"),
))  # fmt: skip

FAMILIES: dict[str, Family] = {
    fam.event_name: fam
    for fam in (
        HANDLE_TELEMETRY,
        THREAD_TELEMETRY,
        APC_TELEMETRY,
        PROCESS_TELEMETRY,
        IMAGE_TELEMETRY,
        REGISTRY_TELEMETRY,
        DETECTION_TELEMETRY,
    )
}

# Registry operation strings and the REG_NOTIFY_CLASS values the kernel writes with them (2.2).
REGISTRY_NOTIFY_CLASS = {"SET_VALUE": 1, "DELETE_VALUE": 2, "CREATE_KEY": 26, "OPEN_KEY": 28}

# Longest strings the driver writes (2.2): wide paths 511 chars, registry value names 127.
MAX_ETW_PATH_CHARS = 511
MAX_ETW_VALUE_NAME_CHARS = 127
