"""Record boundaries of many buffers at once: the walk of `container.walk`, one numpy step per record *rank*.

Records inside a buffer chain (each one's size says where the next starts), but buffers are independent, so the
walk advances every buffer of a chunk together: step k finds the k-th record of all of them (about a hundred steps
for a chunk of 64 KB buffers, whatever the number of buffers). Buffers are laid out at 8-aligned offsets of one
array, so record starts and extended data items (8-aligned in the format) are read as whole little-endian words.

Only the common shape is handled here: EVENT_HEADER records, extended data chains that hold together, and
padding. A buffer with anything else (the logfile header, kernel or classic records, a record that runs past its
buffer, stray bytes after the last record) is marked `slow` and left to `container.walk`, which rejects damage
with its offset and message; nothing is judged here that `walk` would judge differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swk.capture.etl import container, layout

SLACK = container.BLOCK_TAIL  # zero bytes after the last buffer, so fixed-width windows never index past the array
# MarkerFlags 0xC0 and header type 0x12 or 0x13 as the marker's upper half reads with bit 0 set.
_EVENT_MARKER = layout.MARKER_FLAGS << 8 | layout.HeaderType.EVENT_HEADER64
assert layout.HeaderType.EVENT_HEADER32 | 1 == layout.HeaderType.EVENT_HEADER64


@dataclass
class Chunk:
    """Consecutive buffers copied into one array (each at an 8-aligned base), and the EVENT records found in them."""

    offsets: list[int]  # file offset of each buffer
    datas: list[bytes | memoryview]  # each buffer as `container.buffers` gave it (header + records)
    data: bytearray  # the buffers laid out, then SLACK zero bytes
    u8: np.ndarray  # `data` as bytes
    words: np.ndarray  # `data` as little-endian u64 words
    bases: np.ndarray  # int64 start of each buffer in `data`
    slow: np.ndarray  # bool per buffer: to be walked record by record by `container.walk`
    pos: np.ndarray  # int64 start of every EVENT record of the other buffers, in file order
    buffer: np.ndarray  # int64 buffer index of each record
    user: np.ndarray  # int64 start of each record's user data (after its extended data region)
    stop: np.ndarray  # int64 end of each record

    def file_offset(self, pos: np.ndarray, buffer: np.ndarray) -> np.ndarray:
        """File offsets of chunk positions (as `walk` reports them: buffer offset + position in the buffer)."""
        return np.asarray(self.offsets, dtype=np.int64)[buffer] + (pos - self.bases[buffer])


def chunk(buffers: list[tuple[int, bytes | memoryview]]) -> Chunk:
    """The buffers in one array (the block they were read into, else a copy) and the EVENT records of every buffer
    that has only the common shape."""
    sizes = np.array([len(d) for _, d in buffers], dtype=np.int64)
    data, bases = _in_place(buffers)
    if data is None:
        bases = np.zeros(len(buffers), dtype=np.int64)
        np.cumsum((sizes[:-1] + 7) & ~7, out=bases[1:])
        end = int(bases[-1] + sizes[-1]) if len(buffers) else 0
        data = bytearray(((end + 7) & ~7) + SLACK)
        for base, (_, d) in zip(bases.tolist(), buffers, strict=True):
            data[base : base + len(d)] = d
    u8 = np.frombuffer(data, dtype=np.uint8)
    words = u8.view("<u8")
    slow = np.zeros(len(buffers), dtype=bool)
    pos, buffer, size, flags = _walk(data, words, bases, bases + sizes, slow)
    user, stop = _extended(words, pos, size, flags, buffer, slow)
    fast = ~slow[buffer]
    return Chunk([o for o, _ in buffers], [d for _, d in buffers], data, u8, words, bases, slow, pos[fast],
                 buffer[fast], user[fast], stop[fast])  # fmt: skip


def _in_place(buffers: list[tuple[int, bytes | memoryview]]) -> tuple[bytearray | None, np.ndarray]:
    """(block, where each buffer starts in it) when all the buffers are views of one block `container.buffers` read
    (8-aligned, with its zero tail after them); else (None, ...) and they are copied."""
    block = buffers[0][1].obj if buffers and isinstance(buffers[0][1], memoryview) else None
    if not isinstance(block, bytearray) or len(block) % 8:
        return None, np.zeros(0, dtype=np.int64)
    if not all(isinstance(d, memoryview) and d.obj is block for _, d in buffers):
        return None, np.zeros(0, dtype=np.int64)
    origin = np.frombuffer(block, dtype=np.uint8).ctypes.data
    bases = np.array([np.frombuffer(d, dtype=np.uint8).ctypes.data - origin for _, d in buffers], dtype=np.int64)
    if (bases % 8).any() or int(bases[-1]) + len(buffers[-1][1]) + SLACK > len(block):
        return None, np.zeros(0, dtype=np.int64)
    return block, bases


def _walk(data: bytearray, words: np.ndarray, bases: np.ndarray, ends: np.ndarray,
          slow: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
    """(start, buffer, size, header flags) of every EVENT record, in file order; marks buffers `walk` must see."""
    cur = bases + layout.BUFFER_HEADER_SIZE
    alive = np.flatnonzero(~slow)
    found: list[tuple[np.ndarray, ...]] = []
    finished: list[tuple[np.ndarray, np.ndarray]] = []  # (buffer, where its records stopped)
    while alive.size:
        p, e = cur[alive], ends[alive]
        w = words[p >> 3]
        size = (w & 0xFFFF).astype(np.int64)
        nxt = p + size
        # Marker 0xC0 with header type 0x12 or 0x13 (bit 0 is the only difference), a size that fits its buffer.
        marker = ((w >> 16) & 0xFFFF) | 1
        good = (marker == _EVENT_MARKER) & (size >= layout.EVENT_HEADER_SIZE) & (nxt <= e)
        if not good.all():  # some buffer is out of records, padded, or not of the common shape
            more = p + 4 <= e
            low = w & 0xFFFFFFFF
            padding = more & ~good & ((low == 0xFFFFFFFF) | (low == 0))
            slow[alive[more & ~good & ~padding]] = True
            stopped = ~more | padding
            if stopped.any():
                finished.append((alive[stopped], p[stopped]))
            p, size, nxt, w, alive = p[good], size[good], nxt[good], w[good], alive[good]
        found.append((p, alive, size, w))
        cur[alive] = (nxt + 7) & ~7
    for buffers, stops in finished:  # bytes after the last record: `walk` rejects anything but 0x00/0xFF there
        for b, p in zip(buffers.tolist(), stops.tolist(), strict=True):
            if p < ends[b] and data[p : ends[b]].strip(b"\x00\xff"):
                slow[b] = True
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    pos, buffer, size, head = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.argsort(pos, kind="stable")
    return pos[order], buffer[order], size[order], ((head[order] >> 32) & 0xFFFF).astype(np.int64)


def _extended(words: np.ndarray, pos: np.ndarray, size: np.ndarray, flags: np.ndarray, buffer: np.ndarray,
              slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Start of each record's user data after its extended data items; marks buffers whose chain does not hold."""
    stop = pos + size
    user = pos + layout.EVENT_HEADER_SIZE
    todo = np.flatnonzero(flags & layout.EventFlag.EXTENDED_INFO)
    while todo.size:
        q, end = user[todo], stop[todo]
        fits = q + layout.EXT_ITEM_SIZE <= end
        w = words[np.where(fits, q, 0) >> 3]
        isize = (w & 0xFFFF).astype(np.int64)
        dsize = (w >> 48).astype(np.int64)
        ok = fits & (isize >= layout.EXT_ITEM_SIZE + dsize) & (isize % 8 == 0) & (q + isize <= end)
        slow[buffer[todo[~ok]]] = True
        user[todo[ok]] = q[ok] + isize[ok]
        todo = todo[ok & ((w >> 32) & 1 == 1)]
    return user, stop
