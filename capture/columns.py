"""Vectorised builders from fixed-size numpy fields to Arrow columns of the case schema.

Binary readers view a whole chunk of records as a numpy structured array; these helpers turn its fixed arrays
(WCHAR[260] paths, u64[8] frames, u8[64] samples) into Arrow columns without a per-record Python loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.store.schema import FRAME


def as_i64(values: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit values as the schema's BIGINT (same bits), contiguous."""
    return np.ascontiguousarray(values).view(np.int64) if values.dtype.itemsize == 8 else values.astype(np.int64)


def column(values: np.ndarray, valid: np.ndarray | None, type_: pa.DataType) -> pa.Array:
    """An Arrow column from numpy values, NULL where `valid` is False."""
    values = np.ascontiguousarray(values)
    if valid is None or valid.all():
        return pa.array(values, type=type_)
    return pa.array(values, type=type_, mask=~valid)


def frames(addresses: np.ndarray, counts: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """list<FRAME> from an (n, k) u64 array and per-row counts (counts are clipped to k)."""
    n, k = addresses.shape
    counts = np.minimum(counts.astype(np.int64), k)
    if valid is not None:
        counts = np.where(valid, counts, 0)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    keep = np.arange(k)[None, :] < counts[:, None]
    flat = np.ascontiguousarray(addresses)[keep].view(np.int64)
    m = len(flat)
    struct = pa.StructArray.from_arrays(
        [pa.array(flat, type=pa.int64()), pa.nulls(m, pa.string()), pa.nulls(m, pa.int64())],
        fields=list(FRAME),
    )
    mask = None if valid is None or valid.all() else pa.array(~valid)
    return pa.ListArray.from_arrays(pa.array(offsets), struct, type=pa.list_(FRAME), mask=mask)


def counted_binary(data: np.ndarray, sizes: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """binary from an (n, k) u8 array holding `sizes[i]` meaningful bytes per row."""
    n, k = data.shape
    sizes = np.minimum(sizes.astype(np.int64), k)
    if valid is not None:
        sizes = np.where(valid, sizes, 0)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    keep = np.arange(k)[None, :] < sizes[:, None]
    flat = np.ascontiguousarray(data)[keep]
    validity = None if valid is None or valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(flat.tobytes())])


def unterminated(chars: np.ndarray) -> np.ndarray:
    """Rows of an (n, k) u16 array with no NUL code unit (only rows whose last unit is non-zero are scanned)."""
    out = np.zeros(len(chars), dtype=bool)
    suspects = np.flatnonzero(chars[:, -1] != 0)
    if len(suspects):
        out[suspects] = ~(chars[suspects] == 0).any(axis=1)
    return out


def utf16_fixed(chars: np.ndarray, valid: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
    """Strings from an (n, k) u16 array of NUL-terminated UTF-16LE; also a mask of rows with no terminator.

    Rows repeat heavily (a handful of origin paths across millions of records), so each distinct row is decoded
    once: Arrow dictionary-encodes the rows as fixed-size binary values (its hash table compares whole values, so
    rows are grouped exactly, whatever an attacker puts in a path), and only the dictionary is decoded, up to each
    value's NUL. Unpaired surrogates decode to U+FFFD. This is 2-5x faster than hashing rows in numpy.
    """
    n, k = chars.shape
    if n == 0:
        return pa.array([], type=pa.string()), np.zeros(0, dtype=bool)
    raw = np.ascontiguousarray(chars, dtype=np.uint16)  # the rows are strided views into the records
    rows = pa.FixedSizeBinaryArray.from_buffers(pa.binary(2 * k), n, [None, pa.py_buffer(raw)])
    encoded = pc.dictionary_encode(rows)
    values = encoded.dictionary
    distinct = np.frombuffer(values.buffers()[1], dtype=np.uint16, count=len(values) * k, offset=values.offset * 2 * k)
    texts, open_ended = _decode_rows(distinct.reshape(-1, k), np.arange(len(values)), k)
    out = pa.array(texts, type=pa.string()).take(encoded.indices)
    no_nul = open_ended[encoded.indices.to_numpy()]
    if valid is not None and not valid.all():
        out = pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string()))
        no_nul &= valid
    return out, no_nul


def _decode_rows(raw: np.ndarray, rows: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
    texts = []
    open_ended = np.zeros(len(rows), dtype=bool)
    for j, i in enumerate(rows):
        units = raw[i, :k]
        nul = np.flatnonzero(units == 0)
        end = int(nul[0]) if len(nul) else k
        open_ended[j] = not len(nul)
        texts.append(units[:end].tobytes().decode("utf-16-le", errors="replace"))
    return texts, open_ended


def constant(value: object, n: int, type_: pa.DataType) -> pa.Array:
    """A column of one repeated value."""
    return pa.array([value], type=type_).take(pa.array(np.zeros(n, dtype=np.int64)))
