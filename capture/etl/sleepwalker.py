"""`Sleepwalker.Kernel` TraceLogging events into their case families, exactly as `swk.kernel.etw` lists them.

Events of one family share one schema, so their decoded value tuples are collected and turned into columns a
batch at a time (numpy over whole columns, no per-row Python): pid and pointer fields keep their 64-bit pattern as
BIGINT, the NTSTATUS fields become signed INT, `stack0..7` become `frames` cut to the frame count, and the derived
columns of docs/case-rows.md are filled from the fields the event carries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture import columns as col
from swk.capture.etl.fields import Field as TlField
from swk.capture.etl.fields import Segments
from swk.kernel.etw import FAMILIES, PROVIDER_NAME, Family, TlType
from swk.store.schema import EVENTS

CLASS_IDS = {"UNKNOWN-ORIGIN": 0, "LEGITIMATE-SYSCALL": 1, "DIRECT-SYSCALL-SUSPECT": 2}
PAGE_EXECUTE_ANY = 0xF0  # EXECUTE, EXECUTE_READ, EXECUTE_READWRITE, EXECUTE_WRITECOPY
_COUNT_FIELD = {"HandleTelemetry": "frameCount", "ThreadTelemetry": "workerFrameCount"}
_CLASS_NAMES = pa.array(list(CLASS_IDS), type=pa.string())
_CLASS_VALUES = pa.array(list(CLASS_IDS.values()), type=pa.int32())


def family_for(provider: str | None, event_name: str, fields: Sequence[TlField]) -> Family | None:
    """The Sleepwalker family whose spec 2.2 field list (names and in-types, in order) this schema is."""
    if provider != PROVIDER_NAME:
        return None
    fam = FAMILIES.get(event_name)
    if fam is None or len(fam.fields) != len(fields):
        return None
    for want, got in zip(fam.fields, fields, strict=True):
        if want.name != got.name or int(want.type) != got.in_type or got.count is not None:
            return None
    return fam


def raw_values(segments: Segments, values: Sequence[tuple]) -> dict[str, object]:
    """Field values by name of events decoded one at a time (`Segments.decode` tuples): arrays and lists."""
    by_part = list(zip(*values, strict=True)) if values else [() for _ in segments.parts]
    raw: dict[str, object] = {}
    for (kind, what, _type), data in zip(segments.parts, by_part, strict=True):
        if kind == "fixed":
            rec = np.frombuffer(b"".join(data), dtype=what)  # type: ignore[call-overload]
            for name in what.names:  # type: ignore[union-attr]
                raw[name] = rec[name]
        else:
            raw[what] = data  # type: ignore[index]
    return raw


def columns(fam: Family, raw: dict[str, object], n: int) -> dict[str, pa.Array]:
    """Case columns of `n` events of one family from their field values by name.

    Fixed-size fields are numpy arrays; strings and binary are Python sequences or Arrow arrays (the vectorised
    decoder hands over Arrow arrays, which are cast, never rebuilt).
    """
    out: dict[str, pa.Array] = {}
    ints: dict[str, np.ndarray] = {}
    for f in fam.fields:
        if f.column.startswith("frames["):
            continue
        value = raw[f.name]
        target = EVENTS.field(f.column).type
        if isinstance(value, np.ndarray):
            if f.type == TlType.BOOL32:
                out[f.column] = pa.array(value != 0)
                continue
            if value.dtype.itemsize == 8:
                arr = value.view(np.int64)
            elif target == pa.int32():  # INT columns keep the 32-bit pattern (NTSTATUS reads negative)
                arr = value.astype(np.uint32).view(np.int32)
            else:
                arr = value.astype(np.int32).astype(np.int64) if f.signed else value.astype(np.int64)
            ints[f.column] = arr
            out[f.column] = pa.array(arr, type=target)
        elif isinstance(value, pa.Array):
            out[f.column] = value if value.type == target else value.cast(target)
        else:
            out[f.column] = pa.array(value, type=target)
    count_field = _COUNT_FIELD.get(fam.event_name)
    if count_field is not None:
        stacks = np.empty((n, 8), dtype=np.uint64)
        for k in range(8):
            stacks[:, k] = raw[f"stack{k}"]
        # cut to the wire count read unsigned: a damaged count of 2**31 or more means "all eight", not a crash
        out["frames"] = col.frames(stacks, np.minimum(np.asarray(raw[count_field]).astype(np.int64), 8))
    _derive(fam.event_name, out, ints, n)
    return out


def _derive(event_name: str, out: dict[str, pa.Array], ints: dict[str, np.ndarray], n: int) -> None:
    """The columns docs/case-rows.md derives from an event's own fields."""
    if event_name == "HandleTelemetry":  # CLASS_IDS.get per row: NULL for a class the spec does not number
        found = pc.index_in(out["class_name"], value_set=_CLASS_NAMES)
        out["class_id"] = _CLASS_VALUES.take(found)
    elif event_name == "ThreadTelemetry":
        out["start_region_exec"] = pa.array((ints["start_region_protect"] & PAGE_EXECUTE_ANY) != 0)
    elif event_name == "ProcessTelemetry":
        creator = np.where(out["is_create"].to_numpy(zero_copy_only=False), ints["creator_pid"], ints["target_pid"])
        out["actor_pid"] = pa.array(creator)
    elif event_name == "ImageTelemetry":
        out["actor_pid"] = out["target_pid"]
