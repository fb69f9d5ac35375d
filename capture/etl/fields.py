"""Event fields and their decoders: one description for TraceLogging schemas and manifest templates alike.

A field is an in-type (`TDH_INTYPE`/`TlgIn*`, which agree for 1..25), an out-type, an optional array count and
struct members. `compile_decoder` turns a field list into straight-line Python (one `struct` format per run of
fixed-size fields, inline NUL searches for strings) and compiles it once per schema, so a provider's events decode
without interpreting the schema again. Decoders take exactly one event's user data and return the values in field
order; running out of data raises `TruncatedError`.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from swk.kernel.clock import FILETIME_UNIX_EPOCH

# In-types (TDH_INTYPE_* / TlgIn*).
NULL, UNICODESTRING, ANSISTRING, INT8, UINT8, INT16, UINT16, INT32, UINT32, INT64, UINT64 = range(11)
FLOAT, DOUBLE, BOOL32, BINARY, GUID, POINTER, FILETIME, SYSTEMTIME, SID, HEXINT32, HEXINT64 = range(11, 22)
COUNTEDSTRING, COUNTEDANSISTRING, STRUCT, COUNTEDBINARY = 22, 23, 24, 25
WMISID = 119  # ours, not TDH's: a kernel MOF "UserSID" (TOKEN_USER then the SID, or a 4-byte NULL)
IN_TYPE_NAMES = {
    0: "NULL", 1: "UNICODESTRING", 2: "ANSISTRING", 3: "INT8", 4: "UINT8", 5: "INT16", 6: "UINT16", 7: "INT32",
    8: "UINT32", 9: "INT64", 10: "UINT64", 11: "FLOAT", 12: "DOUBLE", 13: "BOOL32", 14: "BINARY", 15: "GUID",
    16: "POINTER", 17: "FILETIME", 18: "SYSTEMTIME", 19: "SID", 20: "HEXINT32", 21: "HEXINT64", 22: "COUNTEDSTRING",
    23: "COUNTEDANSISTRING", 24: "STRUCT", 25: "COUNTEDBINARY",
}  # fmt: skip

# TraceLogging out-types that change how a value reads (TlgOut*).
OUT_STRING, OUT_UTF8 = 2, 35

_FIXED = {INT8: "b", UINT8: "B", INT16: "h", UINT16: "H", INT32: "i", UINT32: "I", INT64: "q", UINT64: "Q",
          FLOAT: "f", DOUBLE: "d", BOOL32: "i", GUID: "16s", FILETIME: "Q", SYSTEMTIME: "16s", HEXINT32: "I",
          HEXINT64: "Q"}  # fmt: skip


class TruncatedError(ValueError):
    """The user data ended inside a field."""


@dataclass(frozen=True)
class Field:
    """One event field: name, in-type, out-type, array count, struct members, or a manifest length reference."""

    name: str
    in_type: int
    out_type: int = 0
    count: str | None = None  # None, "const" (count in the schema), "var" (UINT16 count before the values)
    const_count: int = 0
    members: tuple[Field, ...] = ()
    length_field: str | None = None  # manifest `length=`: the value count comes from an earlier field


def _filetime(value: int) -> str | None:
    if value <= FILETIME_UNIX_EPOCH or value > 0x7FFF_FFFF_FFFF_FFFF:
        return None if value == 0 else str(value)
    stamp = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=value // 10)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _systemtime(raw: bytes) -> str:
    y, mo, _dow, d, h, mi, s, ms = struct.unpack("<8H", raw)
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}Z"


def _guid(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw))


def ansi(raw: bytes) -> str:
    """8-bit text: UTF-8 when it is valid, else Latin-1 (every byte kept, nothing replaced)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_ansi = ansi  # the name the generated decoders use


def _wide_end(data: bytes, p: int) -> int:
    """Index of the UTF-16 NUL that ends the string starting at `p` (even distance from `p`)."""
    z = data.find(b"\0\0", p)
    while z >= 0 and (z - p) & 1:
        z = data.find(b"\0\0", z + 1)
    if z < 0:
        raise TruncatedError("UTF-16 string has no NUL terminator")
    return z


def sid_string(raw: bytes) -> str:
    """S-1-... text of a binary SID."""
    count = raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack_from(f"<{count}I", raw, 8)
    return "S-" + "-".join(str(x) for x in (raw[0], authority, *subs))


