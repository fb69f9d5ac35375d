"""One schema's segments (`fields.Segments`) decoded for all its events of a chunk at once, with numpy.

Events of a schema share their layout up to the strings and binary, so each part is one array operation over all
of them: a fixed run is a gather of equal-width rows viewed through its structured dtype, a string is a search for
its NUL in a window sized to the field's strings so far (then `bytes.find` for the few longer ones), binary is
its u16 count and a flat gather. Strings repeat heavily (a few class names, paths and keys): each field first
compares every event's bytes with its most frequent strings of earlier chunks, terminator included (a match
proves where the string ends and what it says), and the rest are searched and deduplicated by Arrow, each
distinct string decoded once.

The rules are the scalar segment decoder's, position for position. An event that breaks one (a fixed run or a
count past the user data, a string with no terminator) is only *flagged*: the caller hands it to the scalar
decoder, whose exception becomes the reject with its usual message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture.etl import fields as fd
from swk.capture.etl.scan import SLACK

WIDTHS = (16, 512)  # smallest and largest window searched for a string's terminator (bytes, powers of two)
CANDIDATES = 4  # most frequent strings per field compared whole before any search
CANDIDATE_SHARE = 0.05  # ... when they were at least this share of the field's strings last time
assert WIDTHS[1] <= SLACK, "a window may start at the last byte of a chunk: it has to fit the chunk's slack"


@dataclass
class Strings:
    """What one string field looked like so far: a search window and its most frequent strings."""

    width: int  # bytes searched for the terminator (held 99% of the strings last time)
    raw: list[bytes] = field(default_factory=list)  # frequent strings with their terminator, most frequent first
    texts: list[str] = field(default_factory=list)  # the same, decoded


def decode(u8: np.ndarray, data: bytearray, segments: fd.Segments, start: np.ndarray, stop: np.ndarray,
           hints: dict[tuple[int, int], Strings]) -> tuple[dict[str, object], np.ndarray]:  # fmt: skip
    """(field values of the events that decode, by name; which events decode) for user data `data[start:stop]`.

    `hints` carries what each string field of earlier chunks looked like (and is updated).
    """
    n = len(start)
    p = start.copy()
    ok = np.ones(n, dtype=bool)
    fixed: list[tuple[np.dtype, np.ndarray]] = []
    strings: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray, Strings]] = []
    binary: list[tuple[str, np.ndarray, np.ndarray]] = []
    for k, (kind, what, in_type) in enumerate(segments.parts):
        if kind == "fixed":
            ok &= p + what.itemsize <= stop  # type: ignore[union-attr]
            fixed.append((what, p))  # type: ignore[arg-type]
            p = np.where(ok, p + what.itemsize, p)  # type: ignore[union-attr]
        elif in_type in (fd.UNICODESTRING, fd.ANSISTRING):
            width = 2 if in_type == fd.UNICODESTRING else 1
            hint = hints.setdefault((id(segments), k), Strings(256 if width == 2 else 32))  # paths long, names short
            z, known = _candidates(u8, p, stop, ok, width, hint)
            todo = np.flatnonzero(ok & (known < 0))
            if todo.size:
                z[todo] = _terminator(u8, data, p, stop, todo, width, hint.width)[todo]
            ok &= z >= 0
            strings.append((what, width, p, z, known, hint))  # type: ignore[arg-type]
            hint.width = _next_width(z[ok] - p[ok] + width)
            p = np.where(ok, z + width, p)
        else:  # BINARY / COUNTEDBINARY: u16 byte count, then the bytes
            ok &= p + 2 <= stop
            count = np.where(ok, u8[p].astype(np.int64) | u8[p + 1].astype(np.int64) << 8, 0)
            ok &= p + 2 + count <= stop
            binary.append((what, p + 2, p + 2 + count))  # type: ignore[arg-type]
            p = np.where(ok, p + 2 + count, p)
    rows = np.flatnonzero(ok)
    raw: dict[str, object] = {}
    for dtype, at in fixed:
        rec = gather(u8, at[rows], dtype.itemsize).view(dtype).reshape(-1)
        for name in dtype.names or ():
            raw[name] = rec[name]
    for name, width, s, z, known, hint in strings:
        raw[name] = _texts(data, u8, s[rows], z[rows], width, known[rows], hint)
    for name, s, e in binary:
        raw[name] = _binary(u8, s[rows], e[rows])
    return raw, ok


def _candidates(u8: np.ndarray, p: np.ndarray, stop: np.ndarray, ok: np.ndarray, width: int,
                hint: Strings) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(where the string ends, which frequent string it is) for the rows whose bytes at `p` are one of the field's
    frequent strings with its terminator; -1 and -1 elsewhere. A frequent string has no terminator before its own
    (it was found by the search), so a whole match ends exactly where the scalar decoder's search would stop."""
    z = np.full(len(p), -1, dtype=np.int64)
    known = np.full(len(p), -1, dtype=np.int64)
    for c, raw in enumerate(hint.raw):
        rows = np.flatnonzero(ok & (known < 0) & (p + len(raw) <= stop))
        if not rows.size:
            break
        hit = rows[(gather(u8, p[rows], len(raw)) == np.frombuffer(raw, dtype=np.uint8)).all(axis=1)]
        known[hit] = c
        z[hit] = p[hit] + len(raw) - width
    return z, known


