"""Arrow-vector helpers for captured text: hex and decimal columns to integers, case tables from columns.

The JSONL reader parses messages with RE2 (`pyarrow.compute.extract_regex`) and converts the captured text columns
here with numpy, so no Python code runs per line on the common path.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.store.schema import EVENTS

_NIBBLE = np.zeros(256, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint64)
U64_MAX = "18446744073709551615"


def hex_u64(strings: pa.Array) -> np.ndarray:
    """Unsigned values of 1-16 hex digit strings (NULL as 0), vectorised over the digits."""
    if not len(strings):
        return np.zeros(0, dtype=np.uint64)
    padded = pc.utf8_lpad(pc.fill_null(strings, "0"), 16, "0")
    if isinstance(padded, pa.ChunkedArray):
        padded = padded.combine_chunks()
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset : padded.offset + len(padded) + 1]
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 16)
    nibbles = _NIBBLE[data]
    out = np.zeros(len(padded), dtype=np.uint64)
    for k in range(16):
        out = (out << np.uint64(4)) | nibbles[:, k]
    return out


def dec_u64(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values, too_big) of 1-20 digit decimal strings; values that do not fit 64 bits are 0 and flagged."""
    if not len(strings):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    strings = pc.fill_null(strings, "0")
    too_big = pc.and_(pc.equal(pc.utf8_length(strings), 20), pc.greater(strings, U64_MAX))
    safe = pc.if_else(too_big, "0", strings)
    return pc.cast(safe, pa.uint64()).to_numpy(zero_copy_only=False), too_big.to_numpy(zero_copy_only=False)


def as_stored(values: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit values as the case's BIGINT (same bits)."""
    return values.astype(np.uint64).view(np.int64)


def table(columns: dict[str, object], n: int) -> pa.Table:
    """A table of case columns typed by the schema (scalars repeated, arrays cast)."""
    arrays = []
    for name, value in columns.items():
        type_ = EVENTS.field(name).type
        if isinstance(value, pa.Array | pa.ChunkedArray):
            arrays.append(value.cast(type_))
        elif isinstance(value, np.ndarray):
            arrays.append(pa.array(value, type=type_) if value.dtype != object else pa.array(list(value), type=type_))
        else:
            arrays.append(pa.repeat(pa.scalar(value, type_), n) if value is not None else pa.nulls(n, type_))
    return pa.Table.from_arrays(arrays, names=list(columns))
