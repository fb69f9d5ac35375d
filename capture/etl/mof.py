"""Classic kernel (NT Kernel Logger, `MSNT_SystemTrace`) MOF events: the process, thread and image classes.

Layouts are the documented MOF classes (`Process_V3/V4_TypeGroup1`, `Thread_V2/V3_TypeGroup1`,
`Image_Load`/`Image_V2/V3`), cross-checked against etl-parser's kernel parsers and TraceEvent. Pointer-sized fields
follow the record's header type (32- or 64-bit). Other groups and versions stay generic rows: their names come
from the group/type tables below and their payload is kept as a hex preview.
"""

from __future__ import annotations

from collections.abc import Callable

from swk.capture.etl import fields as fd
from swk.capture.etl.fields import Field, compile_decoder

PROVIDER = "MSNT_SystemTrace"

GROUPS = {0x00: "EventTrace", 0x01: "DiskIo", 0x02: "PageFault", 0x03: "Process", 0x04: "FileIo", 0x05: "Thread",
          0x06: "TcpIp", 0x07: "Job", 0x08: "UdpIp", 0x09: "Registry", 0x0A: "DbgPrint", 0x0B: "SystemConfig",
          0x0D: "Wnf", 0x0E: "Pool", 0x0F: "PerfInfo", 0x10: "Heap", 0x11: "Object", 0x12: "Power", 0x13: "Modbound",
          0x14: "Image", 0x15: "Dpc", 0x16: "CcCache", 0x17: "CritSec", 0x18: "StackWalk", 0x19: "Ums", 0x1A: "ALPC",
          0x1B: "SplitIo", 0x1C: "ThreadPool", 0x1D: "Hypervisor", 0x1E: "HypervisorX"}  # fmt: skip
TYPES = {0: "Info", 1: "Start", 2: "End", 3: "DCStart", 4: "DCEnd", 5: "Extension", 6: "Reply", 7: "Dequeue",
         8: "Checkpoint", 9: "Send", 10: "Load", 11: "PerfCtrRundown", 32: "EndExtension", 33: "KernelBase",
         34: "HypercallPage", 36: "CSwitch", 37: "CompCS", 39: "Defunct", 80: "PartitionInfo"}  # fmt: skip
GROUP_TYPES = {(0x00, 0): "Header", (0x03, 10): "PerfCtr", (0x03, 11): "PerfCtrRundown", (0x14, 2): "UnLoad"}


def event_name(group: int, typ: int) -> str:
    """`Process/Start`, `Image/DCStart`, ... (numbers where the tables have no name)."""
    g = GROUPS.get(group, f"Group{group}")
    return f"{g}/{GROUP_TYPES.get((group, typ)) or TYPES.get(typ, f'Type{typ}')}"


def _f(name: str, in_type: int) -> Field:
    return Field(name, in_type)


_PROCESS_HEAD = (_f("UniqueProcessKey", fd.POINTER), _f("ProcessId", fd.UINT32), _f("ParentId", fd.UINT32),
                 _f("SessionId", fd.UINT32), _f("ExitStatus", fd.INT32), _f("DirectoryTableBase", fd.POINTER))  # fmt: skip
_PROCESS_V3 = (*_PROCESS_HEAD, _f("UserSID", fd.WMISID), _f("ImageFileName", fd.ANSISTRING),
               _f("CommandLine", fd.UNICODESTRING))  # fmt: skip
_PROCESS_V4 = (*_PROCESS_HEAD, _f("Flags", fd.UINT32), _f("UserSID", fd.WMISID), _f("ImageFileName", fd.ANSISTRING),
               _f("CommandLine", fd.UNICODESTRING), _f("PackageFullName", fd.UNICODESTRING),
               _f("ApplicationId", fd.UNICODESTRING))  # fmt: skip
