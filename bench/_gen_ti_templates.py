"""Regenerates capture/etl/ti_templates.json (run by hand; not a benchmark).

Version 1 is transcribed from the Microsoft-Windows-Threat-Intelligence manifest of Windows 10 build 18990 as
published in repnz/etw-providers-docs (Manifests-Win10-18990/Microsoft-Windows-Threat-Intelligence.xml @ 7f51cf0).
Version 0 is read from etl-parser 1.0.1's generated classes (etl/parsers/etw/Microsoft_Windows_Threat_Intelligence.py,
airbus-cert, 2020), which give the layout but not TDH in-types (every 8-byte field is Int64ul): an 8-byte field named
like a version-1 field takes that field's in-type (FILETIME, Pointer or UInt64); tasks come from the version-1
manifest by event id, since event ids keep their meaning across manifest versions.

    .bench/venv/bin/python bench/_gen_ti_templates.py > capture/etl/ti_templates.json
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import etl.parsers.etw.Microsoft_Windows_Threat_Intelligence as ti_v0

V1_SOURCE = "repnz/etw-providers-docs@7f51cf0 Manifests-Win10-18990/Microsoft-Windows-Threat-Intelligence.xml"
V0_SOURCE = "airbus-cert/etl-parser 1.0.1 etl/parsers/etw/Microsoft_Windows_Threat_Intelligence.py"


def _who(prefix: str) -> list[list[str]]:
    return [
        [f"{prefix}ProcessId", "UInt32"],
        [f"{prefix}ProcessCreateTime", "FILETIME"],
        [f"{prefix}ProcessStartKey", "UInt64"],
        [f"{prefix}ProcessSignatureLevel", "UInt8"],
        [f"{prefix}ProcessSectionSignatureLevel", "UInt8"],
        [f"{prefix}ProcessProtection", "UInt8"],
    ]


CALLER = [*_who("Calling"), ["CallingThreadId", "UInt32"], ["CallingThreadCreateTime", "FILETIME"]]
TARGET, ORIGINAL = _who("Target"), _who("Original")
TTHREAD = [["TargetThreadId", "UInt32"], ["TargetThreadCreateTime", "FILETIME"]]


def _vad(prefix: str) -> list[list[str]]:
    return [
        [f"{prefix}VadQueryResult", "UInt32"],
        [f"{prefix}VadAllocationBase", "Pointer"],
        [f"{prefix}VadAllocationProtect", "UInt32"],
        [f"{prefix}VadRegionType", "UInt32"],
        [f"{prefix}VadRegionSize", "Pointer"],
        [f"{prefix}VadCommitSize", "Pointer"],
        [f"{prefix}VadMmfName", "UnicodeString"],
    ]


V1 = {
    "ALLOCVM": CALLER
    + TARGET
    + ORIGINAL
    + [
        ["BaseAddress", "Pointer"],
        ["RegionSize", "Pointer"],
        ["AllocationType", "UInt32"],
        ["ProtectionMask", "UInt32"],
    ],
    "PROTECTVM": CALLER
    + TARGET
    + ORIGINAL
    + [
        ["BaseAddress", "Pointer"],
        ["RegionSize", "Pointer"],
        ["ProtectionMask", "UInt32"],
        ["LastProtectionMask", "UInt32"],
    ],
    "MAPVIEW": CALLER
    + TARGET
    + [["BaseAddress", "Pointer"], ["ViewSize", "Pointer"], ["AllocationType", "UInt32"], ["ProtectionMask", "UInt32"]],
    "QUEUEUSERAPC": CALLER
    + TARGET
    + TTHREAD
    + ORIGINAL
    + [
        ["TargetThreadAlertable", "UInt8"],
        ["ApcRoutine", "Pointer"],
        ["ApcArgument1", "Pointer"],
        ["ApcArgument2", "Pointer"],
        ["ApcArgument3", "Pointer"],
        ["RealEventTime", "FILETIME"],
        *_vad("ApcRoutine"),
        *_vad("ApcArgument1"),
    ],
    "SETTHREADCONTEXT": CALLER
    + TARGET
    + TTHREAD
    + [
        ["ContextFlags", "UInt32"],
        ["ContextMask", "UInt16"],
        *[[r, "Pointer"] for r in ("Pc", "Sp", "Lr", "Fp", *(f"Reg{i}" for i in range(8)))],
        ["RealEventTime", "FILETIME"],
        *_vad("Pc"),
    ],
    "READVM": [["OperationStatus", "UInt32"], *CALLER, *TARGET, ["BaseAddress", "Pointer"], ["BytesCopied", "Pointer"]],
    "SUSPENDRESUME_THREAD": [["OperationStatus", "UInt32"], *CALLER, *TARGET, *TTHREAD],
    "SUSPENDRESUME_PROCESS": [["OperationStatus", "UInt32"], *CALLER, *TARGET],
    "DRIVER_DEVICE": [
        ["DriverNameLength", "UInt16"],
        ["DriverName", "UnicodeString", "DriverNameLength"],
        ["CodeIntegrityOption", "UInt32"],
    ],
    "DRIVER_DEVICE30": [["DriverNameLength", "UInt16"], ["DriverName", "UnicodeString", "DriverNameLength"]],
    "DRIVER_DEVICE31": [
        ["DriverNameLength", "UInt16"],
        ["DriverName", "UnicodeString", "DriverNameLength"],
        ["DeviceNameLength", "UInt16"],
        ["DeviceName", "UnicodeString", "DeviceNameLength"],
    ],
}
TASKS = {
    "ALLOCVM": 1,
    "PROTECTVM": 2,
    "MAPVIEW": 3,
    "QUEUEUSERAPC": 4,
    "SETTHREADCONTEXT": 5,
    "READVM": 6,
    "WRITEVM": 7,
    "SUSPENDRESUME_THREAD": 8,
    "SUSPENDRESUME_PROCESS": 9,
    "DRIVER_DEVICE": 10,
}
# event id -> (symbol, task, template) from the 18990 manifest's <events>.
EVENTS_V1 = {
    1: ("ALLOCVM_V1", "ALLOCVM", "ALLOCVM"),
    2: ("PROTECTVM_V1", "PROTECTVM", "PROTECTVM"),
    3: ("MAPVIEW_V1", "MAPVIEW", "MAPVIEW"),
    4: ("QUEUEUSERAPC_V1", "QUEUEUSERAPC", "QUEUEUSERAPC"),
    5: ("SETTHREADCONTEXT_V1", "SETTHREADCONTEXT", "SETTHREADCONTEXT"),
    6: ("ALLOCVM6_V1", "ALLOCVM", "ALLOCVM"),
    7: ("PROTECTVM7_V1", "PROTECTVM", "PROTECTVM"),
    8: ("MAPVIEW8_V1", "MAPVIEW", "MAPVIEW"),
    11: ("READVM_V1", "READVM", "READVM"),
    12: ("WRITEVM_V1", "WRITEVM", "READVM"),
    13: ("READVM13_V1", "READVM", "READVM"),
    14: ("WRITEVM14_V1", "WRITEVM", "READVM"),
    15: ("SUSPENDRESUME_THREAD_V1", "SUSPENDRESUME_THREAD", "SUSPENDRESUME_THREAD"),
    16: ("SUSPENDRESUME_THREAD16_V1", "SUSPENDRESUME_THREAD", "SUSPENDRESUME_THREAD"),
    **{
        i: (f"SUSPENDRESUME_PROCESS{'' if i == 17 else i}_V1", "SUSPENDRESUME_PROCESS", "SUSPENDRESUME_PROCESS")
        for i in (17, 18, 19, 20)
    },
    21: ("ALLOCVM21_V1", "ALLOCVM", "ALLOCVM"),
    22: ("PROTECTVM22_V1", "PROTECTVM", "PROTECTVM"),
    23: ("MAPVIEW23_V1", "MAPVIEW", "MAPVIEW"),
    24: ("QUEUEUSERAPC24_V1", "QUEUEUSERAPC", "QUEUEUSERAPC"),
    25: ("SETTHREADCONTEXT25_V1", "SETTHREADCONTEXT", "SETTHREADCONTEXT"),
    26: ("ALLOCVM26_V1", "ALLOCVM", "ALLOCVM"),
    27: ("PROTECTVM27_V1", "PROTECTVM", "PROTECTVM"),
    28: ("MAPVIEW28_V1", "MAPVIEW", "MAPVIEW"),
    29: ("DRIVER_DEVICE_V1", "DRIVER_DEVICE", "DRIVER_DEVICE"),
    30: ("DRIVER_DEVICE30_V1", "DRIVER_DEVICE", "DRIVER_DEVICE30"),
    31: ("DRIVER_DEVICE31_V1", "DRIVER_DEVICE", "DRIVER_DEVICE31"),
    32: ("DRIVER_DEVICE32_V1", "DRIVER_DEVICE", "DRIVER_DEVICE31"),
}
CONSTRUCT = {
    "Int32ul": "UInt32",
    "Int16ul": "UInt16",
    "Int8ul": "UInt8",
    "Int64ul": "UInt64",
    "WString": "UnicodeString",
}


def _v0() -> dict[int, list[list[str]]]:
    tree = ast.parse(Path(ti_v0.__file__).read_text())
    out = {}
    v1_types = {name: t for fields in V1.values() for name, t, *_ in fields}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        event_id = next(k.value.value for d in node.decorator_list for k in d.keywords if k.arg == "event_id")
        fields = []
        for elt in node.body[0].value.args:
            name, kind = elt.left.value, ast.unparse(elt.right)
            if kind.startswith("Bytes("):
                fields.append([name, "UnicodeString", f"{name}Length"])
                continue
            tdh = CONSTRUCT[kind]
            if tdh == "UInt64" and v1_types.get(name) in ("FILETIME", "Pointer"):
                tdh = v1_types[name]
            fields.append([name, tdh])
        out[event_id] = fields
    return out


def main() -> None:
    templates = {}
    for event_id, (symbol, task, template) in EVENTS_V1.items():
        templates[f"{event_id}/1"] = {
            "symbol": f"KERNEL_THREATINT_TASK_{symbol}",
            "task": TASKS[task],
            "task_name": f"KERNEL_THREATINT_TASK_{task}",
            "fields": V1[template],
            "source": V1_SOURCE,
        }
    for event_id, fields in sorted(_v0().items()):
        _, task, _ = EVENTS_V1[event_id]
        templates[f"{event_id}/0"] = {
            "symbol": None,
            "task": TASKS[task],
            "task_name": f"KERNEL_THREATINT_TASK_{task}",
            "fields": fields,
            "source": V0_SOURCE + " (task by event id from the v1 manifest)",
        }
    doc = {
        "provider": "Microsoft-Windows-Threat-Intelligence",
        "guid": "f4e1897c-bb5d-5668-f1d8-040f4d8dd344",
        "note": "keys are '<event id>/<version>'; fields are [name, TDH in-type(, length field)]; see "
        "bench/_gen_ti_templates.py for how this file was made",
        "templates": dict(sorted(templates.items(), key=lambda kv: tuple(map(int, kv[0].split("/"))))),
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