def _read_one(f: Field, data: bytes, p: int, ptr: str) -> tuple[object, int]:
    """Interpreted decoding of one value (arrays, structs and the rarer types: speed matters less here)."""
    t = f.in_type
    if t == STRUCT:
        out = {}
        for m in f.members:
            out[m.name], p = read_field(m, data, p, ptr, out)
        return out, p
    if t == UNICODESTRING:
        z = _wide_end(data, p)
        return data[p:z].decode("utf-16-le", "replace"), z + 2
    if t == ANSISTRING:
        z = data.find(b"\0", p)
        if z < 0:
            raise TruncatedError("8-bit string has no NUL terminator")
        return _ansi(data[p:z]), z + 1
    if t in (COUNTEDSTRING, COUNTEDANSISTRING, BINARY, COUNTEDBINARY):
        if p + 2 > len(data):
            raise TruncatedError("counted value has no length")
        n = data[p] | data[p + 1] << 8
        raw = data[p + 2 : p + 2 + n]
        if len(raw) < n:
            raise TruncatedError(f"counted value of {n} bytes runs past the user data")
        if t == COUNTEDSTRING:
            return raw.decode("utf-16-le", "replace"), p + 2 + n
        if t == COUNTEDANSISTRING:
            return _ansi(raw), p + 2 + n
        return raw, p + 2 + n
    if t == SID:
        if p + 8 > len(data) or p + 8 + 4 * data[p + 1] > len(data):
            raise TruncatedError("SID runs past the user data")
        end = p + 8 + 4 * data[p + 1]
        return sid_string(data[p:end]), end
    if t == NULL:
        return None, p
    if t == WMISID:
        if p + 4 > len(data):
            raise TruncatedError("UserSID runs past the user data")
        if not int.from_bytes(data[p : p + 4], "little"):
            return None, p + 4  # NULL token: four zero bytes
        token = 16 if ptr == "Q" else 8
        return _read_one(Field("", SID), data, p + token, ptr)
    fmt = ptr if t == POINTER else _FIXED.get(t)
    if fmt is None:
        raise TruncatedError(f"in-type {t} cannot be decoded")
    size = struct.calcsize("<" + fmt)
    if p + size > len(data):
        raise TruncatedError(f"{IN_TYPE_NAMES.get(t, t)} runs past the user data")
    value = struct.unpack_from("<" + fmt, data, p)[0]
    return _convert(t, value), p + size


def _convert(t: int, value: object) -> object:
    if t == BOOL32:
        return value != 0
    if t == GUID:
        return _guid(value)  # type: ignore[arg-type]
    if t == FILETIME:
        return _filetime(value)  # type: ignore[arg-type]
    if t == SYSTEMTIME:
        return _systemtime(value)  # type: ignore[arg-type]
    return value


def read_field(f: Field, data: bytes, p: int, ptr: str, done: dict[str, object] | None = None) -> tuple[object, int]:
    """One field's value (scalar, array or struct) starting at `p`, and where the next field starts."""
    if f.count is None and f.length_field is None:
        return _read_one(f, data, p, ptr)
    if f.length_field is not None:
        n = (done or {}).get(f.length_field)
        if not isinstance(n, int):
            raise TruncatedError(f"length field {f.length_field} not decoded before {f.name}")
        if f.in_type == UNICODESTRING:
            raw = data[p : p + 2 * n]
            if len(raw) < 2 * n:
                raise TruncatedError(f"{f.name} runs past the user data")
            return raw.decode("utf-16-le", "replace").rstrip("\0"), p + 2 * n
        if f.in_type == ANSISTRING:
            raw = data[p : p + n]
            if len(raw) < n:
                raise TruncatedError(f"{f.name} runs past the user data")
            return _ansi(raw).rstrip("\0"), p + n
        if f.in_type == BINARY:
            raw = data[p : p + n]
            if len(raw) < n:
                raise TruncatedError(f"{f.name} runs past the user data")
            return raw, p + n
    if f.count == "var" or f.length_field is not None:
        if f.count == "var":
            if p + 2 > len(data):
                raise TruncatedError(f"{f.name} has no element count")
            n = data[p] | data[p + 1] << 8
            p += 2
    else:
        n = f.const_count
    if f.out_type in (OUT_STRING, OUT_UTF8) and f.in_type in (UINT8, INT8, UINT16, INT16):
        width = 2 if f.in_type in (UINT16, INT16) else 1  # TraceLogging's char arrays: counted strings
        raw = data[p : p + n * width]
        if len(raw) < n * width:
            raise TruncatedError(f"{f.name} runs past the user data")
        return (raw.decode("utf-16-le", "replace") if width == 2 else _ansi(raw)), p + n * width
    one = Field(f.name, f.in_type, f.out_type, members=f.members)
    values = []
    for _ in range(n):
        value, p = _read_one(one, data, p, ptr)
        values.append(value)
    return values, p