_THREAD_V2 = (_f("ProcessId", fd.UINT32), _f("TThreadId", fd.UINT32), _f("StackBase", fd.POINTER),
              _f("StackLimit", fd.POINTER), _f("UserStackBase", fd.POINTER), _f("UserStackLimit", fd.POINTER),
              _f("StartAddr", fd.POINTER), _f("Win32StartAddr", fd.POINTER), _f("TebBase", fd.POINTER),
              _f("SubProcessTag", fd.UINT32))  # fmt: skip
_THREAD_V3 = (_f("ProcessId", fd.UINT32), _f("TThreadId", fd.UINT32), _f("StackBase", fd.POINTER),
              _f("StackLimit", fd.POINTER), _f("UserStackBase", fd.POINTER), _f("UserStackLimit", fd.POINTER),
              _f("Affinity", fd.POINTER), _f("Win32StartAddr", fd.POINTER), _f("TebBase", fd.POINTER),
              _f("SubProcessTag", fd.UINT32), _f("BasePriority", fd.UINT8), _f("PagePriority", fd.UINT8),
              _f("IoPriority", fd.UINT8), _f("ThreadFlags", fd.UINT8))  # fmt: skip
_IMAGE_V2 = (_f("ImageBase", fd.POINTER), _f("ImageSize", fd.POINTER), _f("ProcessId", fd.UINT32),
             _f("ImageChecksum", fd.UINT32), _f("TimeDateStamp", fd.UINT32), _f("Reserved0", fd.UINT32),
             _f("DefaultBase", fd.POINTER), _f("Reserved1", fd.UINT32), _f("Reserved2", fd.UINT32),
             _f("Reserved3", fd.UINT32), _f("Reserved4", fd.UINT32), _f("FileName", fd.UNICODESTRING))  # fmt: skip
_IMAGE_V3 = (_f("ImageBase", fd.POINTER), _f("ImageSize", fd.POINTER), _f("ProcessId", fd.UINT32),
             _f("ImageChecksum", fd.UINT32), _f("TimeDateStamp", fd.UINT32), _f("SignatureLevel", fd.UINT8),
             _f("SignatureType", fd.UINT8), _f("Reserved0", fd.UINT16), _f("DefaultBase", fd.POINTER),
             _f("Reserved1", fd.UINT32), _f("Reserved2", fd.UINT32), _f("Reserved3", fd.UINT32),
             _f("Reserved4", fd.UINT32), _f("FileName", fd.UNICODESTRING))  # fmt: skip

_PROCESS_TYPES = (1, 2, 3, 4, 39)
_THREAD_TYPES = (1, 2, 3, 4)
_IMAGE_TYPES = (10, 2, 3, 4)

# (group, version) -> (family, event types it covers, fields)
CLASSES: dict[tuple[int, int], tuple[str, tuple[int, ...], tuple[Field, ...]]] = {
    (0x03, 3): ("process", _PROCESS_TYPES, _PROCESS_V3),
    (0x03, 4): ("process", _PROCESS_TYPES, _PROCESS_V4),
    (0x03, 5): ("process", _PROCESS_TYPES, (*_PROCESS_V4, _f("ExitTime", fd.FILETIME))),
    (0x05, 2): ("thread", _THREAD_TYPES, _THREAD_V2),
    (0x05, 3): ("thread", _THREAD_TYPES, _THREAD_V3),
    (0x14, 2): ("image", _IMAGE_TYPES, _IMAGE_V2),
    (0x14, 3): ("image", _IMAGE_TYPES, _IMAGE_V3),
}

_decoders: dict[tuple[int, int, int], Callable[[bytes], tuple]] = {}


def decoder(group: int, version: int, typ: int, pointer_size: int) -> tuple[str, tuple[Field, ...], Callable] | None:
    """(family, fields, decoder) for a kernel class this reader knows, else None."""
    found = CLASSES.get((group, version))
    if found is None or typ not in found[1]:
        return None
    family, _, fields = found
    key = (group, version, pointer_size)
    fn = _decoders.get(key)
    if fn is None:
        fn = _decoders[key] = compile_decoder(fields, pointer_size)
    return family, fields, fn
