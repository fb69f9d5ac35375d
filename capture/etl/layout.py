"""The on-disk ETW layouts, declared once in C field order with their offsets, as `struct.Struct`s.

Sources: `evntcons.h`/`evntrace.h`/`TraceLoggingProvider.h` of the Windows SDK, and Geoff Chappell's studies of
WMI_BUFFER_HEADER, TRACE_LOGFILE_HEADER and the trace header types (ntwmi.h). An .etl file is a sequence of
buffers; each buffer is a WMI_BUFFER_HEADER and then 8-byte aligned records, each starting with a marker whose third
byte names the header type. Little-endian throughout.
"""

from __future__ import annotations

import enum
import struct

# WMI_BUFFER_HEADER, 72 bytes.
BUFFER_HEADER = struct.Struct(
    "<I"  # 0x00 BufferSize: bytes this buffer spans in the file
    "I"  # 0x04 SavedOffset: bytes in use (header + records)
    "I"  # 0x08 CurrentOffset
    "i"  # 0x0C ReferenceCount
    "q"  # 0x10 TimeStamp (the logfile's clock)
    "q"  # 0x18 SequenceNumber
    "Q"  # 0x20 ClockType:3 / Frequency:61, or a list entry while the buffer was live
    "H"  # 0x28 ETW_BUFFER_CONTEXT.ProcessorIndex
    "H"  # 0x2A ETW_BUFFER_CONTEXT.LoggerId
    "I"  # 0x2C State
    "I"  # 0x30 Offset: end of the records (the filled bytes)
    "H"  # 0x34 BufferFlag
    "H"  # 0x36 BufferType
    "16s"  # 0x38 union: Padding1[4] / ReferenceTime / GlobalEntry
)
BUFFER_HEADER_SIZE = 72


class BufferFlag(enum.IntFlag):
    """ETW_BUFFER_FLAG_* (WMI_BUFFER_HEADER.BufferFlag)."""

    FLUSH_MARKER = 0x0001
    EVENTS_LOST = 0x0002
    BUFFER_LOST = 0x0004
    RTBACKUP_CORRUPT = 0x0008
    RTBACKUP = 0x0010
    PROC_INDEX = 0x0020
    COMPRESSED = 0x0040


class BufferType(enum.IntEnum):
    """ETW_BUFFER_TYPE_* (WMI_BUFFER_HEADER.BufferType)."""

    GENERIC = 0
    RUNDOWN = 1
    CTX_SWAP = 2
    REFTIME = 3
    HEADER = 4
    BATCHED = 5
    EMPTY_MARKER = 6
    DBG_INFO = 7


class HeaderType(enum.IntEnum):
    """TRACE_HEADER_TYPE_*: the third byte of a record's marker (the fourth is 0xC0, or 0x80|... for messages)."""

    SYSTEM32 = 0x01
    SYSTEM64 = 0x02
    COMPACT32 = 0x03
    COMPACT64 = 0x04
    FULL_HEADER32 = 0x0A
    INSTANCE32 = 0x0B
    TIMED = 0x0C
    ERROR = 0x0D
    WNODE_HEADER = 0x0E
    MESSAGE = 0x0F
    PERFINFO32 = 0x10
    PERFINFO64 = 0x11
    EVENT_HEADER32 = 0x12
    EVENT_HEADER64 = 0x13
    FULL_HEADER64 = 0x14
    INSTANCE64 = 0x15


MARKER_FLAGS = 0xC0  # TRACE_HEADER_FLAG | TRACE_HEADER_EVENT_TRACE, the marker's high byte
POINTER64_TYPES = frozenset({HeaderType.SYSTEM64, HeaderType.COMPACT64, HeaderType.PERFINFO64,
                             HeaderType.EVENT_HEADER64, HeaderType.FULL_HEADER64, HeaderType.INSTANCE64})  # fmt: skip

# SYSTEM_TRACE_HEADER, 32 bytes (compact: the first 24). Kernel (NT Kernel Logger) MOF events.
SYSTEM_HEADER = struct.Struct(
    "<H"  # 0x00 Version (of the MOF class)
    "B"  # 0x02 HeaderType
    "B"  # 0x03 MarkerFlags
    "H"  # 0x04 Packet.Size (whole record)
    "B"  # 0x06 Packet.Type (the MOF event type / opcode)
    "B"  # 0x07 Packet.Group (EVENT_TRACE_GROUP_* >> 8)
    "I"  # 0x08 ThreadId
    "I"  # 0x0C ProcessId
    "q"  # 0x10 SystemTime
)
SYSTEM_HEADER_SIZE = 32
COMPACT_HEADER_SIZE = 24

# PERFINFO_TRACE_HEADER, 16 bytes: no thread or process id.
PERFINFO_HEADER = struct.Struct("<HBBHBBq")  # Version, HeaderType, MarkerFlags, Size, Type, Group, SystemTime
PERFINFO_HEADER_SIZE = 16

