"""TraceLogging self-describing events: the EVENT_SCHEMA_TL metadata (extended data type 11) and provider traits.

Metadata layout (`TraceLoggingProvider.h`): UINT16 size of the whole blob, the event tag (bytes with 0x80 meaning
"another byte follows"), the event name (NUL-terminated UTF-8), then per field: name, in-type byte (0x80: an
out-type byte follows; 0x20 constant count, 0x40 variable count, 0x60 custom), out-type byte (0x80: a field tag
follows, chained like the event tag), then a UINT16 count for constant-count arrays or a UINT16 size and the
schema bytes for custom fields. A STRUCT field's out-type is its member count; the members follow it.

Schemas are parsed and compiled once per distinct blob; a provider re-sends the same blob with every event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swk.capture.etl.fields import STRUCT, Field, TruncatedError, compile_decoder

CHAIN, COUNT_MASK, CONST, VAR, CUSTOM, TYPE_MASK = 0x80, 0x60, 0x20, 0x40, 0x60, 0x1F
CACHE_LIMIT = 4096  # distinct schemas kept; a hostile file cannot grow memory without bound


class SchemaError(ValueError):
    """The EVENT_SCHEMA_TL blob does not parse."""


@dataclass(frozen=True)
class Schema:
    """A parsed TraceLogging event schema and its compiled decoder."""

    name: str
    tag: int
    fields: tuple[Field, ...]
    decode: Callable[[bytes], tuple]


_cache: dict[tuple[bytes, int], Schema] = {}
_traits: dict[bytes, str] = {}


def schema(blob: bytes, pointer_size: int = 8) -> Schema:
    """The parsed, compiled schema of a metadata blob (cached)."""
    key = (blob, pointer_size)
    found = _cache.get(key)
    if found is None:
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        name, tag, fields = parse(blob)
        found = _cache[key] = Schema(name, tag, fields, compile_decoder(fields, pointer_size))
    return found


def _chained(blob: bytes, p: int) -> tuple[int, int]:
    """A tag stored 7 bits a byte, high bit = more bytes follow (at most 4)."""
    value = 0
    for i in range(4):
        if p >= len(blob):
            raise SchemaError("tag runs past the metadata")
        b = blob[p]
        p += 1
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            break
    return value, p


def _zstring(blob: bytes, p: int, end: int) -> tuple[str, int]:
    z = blob.find(b"\0", p, end)
    if z < 0:
        raise SchemaError("name has no NUL terminator")
    return blob[p:z].decode("utf-8", "replace"), z + 1


def parse(blob: bytes) -> tuple[str, int, tuple[Field, ...]]:
    """Event name, event tag and the (nested) fields of an EVENT_SCHEMA_TL blob."""
    if len(blob) < 4:
        raise SchemaError(f"metadata of {len(blob)} bytes is too short")
    size = blob[0] | blob[1] << 8
    if not 4 <= size <= len(blob):
        raise SchemaError(f"metadata size {size} does not fit its {len(blob)} bytes")
    tag, p = _chained(blob, 2)
    name, p = _zstring(blob, p, size)
    flat: list[tuple[str, int, int, str | None, int]] = []
    while p < size:
        fname, p = _zstring(blob, p, size)
        if p >= size:
            raise SchemaError(f"field {fname!r} has no in-type")
        raw_in = blob[p]
        p += 1
        out = 0
        if raw_in & CHAIN:
            if p >= size:
                raise SchemaError(f"field {fname!r} has no out-type")
            out = blob[p]
            p += 1
            if out & CHAIN:
                _, p = _chained(blob, p)
            out &= 0x7F
        flags = raw_in & COUNT_MASK
        count: str | None = None
        const = 0
        if flags == CONST:
            if p + 2 > size:
                raise SchemaError(f"field {fname!r} has no constant count")
            count, const = "const", blob[p] | blob[p + 1] << 8
            p += 2
        elif flags == VAR:
            count = "var"
        elif flags == CUSTOM:
            if p + 2 > size:
                raise SchemaError(f"field {fname!r} has no custom schema size")
            p += 2 + (blob[p] | blob[p + 1] << 8)
            count = "custom"
        flat.append((fname, raw_in & TYPE_MASK, out, count, const))
    fields, _ = _nest(flat, 0, len(flat))
    return name, tag, tuple(fields)


def _nest(flat: list[tuple[str, int, int, str | None, int]], i: int, n: int) -> tuple[list[Field], int]:
    """Group the flat field list into structs: a STRUCT's out-type is the count of fields after it that it holds."""
    out: list[Field] = []
    while i < len(flat) and len(out) < n:
        fname, t, o, count, const = flat[i]
        i += 1
        if count == "custom":
            raise SchemaError(f"field {fname!r} uses a custom (protocol) encoding that has no generic decoding")
        if t == STRUCT:
            members, i = _nest(flat, i, o)
            if len(members) < o:
                raise SchemaError(f"struct {fname!r} declares {o} members, the schema has {len(members)}")
            out.append(Field(fname, t, 0, count, const, tuple(members)))
        else:
            out.append(Field(fname, t, o, count, const))
    return out, i


def provider_name(traits: bytes) -> str | None:
    """The provider name in a PROV_TRAITS item (UINT16 size, NUL-terminated UTF-8 name, then traits)."""
    found = _traits.get(traits)
    if found is None and len(traits) >= 3:
        z = traits.find(b"\0", 2)
        if z < 0:
            return None
        if len(_traits) >= CACHE_LIMIT:
            _traits.clear()
        found = _traits[traits] = traits[2:z].decode("utf-8", "replace")
    return found


__all__ = ["Schema", "SchemaError", "TruncatedError", "parse", "provider_name", "schema"]
