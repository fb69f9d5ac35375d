"""Sysmon 10 `CallTrace` to the case's `frames`, and the handle origin Sleepwalker would report from it.

A CallTrace is `|`-separated frames, innermost first: `C:\\Windows\\SYSTEM32\\ntdll.dll+9c584` (module + hex
offset, no absolute address) or `UNKNOWN(000001F3C35A0014)` (an address in no module: unbacked memory); a WOW64
frame ends in `(wow64)`. Each becomes a FRAME struct: module + offset, or only the address. A frame of any other
shape keeps its text as the module, so nothing is dropped silently.

The origin columns follow the innermost frame, as Sleepwalker's `OriginAddress = Frames[0]` does (spec 1.3), and
the class is the user-mode heuristic of spec 4.2/4.4 applied to it: through ntdll -> LEGITIMATE-SYSCALL; unbacked
(empty origin path) or an `.exe` -> DIRECT-SYSCALL-SUSPECT; anything else -> UNKNOWN-ORIGIN. Sysmon carries no page
protection, so the heuristic's EXEC_PROTECT is taken as given: a return address on a call stack is code that ran.
These are derived values, not the kernel's ClassId (which needs the stack checks of spec 3.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from swk.capture.sysmon.normalize import I64, STR, integer
from swk.kernel.abi import HANDLE_CLASS_ETW, HandleClass
from swk.store.schema import FRAME

_FRAME = re.compile(r"UNKNOWN\(([0-9A-Fa-f]{1,16})\)(?:\(wow64\))?|(.*)\+([0-9A-Fa-f]{1,16})(?:\(wow64\))?")
ORIGIN_COLUMNS = ("frame_count", "origin_address", "origin_path", "from_ntdll", "from_exe", "class_id",
                  "class_name")  # fmt: skip


class Trace(NamedTuple):
    """One CallTrace: its frames as three parallel tuples, and the origin columns of its innermost frame."""

    addresses: tuple[int | None, ...] | None  # None: the event carried no CallTrace
    modules: tuple[str | None, ...]
    offsets: tuple[int | None, ...]
    origin: tuple[object, ...]  # values of ORIGIN_COLUMNS


NO_TRACE = Trace(None, (), (), (None,) * len(ORIGIN_COLUMNS))


def parse(raw: object) -> Trace:
    """A CallTrace string as frames plus origin (`""` is carried with no frames: class UNKNOWN, as the kernel's)."""
    if not isinstance(raw, str):
        return NO_TRACE
    frames = [_frame(text) for text in raw.split("|")] if raw else []
    addresses = [f[0] for f in frames]
    modules = [f[1] for f in frames]
    offsets = [f[2] for f in frames]
    if not addresses:
        origin = (0, None, None, None, None, HandleClass.UNKNOWN, HANDLE_CLASS_ETW[HandleClass.UNKNOWN])
        return Trace((), (), (), origin)
    unbacked = modules[0] is None
    path = "" if unbacked else modules[0]  # Sleepwalker's OriginPath is empty when no section is mapped there
    lower = path.lower()
    from_ntdll, from_exe = "ntdll.dll" in lower, ".exe" in lower
    if from_ntdll:
        cls = HandleClass.LEGITIMATE_SYSCALL
    elif unbacked or from_exe:
        cls = HandleClass.DIRECT_SYSCALL_SUSPECT
    else:
        cls = HandleClass.UNKNOWN
    origin = (len(addresses), addresses[0], path, from_ntdll, from_exe, int(cls), HANDLE_CLASS_ETW[cls])
    return Trace(tuple(addresses), tuple(modules), tuple(offsets), origin)


def _frame(text: str) -> tuple[int | None, str | None, int | None]:
    """(address, module, offset) of one frame; an unrecognised frame keeps its text as the module."""
    found = _FRAME.fullmatch(text)
    if found is None:
        return None, text, None
    if found.group(1) is not None:
        return integer("0x" + found.group(1)), None, None
    return None, found.group(2), integer("0x" + found.group(3))


def columns(traces: Sequence[Trace]) -> dict[str, pa.Array]:
    """`frames` and the origin columns for parsed traces.

    A log holds few distinct call traces (239 in 30,414 process accesses of the OTRF LSASS set), and the memo hands
    out one object per distinct trace, so each distinct trace's columns are built once and rows take them by index.
    """
    ids = np.fromiter(map(id, traces), dtype=np.int64, count=len(traces))
    _, first, rows = np.unique(ids, return_index=True, return_inverse=True)
    distinct = [traces[i] for i in first.tolist()]
    take = pa.array(rows.astype(np.int64))
    out = {"frames": _frames(distinct).take(take)}
    for name, values in zip(ORIGIN_COLUMNS, zip(*(t.origin for t in distinct), strict=True), strict=True):
        out[name] = pa.array(values, type=_TYPES[name]).take(take)
    return out


_TYPES = {"frame_count": pa.int32(), "origin_address": I64, "origin_path": STR, "from_ntdll": pa.bool_(),
          "from_exe": pa.bool_(), "class_id": pa.int32(), "class_name": STR}  # fmt: skip


def _frames(traces: Sequence[Trace]) -> pa.Array:
    """list<FRAME> for each trace (NULL where the event carried none), built from flat lists."""
    addresses: list[int | None] = []
    modules: list[str | None] = []
    offsets: list[int | None] = []
    lengths = np.zeros(len(traces), dtype=np.int32)
    carried = np.zeros(len(traces), dtype=bool)
    for i, trace in enumerate(traces):
        if trace.addresses is not None:
            carried[i] = True
            lengths[i] = len(trace.addresses)
            addresses.extend(trace.addresses)
            modules.extend(trace.modules)
            offsets.extend(trace.offsets)
    starts = np.zeros(len(traces) + 1, dtype=np.int32)
    np.cumsum(lengths, out=starts[1:])
    struct = pa.StructArray.from_arrays([pa.array(addresses, type=I64), pa.array(modules, type=STR),
                                         pa.array(offsets, type=I64)], fields=list(FRAME))  # fmt: skip
    return pa.ListArray.from_arrays(pa.array(starts), struct, type=pa.list_(FRAME),
                                    mask=pa.array(~carried) if not carried.all() else None)  # fmt: skip
