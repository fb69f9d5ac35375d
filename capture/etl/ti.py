"""Microsoft-Windows-Threat-Intelligence: a manifest provider, decoded through the template table we ship.

`ti_templates.json` maps "<event id>/<version>" to the ordered fields with their TDH in-types and where each
template came from (see `bench/_gen_ti_templates.py`). A TI row's common columns come from the fields by the name
lists of spec 3.11 (first name present wins), extended with the names the real manifest uses for protections
(`ProtectionMask`, `LastProtectionMask`), which the controller's own lists miss [AMB in the spec], and with the
manifest's `BytesCopied` for the size of a READVM/WRITEVM (what the report shows as the bytes written).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from swk.capture.etl import fields as fd
from swk.capture.etl.fields import Field, compile_decoder
from swk.kernel.etw import THREAT_INTEL_PROVIDER_GUID, THREAT_INTEL_PROVIDER_NAME

GUID_BYTES = THREAT_INTEL_PROVIDER_GUID.bytes_le
PROVIDER = THREAT_INTEL_PROVIDER_NAME

TDH_IN_TYPES = {"UnicodeString": fd.UNICODESTRING, "AnsiString": fd.ANSISTRING, "Int8": fd.INT8, "UInt8": fd.UINT8,
                "Int16": fd.INT16, "UInt16": fd.UINT16, "Int32": fd.INT32, "UInt32": fd.UINT32, "Int64": fd.INT64,
                "UInt64": fd.UINT64, "Float": fd.FLOAT, "Double": fd.DOUBLE, "Boolean": fd.BOOL32, "Binary": fd.BINARY,
                "GUID": fd.GUID, "Pointer": fd.POINTER, "FILETIME": fd.FILETIME, "SYSTEMTIME": fd.SYSTEMTIME,
                "SID": fd.SID, "HexInt32": fd.HEXINT32, "HexInt64": fd.HEXINT64}  # fmt: skip

# Spec 3.11 name lists, in order; the manifest's protection and copy-size names come last so a spec name still wins.
CALLER = ("CallingProcessId", "CallerProcessId", "SourceProcessId", "ProcessId")
TARGET = ("TargetProcessId", "NewProcessId", "DestProcessId", "ProcessId")
BASE = ("BaseAddress", "AllocationBase", "Address", "RegionBase")
SIZE = ("RegionSize", "AllocationSize", "ViewSize", "Size", "DataSize", "BytesCopied")
PROTECT = ("Protection", "Protect", "AllocationProtect", "NewProtect", "ProtectionMask")
OLD_PROTECT = ("OldProtect", "PreviousProtect", "ProtectOld", "LastProtectionMask")
CREATION_FLAGS = ("CreationFlags", "CreateFlags", "ProcessFlags")
TASK_NAMES = {1: "KERNEL_THREATINT_TASK_ALLOCVM", 2: "KERNEL_THREATINT_TASK_PROTECTVM",
              3: "KERNEL_THREATINT_TASK_MAPVIEW", 4: "KERNEL_THREATINT_TASK_QUEUEUSERAPC",
              5: "KERNEL_THREATINT_TASK_SETTHREADCONTEXT", 6: "KERNEL_THREATINT_TASK_READVM",
              7: "KERNEL_THREATINT_TASK_WRITEVM", 8: "KERNEL_THREATINT_TASK_SUSPENDRESUME_THREAD",
              9: "KERNEL_THREATINT_TASK_SUSPENDRESUME_PROCESS", 10: "KERNEL_THREATINT_TASK_DRIVER_DEVICE"}  # fmt: skip


@cache
def templates() -> dict[tuple[int, int], dict[str, Any]]:
    """(event id, version) -> template entry (symbol, task, task_name, fields, source)."""
    text = resources.files("swk.capture.etl").joinpath("ti_templates.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    out = {}
    for key, entry in doc["templates"].items():
        event_id, version = (int(x) for x in key.split("/"))
        out[event_id, version] = entry
    return out


@cache
def template_fields(event_id: int, version: int) -> tuple[Field, ...] | None:
    """The template's fields as decoder fields, or None when we ship no template for it."""
    entry = templates().get((event_id, version))
    if entry is None:
        return None
    return tuple(Field(f[0], TDH_IN_TYPES[f[1]], length_field=f[2] if len(f) > 2 else None) for f in entry["fields"])


@cache
def decoder(event_id: int, version: int, pointer_size: int) -> Callable[[bytes], tuple] | None:
    """The compiled decoder of a template, or None."""
    fields = template_fields(event_id, version)
    return None if fields is None else compile_decoder(fields, pointer_size)


def first(values: dict[str, Any], names: tuple[str, ...]) -> int | None:
    """The first of `names` present with an integer value (spec 3.11: 4- and 8-byte fields alike)."""
    for name in names:
        value = values.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def columns(values: dict[str, Any]) -> dict[str, int | None]:
    """The TI case columns of one event's decoded fields (spec 3.11, docs/case-rows.md)."""
    caller = first(values, CALLER)
    target = first(values, TARGET)
    if target == 0:
        target = caller
    out = {
        "actor_pid": caller,
        "target_pid": target,
        "tid": first(values, ("TargetThreadId",)),
        "base_address": first(values, BASE),
        "region_size": first(values, SIZE),
        "protect": first(values, PROTECT),
        "old_protect": first(values, OLD_PROTECT),
        "creation_flags": first(values, CREATION_FLAGS),
    }
    # BIGINT columns keep a u64's bits (a kernel-range address reads negative), as the Sleepwalker columns do
    return {k: v - (1 << 64) if v is not None and v >= 1 << 63 else v for k, v in out.items()}


def event_name(event_id: int, version: int, task: int) -> str:
    """The task name (TDH gives TI events no event name of their own), or `task N`."""
    entry = templates().get((event_id, version))
    if entry is not None and entry["task"] == task:
        return entry["task_name"]
    return TASK_NAMES.get(task, f"task {task}")
