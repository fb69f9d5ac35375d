"""Windows event field values in one canonical form, whoever exported them.

Exporters disagree on how a value is written: EVTX gives numbers as numbers and GUIDs bare and upper-case; OTRF and
NXLog JSON give everything as strings, GUIDs in braces and lower-case, and XML-escape text (`&lt;unknown process&gt;`,
`&amp;` in registry paths). Each function here turns one raw value into its case form. They run through a `Memo`,
because the values of an event log repeat heavily (a few processes, images and call sites make most events): a
dict hit per value is cheaper than either a Python conversion per value or Arrow kernel calls per small batch.
Times are the exception (nearly all distinct) and are converted a whole column at a time. Raw values stay in
`fields_json`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

I64, STR = pa.int64(), pa.string()
TS = pa.timestamp("us", tz="UTC")
MEMO_LIMIT = 200_000  # distinct values remembered per conversion before starting over (bounds memory)

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Exporters XML-escape text once; `&amp;` goes last so `&amp;lt;` becomes `&lt;`, as it was written.
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))
# A usable image: a drive, UNC or NT path, or a bare printable name without a backslash (System, Registry,
# MemCompression, `<unknown process>`, a herpaderped `wardog.exe`). Sysmon sometimes writes stack garbage into the
# first characters of SourceImage (`耙甯\Windows\...`, `50\Windows\...`, `\u3100`, `\r`): those are not images.
_IMAGE = re.compile(r"(?:[A-Za-z]:\\|\\)[^\x00-\x1f\x7f\ufffd]*|[\x20-\x5b\x5d-\x7e]+")


class Memo(dict):  # type: ignore[type-arg]
    """A conversion with its results remembered per raw value (at most `limit` of them, then it starts over)."""

    def __init__(self, fn: Callable[[object], object], limit: int = MEMO_LIMIT) -> None:
        super().__init__()
        self.fn = fn
        self.limit = limit

    def __missing__(self, key: object) -> object:
        value = self[key] = self.fn(key)
        return value

    def map(self, values: Sequence[object]) -> list[object]:
        """The converted values, in order."""
        if len(self) > self.limit:
            self.clear()
        try:
            return list(map(self.__getitem__, values))  # twice as fast as a comprehension over a dict subclass
        except TypeError:  # an unhashable value (a nested object where a scalar was expected)
            return [self[v] if isinstance(v, str | int | None) else self.fn(v) for v in values]


def text(value: object) -> str | None:
    """Text as written (numbers become their decimal text)."""
    return value if value is None or isinstance(value, str) else str(value)


def unescape_xml(value: str | None) -> str | None:
    """XML entities an exporter added, removed."""
    if value is None or "&" not in value:
        return value
    for entity, char in _ENTITIES:
        value = value.replace(entity, char)
    return value


def module(value: str | None) -> str | None:
    """StartModule/StartFunction: `-` and `""` both mean "carried, none" and become `''`; NULL stays NULL."""
    return "" if value == "-" else value


def image(value: str | None) -> str | None:
    """An image path; empty or garbled values become NULL (see `garbled`)."""
    return value if value is not None and _IMAGE.fullmatch(value) else None


def garbled(raw: Sequence[object], converted: Sequence[object]) -> int:
    """How many non-empty raw values a conversion left NULL."""
    return len(garbled_at(raw, converted))


def garbled_at(raw: Sequence[object], converted: Sequence[object]) -> list[int]:
    """Where a conversion left a non-empty raw value NULL."""
    return [i for i, (r, c) in enumerate(zip(raw, converted, strict=True)) if c is None and r is not None and r != ""]


def guid(value: object) -> str | None:
    """A process GUID as `{lower-case}`, whether written bare upper-case (EVTX) or braced (JSON); else as written."""
    raw = text(value)
    if raw is None:
        return None
    bare = raw.strip().strip("{}").lower()
    return f"{{{bare}}}" if _GUID.fullmatch(bare) else raw


def integer(value: object) -> int | None:
    """An int64 from a number, a decimal string or a 0x-hex string (a u64 keeps its bits); else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        raw = str(value).strip()
        try:
            number = int(raw[2:], 16) if raw[:2] in ("0x", "0X") else int(raw)
        except ValueError:
            return None
    if not -(1 << 63) <= number < (1 << 64):
        return None
    return number - (1 << 64) if number >= 1 << 63 else number


def int_array(values: Sequence[object], memo: Memo) -> pa.Array:
    """`integer` of each value as int64: straight to Arrow when all are ints (or None), else through `memo` (a
    column of record ids is all distinct, so a memo only costs there)."""
    if _INT_TYPES.issuperset(map(type, values)):
        try:
            return pa.array(values, type=I64)
        except OverflowError:  # a u64 from 2**63 up keeps its bits: `integer` does that
            pass
    return pa.array(memo.map(values), type=I64)


def text_array(values: Sequence[object]) -> pa.Array:
    """`text` of each value as a string array (without a Python call per value when all are text already)."""
    if _STR_TYPES.issuperset(map(type, values)):
        return pa.array(values, type=STR)
    return pa.array([text(v) for v in values], type=STR)


_INT_TYPES = frozenset({int, type(None)})
_STR_TYPES = frozenset({str, type(None)})


def utc_times(values: Sequence[object]) -> tuple[pa.Array, int]:
    """Sysmon UtcTime (`2020-10-23 07:12:04.346`, UTC without a zone) as timestamps; also the count unreadable."""
    arr = text_array(values)
    try:
        return pc.cast(pc.cast(arr, pa.timestamp("us")), TS), 0
    except pa.ArrowInvalid:
        out = pa.array([_one_time(v, naive_is_utc=True) for v in arr.to_pylist()], type=TS)
        return out, out.null_count - arr.null_count


def zoned_times(values: Sequence[object]) -> tuple[pa.Array, int]:
    """ISO times with a zone (EVTX SystemTime, JSON `@timestamp`) as timestamps; a zoneless (local) time is NULL.
    Also the count of values left NULL."""
    arr = text_array(values)
    try:
        return pc.cast(arr, TS), 0
    except pa.ArrowInvalid:
        out = pa.array([_one_time(v, naive_is_utc=False) for v in arr.to_pylist()], type=TS)
        return out, out.null_count - arr.null_count


def _one_time(raw: str | None, *, naive_is_utc: bool) -> datetime | None:
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC) if naive_is_utc else None
    return when.astimezone(UTC)