def compile_decoder(fields: tuple[Field, ...], pointer_size: int = 8) -> Callable[[bytes], tuple]:
    """A decoder for `fields`: generated, straight-line Python compiled once (the per-schema fast path)."""
    ptr = "Q" if pointer_size == 8 else "I"
    lines = ["def decode(data):", "    p = 0"]
    env: dict[str, object] = {"TruncatedError": TruncatedError, "_wide_end": _wide_end, "_ansi": _ansi, "_convert": _convert,
                              "read_field": read_field, "FIELDS": fields, "PTR": ptr}  # fmt: skip
    pending: list[tuple[int, str]] = []  # (field index, format) of the fixed run being collected
    converts: list[tuple[int, int]] = []

    def flush() -> None:
        if not pending:
            return
        fmt = "<" + "".join(f for _, f in pending)
        name = f"S{len(env)}"
        env[name] = struct.Struct(fmt).unpack_from
        targets = ", ".join(f"v{i}" for i, _ in pending)
        size = struct.calcsize(fmt)
        lines.append(
            f"    if p + {size} > len(data): raise TruncatedError('user data ends inside field {pending[0][0]}')"
        )
        lines.append(f"    {targets}, = {name}(data, p)")
        lines.append(f"    p += {size}")
        pending.clear()

    needs_done = any(f.length_field for f in fields)
    for i, f in enumerate(fields):
        t = f.in_type
        simple = f.count is None and f.length_field is None
        if simple and (t in _FIXED or t == POINTER):
            pending.append((i, ptr if t == POINTER else _FIXED[t]))
            if t in (BOOL32, GUID, FILETIME, SYSTEMTIME):
                converts.append((i, t))
            continue
        flush()
        if simple and t == UNICODESTRING:  # inline: the NUL search is the hot spot of path-heavy events
            lines += ["    z = data.find(b'\\0\\0', p)", "    while z >= 0 and (z - p) & 1: z = data.find(b'\\0\\0', z + 1)",
                      "    if z < 0: raise TruncatedError('UTF-16 string has no NUL terminator')",
                      f"    v{i} = data[p:z].decode('utf-16-le', 'replace')", "    p = z + 2"]  # fmt: skip
        elif simple and t == ANSISTRING:
            lines += ["    z = data.find(b'\\0', p)", "    if z < 0: raise TruncatedError('8-bit string has no NUL')",
                      f"    v{i} = data[p:z]", f"    try: v{i} = v{i}.decode()",
                      f"    except UnicodeDecodeError: v{i} = v{i}.decode('latin-1')", "    p = z + 1"]  # fmt: skip
        elif simple and t in (BINARY, COUNTEDBINARY):
            lines += ["    if p + 2 > len(data): raise TruncatedError('binary has no length')",
                      "    n = data[p] | data[p + 1] << 8", f"    v{i} = data[p + 2:p + 2 + n]",
                      f"    if len(v{i}) < n: raise TruncatedError('binary runs past the user data')", "    p += 2 + n"]  # fmt: skip
        elif needs_done:
            done = "{" + ", ".join(f"FIELDS[{j}].name: v{j}" for j in range(i)) + "}"
            lines.append(f"    v{i}, p = read_field(FIELDS[{i}], data, p, PTR, {done})")
        else:
            lines.append(f"    v{i}, p = read_field(FIELDS[{i}], data, p, PTR)")
    flush()
    for i, t in converts:
        lines.append(f"    v{i} = v{i} != 0" if t == BOOL32 else f"    v{i} = _convert({t}, v{i})")
    lines.append("    return (" + "".join(f"v{i}, " for i in range(len(fields))) + ")")
    code = compile("\n".join(lines), "<etl field decoder>", "exec")
    exec(code, env)  # generated from field descriptions, never from input text
    return env["decode"]  # type: ignore[return-value]


_NUMPY = {INT8: "i1", UINT8: "u1", INT16: "<i2", UINT16: "<u2", INT32: "<i4", UINT32: "<u4", INT64: "<i8",
          UINT64: "<u8", FLOAT: "<f4", DOUBLE: "<f8", BOOL32: "<i4", HEXINT32: "<u4", HEXINT64: "<u8"}  # fmt: skip
