"""Vectorised builders from fixed-size numpy fields to Arrow columns of the case schema.

Binary readers view a whole chunk of records as a numpy structured array; these helpers turn its fixed arrays
(WCHAR[260] paths, u64[8] frames, u8[64] samples) into Arrow columns without a per-record Python loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.store.schema import FRAME

# Random odd multipliers for row hashing, drawn per process: paths are attacker-controlled, and fixed public
# constants would let someone craft two paths that hash alike (every row is still compared with its representative).
_MULTIPLIERS = np.random.default_rng().integers(1, 2**63, size=2048, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


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
    once: rows are hashed as 64-bit words, one representative per hash is decoded up to its NUL, and every row is
    compared with its representative so a hash collision cannot put the wrong path on a row. Unpaired surrogates
    decode to U+FFFD.
    """
    n, k = chars.shape
    if n == 0:
        return pa.array([], type=pa.string()), np.zeros(0, dtype=bool)
    raw = chars if chars.strides[1] == 2 and k % 4 == 0 else np.ascontiguousarray(chars, dtype=np.uint16)
    if (-k) % 4:
        raw = np.pad(raw, ((0, 0), (0, (-k) % 4)))
    words = raw.view(np.uint64)  # a view of the records' bytes where they allow it: no copy
    hashes = words @ _MULTIPLIERS[: words.shape[1]]  # integer matmul wraps mod 2**64, and is 6x faster than * + sum
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    same = (words == words[first][inverse]).all(axis=1)
    texts, open_ended = _decode_rows(raw, first, k)
    out = pa.array(texts, type=pa.string()).take(pa.array(inverse.astype(np.int64)))
    no_nul = open_ended[inverse]
    if not same.all():  # a collision: decode the disagreeing rows on their own
        values = out.to_pylist()
        odd = np.flatnonzero(~same)
        odd_texts, odd_open = _decode_rows(raw, odd, k)
        for i, text, flag in zip(odd, odd_texts, odd_open, strict=True):
            values[i], no_nul[i] = text, flag
        out = pa.array(values, type=pa.string())
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
