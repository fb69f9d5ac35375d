"""A chunk of buffers through a `rows.Batch`: Sleepwalker events decoded a family at a time (`vector`), TI events
of fixed-size templates a template at a time (`tirows`), everything else one record at a time (`Batch.add`).

The output is `reader.read_records`'s, item for item: the same rows in the same batches, the same rejects at the
same offsets and in the same order, the same warnings. That holds because of three rules:

- Schemas are resolved in file order before anything is decoded (a family's rows are built in the order families
  were first resolved), and every region a Sleepwalker family resolves to is remembered for matching later chunks.
- The buffers are then replayed in order: records decoded together join their family (or, for TI, the other
  rows) as a `Slice` of the chunk's columns; everything else, and every event the vectorised decoders flagged,
  goes through `Batch.add` at its place (the scalar decoder gives the reject and its message).
- A batch is built after the buffer that brings it to `BATCH_RECORDS` rows, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from swk.capture.etl import container, layout, scan, sleepwalker, ti, tirows, vector
from swk.capture.etl.rows import DECODE_ERRORS, Batch, Slice
from swk.store.reject import Reject

BATCH_RECORDS = 65_536
_EXT = layout.EVENT_HEADER_SIZE  # the extended data region starts right after the EVENT_HEADER


class Known:
    """What a read learns as it goes: the extended data regions (with provider GUID and header type) that resolved
    to a Sleepwalker family, and what each string field looks like (`vector.Strings`)."""

    def __init__(self) -> None:
        self.by_length: dict[int, list[tuple[bytes, int, int, int, str]]] = {}
        self._keys: set[tuple[bytes, bytes, int]] = set()
        self.strings: dict[tuple[int, int], vector.Strings] = {}  # per string field of a schema (`vector.decode`)

    def add(self, region: bytes, guid: bytes, htype: int, event_name: str) -> None:
        """Remember a region (bounded like the walk's own cache)."""
        if (region, guid, htype) in self._keys or len(self._keys) >= container.SEEN_LIMIT:
            return
        self._keys.add((region, guid, htype))
        g = np.frombuffer(guid, dtype="<u8")
        self.by_length.setdefault(len(region), []).append((region, int(g[0]), int(g[1]), htype, event_name))


def run(buffers: list[tuple[int, bytes | memoryview]], batch: Batch, seen: dict[bytes, list[bytes]], known: Known,
        advance: Callable[[int], None],
        batch_records: int = BATCH_RECORDS) -> Iterator[pa.RecordBatch | Reject]:  # fmt: skip
    """Decode `buffers` (file offset, bytes) into `batch`, yielding rejects and every batch of `batch_records`."""
    if not buffers:
        return
    ch = scan.chunk(buffers)
    names: list[str] = []
    code = _match(ch, known, names)
    walked = _resolve(ch, batch, seen, known, code, names)
    decoded = [_family(ch, batch, known, name, np.flatnonzero(code == c)) for c, name in enumerate(names)]
    threat = _threat_intel(ch, batch, code)
    per_buffer = _by_buffer(ch, code, decoded, threat)
    for b in range(len(buffers)):
        if ch.slow[b]:
            yield from batch.add_walked(*walked[b])
        else:
            yield from _replay(ch, batch, names, decoded, threat, *per_buffer[b])
        if batch.size >= batch_records:
            yield from batch.build()
            advance(ch.offsets[b] + len(ch.datas[b]))


def _match(ch: scan.Chunk, known: Known, names: list[str]) -> np.ndarray:
    """Family code (index into `names`) of every record whose region, GUID and header type are known; else -1.

    Every byte of a record's region is compared with the known one: the regions of one length are gathered into
    rows and compared as 64-bit words (regions are 8-aligned, whole items).
    """
    code = np.full(len(ch.pos), -1, dtype=np.int64)
    length = ch.user - ch.pos - _EXT
    for size in np.unique(length[length > 0]).tolist():
        candidates = known.by_length.get(size)
        if not candidates:
            continue
        rows = np.flatnonzero(length == size)
        p = ch.pos[rows]
        regions = vector.gather(ch.u8, p + _EXT, size).view(np.uint64)
        g0, g1, htypes = ch.words[(p + 24) >> 3], ch.words[(p + 32) >> 3], ch.u8[p + 2]
        for region, r0, r1, htype, name in candidates:
            same = (regions == np.frombuffer(region, dtype=np.uint64)).all(axis=1)
            same &= (g0 == r0) & (g1 == r1) & (htypes == htype) & (code[rows] == -1)
            if same.any():
                code[rows[same]] = _code(names, name)
    return code


def _code(names: list[str], name: str) -> int:
    if name not in names:
        names.append(name)
    return names.index(name)


def _resolve(ch: scan.Chunk, batch: Batch, seen: dict[bytes, list[bytes]], known: Known, code: np.ndarray,
             names: list[str]) -> dict[int, tuple[list[tuple], Reject | None]]:  # fmt: skip
    """Walk the slow buffers and resolve every region not matched yet, in file order; returns the walks."""
    walked: dict[int, tuple[list[tuple], Reject | None]] = {}
    pending = np.flatnonzero((ch.user - ch.pos > _EXT) & (code == -1))
    todo = sorted([(b, -1) for b in np.flatnonzero(ch.slow).tolist()]
                  + list(zip(ch.buffer[pending].tolist(), pending.tolist(), strict=True)))  # fmt: skip
    data = ch.data
    for b, i in todo:
        if i < 0:
            walked[b] = container.walk(bytes(ch.datas[b]), ch.offsets[b], seen)
            for rec in walked[b][0]:
                if rec[0] == container.EVENT and rec[3]:
                    _target(batch, rec[3], rec[2][24:40], rec[2][2])
            continue
        p, u = int(ch.pos[i]), int(ch.user[i])
        region, guid, htype = bytes(data[p + _EXT : u]), bytes(data[p + 24 : p + 40]), data[p + 2]
        target = _target(batch, region, guid, htype)
        if target is not None and target[6] is not None:
            code[i] = _code(names, target[0].event_name)
            known.add(region, guid, htype, target[0].event_name)
    return walked


def _target(batch: Batch, region: bytes, guid: bytes, htype: int) -> list | None:
    try:
        return batch.target(region, guid, htype)
    except DECODE_ERRORS:
        return None  # the record's own `Batch.add` raises it again and rejects the record


def _family(ch: scan.Chunk, batch: Batch, known: Known, name: str,
            rows: np.ndarray) -> tuple[np.ndarray, dict, np.ndarray]:  # fmt: skip
    """(rows that decoded, their columns, rows flagged for the scalar decoder) of one family's records."""
    fam = sleepwalker.FAMILIES[name]
    raw, ok = vector.decode(ch.u8, ch.data, batch.segments(name), ch.user[rows], ch.stop[rows], known.strings)
    good = rows[ok]
    cols = sleepwalker.columns(fam, raw, len(good))
    p = ch.pos[good]
    ids, stamps = ch.words[(p + 8) >> 3], ch.words[(p + 16) >> 3].view(np.int64)
    cols.update(batch.header_columns(stamps, ids >> 32, ids & 0xFFFFFFFF, ch.file_offset(p, ch.buffer[good])))
    return good, cols, rows[~ok]


_TI_GUID = np.frombuffer(ti.GUID_BYTES, dtype="<u8")
_TI = -2  # family code of the TI events `tirows` decoded


def _threat_intel(ch: scan.Chunk, batch: Batch, code: np.ndarray) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """(records decoded, their columns in record order) of the TI events of fixed-size templates; codes them _TI.

    Only events without extended data: `Batch._event` sends exactly those (of the TI provider) to `Batch._ti`.
    """
    rows = np.flatnonzero((code == -1) & (ch.user == ch.pos + _EXT))
    p = ch.pos[rows]
    rows = rows[(ch.words[(p + 24) >> 3] == _TI_GUID[0]) & (ch.words[(p + 32) >> 3] == _TI_GUID[1])]
    p = ch.pos[rows]
    desc = ch.words[(p + 40) >> 3]
    # EVENT_DESCRIPTOR Id (bits 0-15), Version (16-23) and Task (48-63), and the header type: one template each
    group = (desc & 0xFF_FFFF) | (desc >> 48) << 24 | ch.u8[p + 2].astype(np.uint64) << 40
    goods, parts = [], []
    for key in np.unique(group).tolist():
        event_id, version, task, htype = key & 0xFFFF, (key >> 16) & 0xFF, (key >> 24) & 0xFFFF, key >> 40
        found = tirows.plan(event_id, version, 8 if htype == layout.HeaderType.EVENT_HEADER64 else 4)
        if found is None:
            continue
        good, cols, _flagged = tirows.decode(ch, rows[group == key], batch.log, found, event_id, version, task)
        code[good] = _TI
        goods.append(good)
        parts.append(cols)
    if not goods:
        return np.zeros(0, dtype=np.int64), {}
    if len(goods) == 1:
        return goods[0], parts[0]
    good = np.concatenate(goods)
    order = pa.array(np.argsort(good, kind="stable"))
    return good[order.to_numpy()], {k: pa.concat_arrays([c[k] for c in parts]).take(order) for k in parts[0]}


def _by_buffer(ch: scan.Chunk, code: np.ndarray, decoded: list, threat: tuple) -> list[tuple]:
    """Per buffer: (records for `Batch.add` with their family code or -1, per family the rows decoded, and the
    range of TI rows decoded)."""
    count = len(ch.offsets)
    one_by_one: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    for i in np.flatnonzero(code == -1).tolist():
        one_by_one[int(ch.buffer[i])].append((i, -1))
    for c, (_good, _cols, flagged) in enumerate(decoded):
        for i in flagged.tolist():
            one_by_one[int(ch.buffer[i])].append((i, c))
    bounds = [np.searchsorted(ch.buffer[good], np.arange(count + 1)).tolist() for good, _cols, _f in decoded]
    ti_bounds = np.searchsorted(ch.buffer[threat[0]], np.arange(count + 1)).tolist()
    out = []
    for b in range(count):
        spans = [(c, bounds[c][b], bounds[c][b + 1]) for c in range(len(decoded)) if bounds[c][b] < bounds[c][b + 1]]
        out.append((sorted(one_by_one[b]), spans, ti_bounds[b], ti_bounds[b + 1]))
    return out


def _replay(ch: scan.Chunk, batch: Batch, names: list[str], decoded: list, threat: tuple,
            singles: list[tuple[int, int]], spans: list[tuple[int, int, int]], ti_start: int,
            ti_stop: int) -> Iterator[Reject]:  # fmt: skip
    """One fast buffer into the batch, in record order."""
    cursor = {c: start for c, start, _stop in spans}
    stops = {c: stop for c, _start, stop in spans}
    for i, c in singles:
        if ti_start < ti_stop:  # the TI rows before this record go first (both land in `batch.dicts`)
            split = min(int(np.searchsorted(threat[0], i)), ti_stop)
            if split > ti_start:
                batch.dicts.append(Slice(threat[1], ti_start, split))
                batch.size += split - ti_start
                ti_start = split
        if c >= 0 and c in cursor:  # the family's decoded rows before this one go first
            split = int(np.searchsorted(decoded[c][0], i))
            if split > cursor[c]:
                batch.families[names[c]].append(Slice(decoded[c][1], cursor[c], split))
                batch.size += split - cursor[c]
                cursor[c] = split
        rejected = batch.add(_record(ch, i))
        if rejected is not None:
            yield rejected
    for c, start in cursor.items():
        if stops[c] > start:
            batch.families[names[c]].append(Slice(decoded[c][1], start, stops[c]))
            batch.size += stops[c] - start
    if ti_stop > ti_start:
        batch.dicts.append(Slice(threat[1], ti_start, ti_stop))
        batch.size += ti_stop - ti_start


def _record(ch: scan.Chunk, i: int) -> tuple:
    """The `container.walk` tuple of record `i`."""
    p, u, stop, b = int(ch.pos[i]), int(ch.user[i]), int(ch.stop[i]), int(ch.buffer[i])
    data = ch.data
    offset = ch.offsets[b] + p - int(ch.bases[b])
    return (container.EVENT, offset, bytes(data[p : p + _EXT]), bytes(data[p + _EXT : u]), bytes(data[u:stop]))