_VARIABLE = (UNICODESTRING, ANSISTRING, BINARY, COUNTEDBINARY)


@dataclass(frozen=True)
class Segments:
    """A flat schema cut into runs of fixed-size fields (numpy dtypes) and variable fields (decoded values).

    The segment decoder returns, per event, the raw bytes of each fixed run and the value of each variable field;
    a batch of events then turns each run into columns with one `np.frombuffer`, no per-value Python objects.
    """

    decode: Callable[[bytes], tuple]
    # ("fixed", np.dtype with the field names, 0) or ("var", field name, in-type): `vector` walks the same parts
    parts: tuple[tuple[str, object, int], ...]


_segments_cache: dict[tuple[tuple[Field, ...], int], Segments | None] = {}
SEGMENTS_CACHE_LIMIT = 4096


def compile_segments(fields: tuple[Field, ...], pointer_size: int = 8) -> Segments | None:
    """The segment decoder of a flat schema of scalars and strings/binary, or None for anything else (cached).

    Compiling costs ~1.5 ms (`compile()` of generated code), which a reader pays once per schema but a live session,
    decoding event bursts in separate batches, would pay again for every burst.
    """
    key = (fields, pointer_size)
    if key in _segments_cache:
        return _segments_cache[key]
    if len(_segments_cache) >= SEGMENTS_CACHE_LIMIT:
        _segments_cache.clear()
    found = _segments_cache[key] = _compile_segments(fields, pointer_size)
    return found


def _compile_segments(fields: tuple[Field, ...], pointer_size: int) -> Segments | None:
    import numpy as np

    ptr = "<u8" if pointer_size == 8 else "<u4"
    if any(f.count is not None or f.length_field or f.in_type not in (*_NUMPY, POINTER, *_VARIABLE) for f in fields):
        return None
    lines = ["def decode(data):", "    p = 0", "    n = len(data)"]
    parts: list[tuple[str, object, int]] = []
    outs: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if not run:
            return
        dtype = np.dtype(run)
        k = len(parts)
        lines.append(
            f"    if p + {dtype.itemsize} > n: raise TruncatedError('user data ends inside fixed-size fields')"
        )
        lines.append(f"    s{k} = data[p:p + {dtype.itemsize}]")
        lines.append(f"    p += {dtype.itemsize}")
        parts.append(("fixed", dtype, 0))
        outs.append(f"s{k}")
        run.clear()

    for f in fields:
        if f.in_type not in _VARIABLE:
            run.append((f.name, ptr if f.in_type == POINTER else _NUMPY[f.in_type]))
            continue
        flush()
        k = len(parts)
        if f.in_type == UNICODESTRING:
            lines += ["    z = data.find(b'\\0\\0', p)", "    while z >= 0 and (z - p) & 1: z = data.find(b'\\0\\0', z + 1)",
                      "    if z < 0: raise TruncatedError('UTF-16 string has no NUL terminator')",
                      f"    s{k} = data[p:z].decode('utf-16-le', 'replace')", "    p = z + 2"]  # fmt: skip
        elif f.in_type == ANSISTRING:
            lines += ["    z = data.find(b'\\0', p)", "    if z < 0: raise TruncatedError('8-bit string has no NUL')",
                      f"    s{k} = data[p:z]", f"    try: s{k} = s{k}.decode()",
                      f"    except UnicodeDecodeError: s{k} = s{k}.decode('latin-1')", "    p = z + 1"]  # fmt: skip
        else:
            lines += ["    if p + 2 > n: raise TruncatedError('binary has no length')",
                      "    m = data[p] | data[p + 1] << 8", f"    s{k} = data[p + 2:p + 2 + m]",
                      f"    if len(s{k}) < m: raise TruncatedError('binary runs past the user data')", "    p += 2 + m"]  # fmt: skip
        parts.append(("var", f.name, f.in_type))
        outs.append(f"s{k}")
    flush()
    lines.append("    return (" + "".join(f"{o}, " for o in outs) + ")")
    env: dict[str, object] = {"TruncatedError": TruncatedError}
    exec(compile("\n".join(lines), "<etl segment decoder>", "exec"), env)  # generated from field descriptions
    return Segments(env["decode"], tuple(parts))  # type: ignore[arg-type]
