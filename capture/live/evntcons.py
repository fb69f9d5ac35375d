"""The raw EVENT_RECORD a real-time ETW consumer's callback receives (`evntcons.h`, x64), copied out as bytes.

pywintrace's stock callback turns every property into a TDH display string and breaks on Python >= 3.10, so the
live session registers its own callback and reads the record itself: the 80-byte EVENT_HEADER, the user data and
every extended data item (the TraceLogging schema, item 11, and the provider traits, item 12, are among them).
Those bytes are all the ETL reader's decoder needs, so a live row and a row read back from an .etl file are made
by the same code. The callback must return quickly and the record dies with it, hence the copies.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any


class GUID(ctypes.Structure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16),
                ("Data4", ctypes.c_uint8 * 8)]  # fmt: skip


class EVENT_DESCRIPTOR(ctypes.Structure):
    _fields_ = [
        ("Id", ctypes.c_uint16),  # @0
        ("Version", ctypes.c_uint8),  # @2
        ("Channel", ctypes.c_uint8),  # @3
        ("Level", ctypes.c_uint8),  # @4
        ("Opcode", ctypes.c_uint8),  # @5
        ("Task", ctypes.c_uint16),  # @6
        ("Keyword", ctypes.c_uint64),  # @8
    ]  # 16


class EVENT_HEADER(ctypes.Structure):
    _fields_ = [
        ("Size", ctypes.c_uint16),  # @0
        ("HeaderType", ctypes.c_uint16),  # @2
        ("Flags", ctypes.c_uint16),  # @4  EVENT_HEADER_FLAG_*
        ("EventProperty", ctypes.c_uint16),  # @6
        ("ThreadId", ctypes.c_uint32),  # @8
        ("ProcessId", ctypes.c_uint32),  # @12
        ("TimeStamp", ctypes.c_int64),  # @16 FILETIME unless the session asked for raw timestamps (spec 2.4)
        ("ProviderId", GUID),  # @24
        ("EventDescriptor", EVENT_DESCRIPTOR),  # @40
        ("ProcessorTime", ctypes.c_uint64),  # @56 KernelTime/UserTime
        ("ActivityId", GUID),  # @64
    ]  # 80


class EVENT_HEADER_EXTENDED_DATA_ITEM(ctypes.Structure):
    _fields_ = [
        ("Reserved1", ctypes.c_uint16),  # @0
        ("ExtType", ctypes.c_uint16),  # @2  EVENT_HEADER_EXT_TYPE_*
        ("Linkage", ctypes.c_uint16),  # @4  Linkage:1, Reserved2:15
        ("DataSize", ctypes.c_uint16),  # @6
        ("DataPtr", ctypes.c_uint64),  # @8
    ]  # 16


class EVENT_RECORD(ctypes.Structure):
    _fields_ = [
        ("EventHeader", EVENT_HEADER),  # @0
        ("ProcessorIndex", ctypes.c_uint16),  # @80 ETW_BUFFER_CONTEXT
        ("LoggerId", ctypes.c_uint16),  # @82
        ("ExtendedDataCount", ctypes.c_uint16),  # @84
        ("UserDataLength", ctypes.c_uint16),  # @86
        ("ExtendedData", ctypes.POINTER(EVENT_HEADER_EXTENDED_DATA_ITEM)),  # @88
        ("UserData", ctypes.c_void_p),  # @96
        ("UserContext", ctypes.c_void_p),  # @104
    ]  # 112


EVENT_HEADER_FLAG_32_BIT_HEADER = 0x0020


@dataclass(frozen=True)
class EtwParts:
    """One event's bytes as the consumer saw them: header, user data, extended data items (type, bytes)."""

    header: bytes
    user_data: bytes
    extended: tuple[tuple[int, bytes], ...]
    processor: int

    @property
    def fields(self) -> EVENT_HEADER:
        """The header as a struct."""
        return EVENT_HEADER.from_buffer_copy(self.header)

    @property
    def pointer_size(self) -> int:
        """The event writer's pointer size."""
        return 4 if self.fields.Flags & EVENT_HEADER_FLAG_32_BIT_HEADER else 8


def copy_parts(record: Any) -> EtwParts:
    """Copy an EVENT_RECORD (a ctypes pointer of any EVENT_RECORD type, or an address) out of the callback."""
    address = record if isinstance(record, int) else ctypes.cast(record, ctypes.c_void_p).value
    rec = EVENT_RECORD.from_address(address)
    user = ctypes.string_at(rec.UserData, rec.UserDataLength) if rec.UserData and rec.UserDataLength else b""
    items = []
    for i in range(rec.ExtendedDataCount):
        item = rec.ExtendedData[i]
        items.append((item.ExtType, ctypes.string_at(item.DataPtr, item.DataSize) if item.DataSize else b""))
    return EtwParts(bytes(rec.EventHeader), user, tuple(items), rec.ProcessorIndex)


def guid_text(guid: GUID) -> str:
    """The registry form of a GUID, upper case without braces."""
    tail = bytes(guid.Data4)
    return f"{guid.Data1:08X}-{guid.Data2:04X}-{guid.Data3:04X}-{tail[:2].hex().upper()}-{tail[2:].hex().upper()}"


def make_record(header: bytes, user_data: bytes, extended: list[tuple[int, bytes]]) -> tuple[EVENT_RECORD, list]:
    """An EVENT_RECORD in memory as ETW hands one to a callback (recorded events replayed through the live path).

    Returns the record and the buffers its pointers point into, which must outlive it.
    """
    rec = EVENT_RECORD()
    ctypes.memmove(ctypes.addressof(rec.EventHeader), header, min(len(header), ctypes.sizeof(EVENT_HEADER)))
    rec.EventHeader.HeaderType = 0  # the in-memory header has no on-disk marker byte there
    keep: list = []
    if user_data:
        buf = ctypes.create_string_buffer(bytes(user_data), len(user_data))
        keep.append(buf)
        rec.UserData, rec.UserDataLength = ctypes.addressof(buf), len(user_data)
    if extended:
        items = (EVENT_HEADER_EXTENDED_DATA_ITEM * len(extended))()
        for i, (ext_type, data) in enumerate(extended):
            buf = ctypes.create_string_buffer(bytes(data), max(len(data), 1))
            keep.append(buf)
            items[i].ExtType, items[i].DataSize, items[i].DataPtr = ext_type, len(data), ctypes.addressof(buf)
            items[i].Linkage = int(i + 1 < len(extended))
        keep.append(items)
        rec.ExtendedData = ctypes.cast(items, ctypes.POINTER(EVENT_HEADER_EXTENDED_DATA_ITEM))
        rec.ExtendedDataCount = len(extended)
    return rec, keep