# EVENT_HEADER as written in buffers, 80 bytes (manifest and TraceLogging events).
EVENT_HEADER = struct.Struct(
    "<H"  # 0x00 Size (whole record: header + extended data + user data)
    "B"  # 0x02 HeaderType
    "B"  # 0x03 MarkerFlags
    "H"  # 0x04 Flags (EVENT_HEADER_FLAG_*)
    "H"  # 0x06 EventProperty
    "I"  # 0x08 ThreadId
    "I"  # 0x0C ProcessId
    "q"  # 0x10 TimeStamp
    "16s"  # 0x18 ProviderId
    "H"  # 0x28 EventDescriptor.Id
    "B"  # 0x2A .Version
    "B"  # 0x2B .Channel
    "B"  # 0x2C .Level
    "B"  # 0x2D .Opcode
    "H"  # 0x2E .Task
    "Q"  # 0x30 .Keyword
    "Q"  # 0x38 KernelTime/UserTime or ProcessorTime
    "16s"  # 0x40 ActivityId
)
EVENT_HEADER_SIZE = 80


class EventFlag(enum.IntFlag):
    """EVENT_HEADER_FLAG_*."""

    EXTENDED_INFO = 0x0001
    PRIVATE_SESSION = 0x0002
    STRING_ONLY = 0x0004
    TRACE_MESSAGE = 0x0008
    NO_CPUTIME = 0x0010
    HEADER_32_BIT = 0x0020
    HEADER_64_BIT = 0x0040
    DECODE_GUID = 0x0080
    CLASSIC_HEADER = 0x0100
    PROCESSOR_INDEX = 0x0200


# An extended data item in a buffer: Size (the item, 8-aligned), ExtType, Linkage (bit 0: another follows), DataSize.
EXT_ITEM = struct.Struct("<HHHH")
EXT_ITEM_SIZE = 8


class ExtType(enum.IntEnum):
    """EVENT_HEADER_EXT_TYPE_*."""

    RELATED_ACTIVITYID = 1
    SID = 2
    TS_ID = 3
    INSTANCE_INFO = 4
    STACK_TRACE32 = 5
    STACK_TRACE64 = 6
    PEBS_INDEX = 7
    PMC_COUNTERS = 8
    PSM_KEY = 9
    EVENT_KEY = 10
    EVENT_SCHEMA_TL = 11
    PROV_TRAITS = 12
    PROCESS_START_KEY = 13
    CONTROL_GUID = 14
    QPC_DELTA = 15
    CONTAINER_ID = 16
    STACK_KEY32 = 17
    STACK_KEY64 = 18


# EVENT_TRACE_HEADER (classic user-mode MOF events, "full" header), 48 bytes.
FULL_HEADER = struct.Struct(
    "<H"  # 0x00 Size
    "B"  # 0x02 HeaderType
    "B"  # 0x03 MarkerFlags
    "B"  # 0x04 Class.Type (opcode)
    "B"  # 0x05 Class.Level
    "H"  # 0x06 Class.Version
    "I"  # 0x08 ThreadId
    "I"  # 0x0C ProcessId
    "q"  # 0x10 TimeStamp
    "16s"  # 0x18 Guid
    "Q"  # 0x28 KernelTime/UserTime
)
FULL_HEADER_SIZE = 48

# EVENT_INSTANCE_GUID_HEADER (instance events): the full header, then instance ids and the parent GUID, 72 bytes.
INSTANCE_HEADER = struct.Struct("<HBBBBHIIq16sQII16s")
INSTANCE_HEADER_SIZE = 72

# TRACE_LOGFILE_HEADER: the payload of the first record of the first buffer. Fields up to LogInstanceGuid are the
# same for 32- and 64-bit writers; the two string pointers that follow are pointer-sized, which moves the rest.
LOGFILE_HEAD = struct.Struct(
    "<I"  # 0x00 BufferSize
    "I"  # 0x04 Version (Major, Minor, Sub, SubMinor)
    "I"  # 0x08 ProviderVersion (the OS build)
    "I"  # 0x0C NumberOfProcessors
    "q"  # 0x10 EndTime (FILETIME)
    "I"  # 0x18 TimerResolution (100 ns units)
    "I"  # 0x1C MaximumFileSize (MB)
    "I"  # 0x20 LogFileMode (EVENT_TRACE_*_MODE)
    "I"  # 0x24 BuffersWritten
    "I"  # 0x28 StartBuffers
    "I"  # 0x2C PointerSize
    "I"  # 0x30 EventsLost
    "I"  # 0x34 CpuSpeedInMHz
)
TIME_ZONE_INFORMATION_SIZE = 172
# After LoggerName/LogFileName (pointer-sized) and TIME_ZONE_INFORMATION, 8-aligned: BootTime, PerfFreq, StartTime,
# ReservedFlags (the clock type), BuffersLost. 64-bit: at 0xF8; 32-bit: at 0xF0.
LOGFILE_TAIL = struct.Struct("<qqqII")
LOGFILE_TAIL_OFFSET = {8: 0xF8, 4: 0xF0}
LOGFILE_SIZE = {8: 0x118, 4: 0x110}


class ClockType(enum.IntEnum):
    """TRACE_LOGFILE_HEADER.ReservedFlags: what record timestamps count."""

    QPC = 1
    SYSTEM_TIME = 2
    CPU_CYCLES = 3


EVENT_TRACE_COMPRESSED_MODE = 0x04000000  # LogFileMode bit: buffers may be compressed