def _next_width(lengths: np.ndarray) -> int:
    """A power of two holding 99% of these strings with their terminator, within WIDTHS."""
    if not len(lengths):
        return 64
    counts = np.cumsum(np.bincount(np.minimum(lengths, WIDTHS[1])))
    need = int(np.searchsorted(counts, 0.99 * len(lengths)))
    return int(min(max(1 << max(need - 1, 1).bit_length(), WIDTHS[0]), WIDTHS[1]))


def gather(u8: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """`width` bytes from each position, as a C-contiguous (len(at), width) array (IndexError past the end).

    The bytes are seen as overlapping `width`-byte items, one starting at every offset, so numpy copies each row
    as one item (about twice as fast as indexing a 2-D sliding window, which copies byte by byte).
    """
    items = np.ndarray((len(u8) - width + 1,), dtype=np.dtype((np.void, width)), buffer=u8, strides=(1,))
    return items[at].view(np.uint8).reshape(len(at), width)


def _terminator(u8: np.ndarray, data: bytearray, p: np.ndarray, stop: np.ndarray, todo: np.ndarray, width: int,
                size: int) -> np.ndarray:  # fmt: skip
    """Where the string at each `p` ends: the first NUL (width 1) or the first 0x0000 code unit at an even distance
    from `p` (width 2), before `stop`; -1 when there is none. Only rows `todo` are searched: first in a window of
    `size` bytes, then with `bytes.find` as the scalar decoder does."""
    z = np.full(len(p), -1, dtype=np.int64)
    q = p[todo]
    win = gather(u8, q, size)
    hit = (win.view("<u2") if width == 2 else win) == 0
    first = hit.argmax(axis=1)
    at = first * width
    room = stop[todo] - q
    found = hit[np.arange(len(todo)), first] & (at + width <= room)
    z[todo[found]] = q[found] + at[found]
    for i in todo[~found & (room >= size + width)].tolist():  # longer than the window
        start, end = int(p[i]), int(stop[i])
        if width == 1:
            z[i] = data.find(b"\0", start + size, end)
            continue
        at_ = data.find(b"\0\0", start + size, end)
        while at_ >= 0 and (at_ - start) & 1:
            at_ = data.find(b"\0\0", at_ + 1, end)
        z[i] = at_
    return z


def _utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace")


def _texts(data: bytearray, u8: np.ndarray, s: np.ndarray, e: np.ndarray, width: int, known: np.ndarray,
           hint: Strings) -> pa.Array:  # fmt: skip
    """Strings `data[s:e]` decoded (UTF-16LE, or 8-bit text), each distinct one once; rows `known` to be one of the
    field's frequent strings take it as is. Relearns the field's frequent strings from this chunk's counts.

    The other strings are described in place as an Arrow binary_view array over the chunk (16 bytes per string:
    length, then the bytes when they fit in 12, else a 4-byte prefix and the offset), so Arrow's hash kernel finds
    the distinct ones, comparing every byte, without copying them.
    """
    decode = _utf16 if width == 2 else fd.ansi
    n = len(s)
    index = known.copy()
    texts, raws = list(hint.texts), list(hint.raw)
    rest = np.flatnonzero(known < 0)
    if rest.size:
        s, length = s[rest], (e[rest] - s[rest]).astype(np.int32)
        views = np.empty((len(rest), 4), dtype=np.int32)
        views[:, 0] = length
        head = gather(u8, s, 12) * (np.arange(12)[None, :] < length[:, None])  # inline bytes are zero-padded
        tail = head.view(np.int32)
        far = length > 12
        tail[far, 1] = 0  # data buffer 0: the chunk
        tail[far, 2] = s[far]
        views[:, 1:] = tail
        strings = pa.Array.from_buffers(pa.binary_view(), len(rest), [None, pa.py_buffer(views), pa.py_buffer(data)])
        encoded = pc.dictionary_encode(strings)
        index[rest] = encoded.indices.to_numpy() + len(texts)
        found = encoded.dictionary.to_pylist()
        texts += [decode(raw) for raw in found]
        raws += [raw + b"\0" * width for raw in found]
    counts = np.bincount(index, minlength=len(texts))
    top = [int(c) for c in np.argsort(-counts, kind="stable")[:CANDIDATES]
           if counts[c] >= CANDIDATE_SHARE * n and len(raws[c]) <= WIDTHS[1]]  # fmt: skip
    hint.raw, hint.texts = [raws[c] for c in top], [texts[c] for c in top]
    return pa.array(texts, type=pa.string()).take(pa.array(index))


def _binary(u8: np.ndarray, s: np.ndarray, e: np.ndarray) -> pa.Array:
    """Binary values `u8[s:e]` as one Arrow array (offsets and one flat copy of the bytes)."""
    length = e - s
    offsets = np.zeros(len(s) + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    flat = u8[np.arange(int(offsets[-1])) + np.repeat(s - offsets[:-1], length)]
    return pa.Array.from_buffers(pa.binary(), len(s), [None, pa.py_buffer(offsets.astype(np.int32)),
                                                       pa.py_buffer(flat.tobytes())])  # fmt: skip
