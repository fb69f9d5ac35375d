"""Writes a case: batches in, typed Parquet out, atomically, in bounded memory.

Every batch is conformed to the explicit schema (missing columns become NULL, types are cast, never inferred) and
gets event ids from one counter. Rows are buffered only up to one row group, so memory does not grow with the
input. A file is written to a temporary sibling and moved into place with `os.replace` when it is complete, so a
crash or kill leaves the old case or the new one, never half a file. A partitioned (hive) case writes one part per
host at a time under `host=<name>/`, each part atomic in the same way.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from swk.store import manifest as mf
from swk.store.reject import Reject
from swk.store.schema import EVENTS, META_MANIFEST, SCHEMA_VERSION

ROW_GROUP_ROWS = 131_072
ROW_GROUP_BYTES = 128 << 20  # and no more than this buffered: rows carrying raw event JSON (~2 KB) stay bounded too
PART_ROWS = 8_000_000
COMBINE_BELOW = 512  # rows per buffered batch on average under which a row group is made one chunk first
COMBINE_MAX_BYTES = 32 << 20  # and only a row group this small: the copy is held beside it while it is written
DEFAULT_HOST = "unknown"
_SAFE_HOST = re.compile(r"[^A-Za-z0-9._-]")


def swk_version() -> str:
    """The installed swk version."""
    from swk import __version__

    return __version__


def host_dir(host: str) -> str:
    """The hive folder name for a host (characters outside [A-Za-z0-9._-] percent-encoded)."""
    return "host=" + _SAFE_HOST.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), host)


_FIELDS = {f.name: (i, f.type) for i, f in enumerate(EVENTS)}  # column -> (position, case type)


@functools.lru_cache(maxsize=256)
def _nulls(n: int, type_: pa.DataType) -> pa.Array:
    """An all-NULL column; cached because most columns of most batches are NULL and batch sizes repeat."""
    return pa.nulls(n, type_)


@functools.lru_cache(maxsize=16)
def _null_columns(n: int) -> tuple[tuple[pa.Array, ...], tuple[int, ...], int]:
    """Every case column all NULL for `n` rows (columns of one type share one array), their `nbytes`, and the sum:
    the start of each conformed batch, so only the columns a batch carries are looked at, not all 122."""
    arrays = tuple(_nulls(n, field.type) for field in EVENTS)
    sizes = tuple(arr.nbytes for arr in arrays)
    return arrays, sizes, sum(sizes)


def conform(batch: pa.RecordBatch | pa.Table, fill: dict[str, Any]) -> pa.RecordBatch:
    """A batch in exactly the case schema: given columns cast to their type, `fill` constants, the rest NULL."""
    return _conform(batch, fill)[0]


def _conform(batch: pa.RecordBatch | pa.Table, fill: dict[str, Any]) -> tuple[pa.RecordBatch, int]:
    """`conform`, and the result's `nbytes`, with the NULL columns' bytes taken from the cache (asking Arrow for all
    122 columns cost more than conforming). They are counted although they are shared, as they always were: the
    writer's buffer bound, and so its row groups and memory, stay what they were."""
    n = batch.num_rows
    names = batch.schema.names
    nulls, null_sizes, null_total = _null_columns(n)
    arrays = list(nulls)
    given: set[int] = set()  # positions of the columns not left NULL
    for name, arr in zip(names, batch.columns, strict=True):
        slot = _FIELDS.get(name)
        if slot is None:
            raise ValueError(f"columns not in the case schema: {sorted(set(names) - set(EVENTS.names))}")
        if isinstance(arr, pa.ChunkedArray):  # a Table's column: a batch needs one array
            arr = arr.combine_chunks()
        if arr.type != slot[1]:
            arr = arr.cast(slot[1])
        arrays[slot[0]] = arr
        given.add(slot[0])
    for name, value in fill.items():
        slot = _FIELDS.get(name)
        if slot is None:
            continue
        arr = value if isinstance(value, pa.Array) else pa.repeat(pa.scalar(value, slot[1]), n)
        if name in names:  # the reader's value wins where it has one
            arr = pc.coalesce(arrays[slot[0]], arr)
        arrays[slot[0]] = arr
        given.add(slot[0])
    nbytes = null_total + sum(arrays[i].nbytes - null_sizes[i] for i in given)
    return pa.RecordBatch.from_arrays(arrays, schema=EVENTS), nbytes


def _ids(first: int, n: int) -> pa.Array:
    """Event ids first..first+n-1 (from numpy: Arrow converting a Python range costs ~2.5 ms per 32k rows)."""
    return pa.array(np.arange(first, first + n, dtype=np.int64))


def _families(batch: pa.RecordBatch) -> dict[str, int]:
    """Rows per family of a conformed batch."""
    counts = pc.value_counts(batch.column("family"))
    return dict(zip(counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True))


# Dictionary encoding pays for every repetitive column but not for ids, clocks, offsets, frames and samples, and
# statistics only for columns queries filter on: measured on 1 M IOCTL rows this writes in 1.16 s instead of 1.9 s
# (everything dictionary-encoded, all statistics) and the file is 15 MB instead of 27 MB.
_NOT_DICTIONARY = {"event_id", "ts", "raw_clock", "source_offset", "sequence", "frames", "full_frames",
                   "deep_sample", "stack_snapshot", "registers", "fields_json", "raw_preview"}  # fmt: skip
_DICTIONARY = [f.name for f in EVENTS if f.name not in _NOT_DICTIONARY]
_STATISTICS = ["event_id", "ts", "family", "kind", "host", "actor_pid", "target_pid", "tid", "source_offset",
               "detection_name", "severity"]  # fmt: skip


class _Part:
    """One Parquet file being written to its temporary sibling by a background thread.

    pyarrow encodes and compresses without the GIL, so the next batch is decoded while this one is written. At most
    one row group is in flight, which bounds memory.
    """

    def __init__(self, final: Path, schema: pa.Schema, compression: str) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        final.parent.mkdir(parents=True, exist_ok=True)
        names = set(schema.names)
        self.writer = pq.ParquetWriter(self.tmp, schema, compression=compression, store_schema=True,
                                       use_dictionary=[c for c in _DICTIONARY if c in names],
                                       write_statistics=[c for c in _STATISTICS if c in names])  # fmt: skip
        self.rows = 0
        self.tally: dict[int, list[int]] = {}  # input index -> [written, rejected] held by this part
        self.families: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="swk-parquet")
        self._pending: Future[None] | None = None

    def count(self, families: dict[str, int], index: int) -> None:
        """Account for a batch of input `index` held by this part, given its rows per family."""
        counts = self.tally.setdefault(index, [0, 0])
        for name, n in families.items():
            if name == "reject":
                counts[1] += n
            else:
                counts[0] += n
                self.families[name] = self.families.get(name, 0) + n

    def write(self, table: pa.Table, *, combine: bool = False) -> None:
        """Write a row group on the writer thread; `combine` allows copying its batches into one chunk first."""
        self._wait()
        self._pending = self._pool.submit(self._write, table, combine)
        self.rows += table.num_rows

    def _write(self, table: pa.Table, combine: bool) -> None:
        # A row group of many small batches (a few events from each of hundreds of small logs) encodes column
        # chunk by column chunk: copied into one chunk first it writes in half the time (measured: 64-row
        # batches 0.48 s -> 0.25 s per 131,072 rows; from ~512 rows a batch it no longer pays).
        if combine and table.num_rows < COMBINE_BELOW * table.column(0).num_chunks:
            table = table.combine_chunks()
        self.writer.write_table(table, row_group_size=table.num_rows)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def commit(self, manifest: bytes) -> None:
        self._wait()
        self._pool.shutdown()
        self.writer.add_key_value_metadata({META_MANIFEST: manifest})
        self.writer.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        try:
            if self._pending is not None:
                self._pending.exception()  # let the write in flight finish before closing under it
            self._pool.shutdown()
            self.writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


class CaseWriter:
    """Streams rows and rejects into a case; use as a context manager, or call `commit()`/`abort()`."""

    def __init__(self, path: Path, *, partitioned: bool = False, command: str = "ingest",
                 default_host: str = DEFAULT_HOST, first_event_id: int = 1, compression: str = "zstd",
                 row_group_rows: int = ROW_GROUP_ROWS, part_rows: int = PART_ROWS,
                 extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.path = Path(path)
        self.partitioned = partitioned
        self.default_host = default_host
        self.compression = compression
        self.row_group_rows = row_group_rows
        self.part_rows = part_rows
        self.next_id = self.first_event_id = first_event_id
        self.inputs: list[mf.InputStats] = []
        self._input_index: dict[int, int] = {}  # id(stats) -> position: list.index compares every field of each
        self._hashes: list[Future[str] | str | None] = []
        self.families: dict[str, int] = {}  # committed rows per family
        self.seen: dict[str, int] = {}  # rows written so far per family (committed or not), for progress
        self.rejects = 0  # rejects written so far
        self._done: dict[int, list[int]] = {}  # committed [written, rejected] per input index
        self.run_id = uuid.uuid4().hex
        self.part_seq = 0
        self.meta: dict[str, Any] = {
            "command": command,
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "extra": extra or {},
        }
        self._buffers: dict[str | None, list[tuple[pa.RecordBatch, list[tuple[int, dict[str, int]]]]]] = {}
        self._buffered: dict[str | None, int] = {}
        self._buffered_bytes: dict[str | None, int] = {}
        self._parts: dict[str | None, _Part] = {}
        self._committed: list[Path] = []
        self._part_numbers: dict[str | None, int] = {}
        self._closed = False
        self._rotate_due = False
        if not partitioned and self.path.is_dir():
            raise ValueError(f"{self.path} is a directory: write a partitioned case there, or name a .parquet file")

    # -- inputs ------------------------------------------------------------------------------------------------------

    def begin_input(self, path: str, fmt: str, *, sha256: Future[str] | str | None = None, size: int | None = None,
                    host: str | None = None) -> mf.InputStats:  # fmt: skip
        """Start counting rows of a new input."""
        stats = mf.InputStats(path=path, format=fmt, size=size, host=host)
        self._input_index[id(stats)] = len(self.inputs)
        self.inputs.append(stats)
        self._hashes.append(sha256)
        return stats

    @property
    def current(self) -> mf.InputStats:
        """The input being written."""
        if not self.inputs:
            raise RuntimeError("begin_input() first")
        return self.inputs[-1]

    def set_clock(self, clock: dict[str, Any]) -> None:
        """Record how this run's times were derived (QPC frequency, boot time)."""
        self.meta["clock"] = clock

    # -- rows --------------------------------------------------------------------------------------------------------

    def write(self, batch: pa.RecordBatch | pa.Table, stats: mf.InputStats | None = None) -> None:
        """Append decoded rows of the current input (or of `stats`, when inputs interleave as in a live capture)."""
        n = batch.num_rows
        if n == 0:
            return
        stats = stats or self.current
        ids = _ids(self.next_id, n)
        fill: dict[str, Any] = {
            "event_id": ids,
            "source_file": stats.path,
            "source_format": stats.format,
            "host": stats.host or self.default_host,
        }
        out, nbytes = _conform(batch, fill)
        counts = [self._written(stats, self.next_id, out)]
        self.next_id += n
        self._route(out, counts, nbytes)

    def write_spans(self, batch: pa.RecordBatch, spans: list[tuple[mf.InputStats, int]]) -> None:
        """Append decoded rows of several inputs at once: `spans` gives each input and how many of the rows, in
        order. One conformed batch instead of one per input: small inputs (a few dozen Windows events each) cost
        what the conversion of their batch costs, not their rows."""
        if len(spans) == 1 and spans[0][1] == batch.num_rows:
            self.write(batch, spans[0][0])
            return
        if len(spans) == 1 or self.partitioned:  # a partitioned case routes by host: one input at a time
            start = 0
            for stats, n in spans:
                self.write(batch.slice(start, n), stats)
                start += n
            return
        sizes = np.array([n for _stats, n in spans], dtype=np.int64)
        which = pa.array(np.repeat(np.arange(len(spans)), sizes))
        first = self.next_id
        fill: dict[str, Any] = {
            "event_id": _ids(first, batch.num_rows),
            "source_file": pa.array([s.path for s, _n in spans], type=pa.string()).take(which),
            "source_format": pa.array([s.format for s, _n in spans], type=pa.string()).take(which),
            "host": pa.array([s.host or self.default_host for s, _n in spans], type=pa.string()).take(which),
        }
        out, nbytes = _conform(batch, fill)
        counts = []
        start = 0
        for stats, n in spans:
            if n:
                counts.append(self._written(stats, first + start, out.slice(start, n)))
                start += n
        self.next_id += batch.num_rows
        self._route(out, counts, nbytes)

    def _written(self, stats: mf.InputStats, first: int, rows: pa.RecordBatch) -> tuple[int, dict[str, int]]:
        """Count conformed `rows` of input `stats`, event ids from `first`, as written; returns the input's index and
        the rows per family, for the part that will hold them."""
        if stats.first_event_id is None:
            stats.first_event_id = first
        stats.last_event_id = first + rows.num_rows - 1
        stats.written += rows.num_rows
        families = _families(rows)
        for fam, count in families.items():
            self.seen[fam] = self.seen.get(fam, 0) + count
        return self._input_index[id(stats)], families

    def reject(self, rej: Reject, stats: mf.InputStats | None = None) -> None:
        """Keep a rejected record of the current input (or of `stats`) as a `reject` row."""
        stats = stats or self.current
        row = {
            "family": "reject",
            "kind": f"{stats.format}:reject",
            "source_offset": rej.offset,
            "reject_reason": rej.reason,
            "raw_preview": rej.preview(),
            "raw_length": rej.length if rej.length is not None else len(rej.raw),
        }
        batch = pa.RecordBatch.from_pylist([row], schema=pa.schema([EVENTS.field(k) for k in row]))
        ids = pa.array([self.next_id], type=pa.int64())
        out, nbytes = _conform(batch, {"event_id": ids, "source_file": stats.path, "source_format": stats.format,
                                       "host": stats.host or self.default_host})  # fmt: skip
        if stats.first_event_id is None:
            stats.first_event_id = self.next_id
        stats.last_event_id = self.next_id
        self.next_id += 1
        stats.rejected += 1
        self.rejects += 1
        self._route(out, [(self._input_index[id(stats)], {"reject": 1})], nbytes)

    def _route(self, batch: pa.RecordBatch, counts: list[tuple[int, dict[str, int]]], nbytes: int) -> None:
        """Buffer a conformed batch; `counts` gives its rows per family for each input it holds."""
        if not self.partitioned:
            self._buffer(None, batch, counts, nbytes)
            return
        self._route_hosts(batch, counts, nbytes)
        if self._rotate_due:
            self._rotate_due = False
            self.rotate()

    def _route_hosts(self, batch: pa.RecordBatch, counts: list[tuple[int, dict[str, int]]], nbytes: int) -> None:
        hosts = batch.column("host")
        distinct = pc.unique(hosts).to_pylist()
        if len(distinct) == 1:
            self._buffer(distinct[0], batch, counts, nbytes)
            return
        ((index, _families_of_all),) = counts  # write_spans gives a partitioned case one input at a time
        for host in distinct:
            part = batch.filter(pc.equal(hosts, host))
            self._buffer(host, part, [(index, _families(part))], part.nbytes)

    def _buffer(self, key: str | None, batch: pa.RecordBatch, counts: list[tuple[int, dict[str, int]]],
                nbytes: int) -> None:  # fmt: skip
        self._buffers.setdefault(key, []).append((batch, counts))
        self._buffered[key] = self._buffered.get(key, 0) + batch.num_rows
        self._buffered_bytes[key] = self._buffered_bytes.get(key, 0) + nbytes
        if self._buffered[key] >= self.row_group_rows or self._buffered_bytes[key] >= ROW_GROUP_BYTES:
            self._flush(key)

    def _flush(self, key: str | None) -> None:
        batches = self._buffers.pop(key, [])
        self._buffered.pop(key, None)
        nbytes = self._buffered_bytes.pop(key, 0)
        if not batches:
            return
        table = pa.Table.from_batches([b for b, _counts in batches], schema=EVENTS)
        part = self._parts.get(key)
        if part is None:
            part = self._parts[key] = self._open_part(key)
        for _batch, counts in batches:
            for index, families in counts:
                part.count(families, index)
        if self.partitioned:
            table = table.drop_columns(["host"])  # the partition folder carries it
        part.write(table, combine=nbytes <= COMBINE_MAX_BYTES)
        if self.partitioned and part.rows >= self.part_rows:
            self._rotate_due = True  # close every host's part together, so parts stay about the same age

    def _open_part(self, key: str | None) -> _Part:
        if not self.partitioned:
            return _Part(self.path, EVENTS, self.compression)
        number = self._part_numbers.get(key, 0)
        self._part_numbers[key] = number + 1
        final = self.path / host_dir(key or self.default_host) / f"part-{self.run_id[:12]}-{number:05d}.parquet"
        return _Part(final, EVENTS.remove(EVENTS.get_field_index("host")), self.compression)

    def _close_part(self, key: str | None) -> None:
        part = self._parts.pop(key)
        self.part_seq += 1
        # A part's manifest lists the part itself and counts only committed rows (its own included), so whichever
        # part a reader stops at after a crash, the manifest it reads matches the parts that exist.
        self._committed.append(part.final)
        self._add(part, 1)
        try:
            part.commit(mf.encode(self.manifest()))
        except BaseException:
            self._committed.pop()
            self._add(part, -1)
            raise

    def _add(self, part: _Part, sign: int) -> None:
        for index, (written, rejected) in part.tally.items():
            done = self._done.setdefault(index, [0, 0])
            done[0] += sign * written
            done[1] += sign * rejected
        for fam, n in part.families.items():
            self.families[fam] = self.families.get(fam, 0) + sign * n

    def rotate(self) -> list[Path]:
        """Close every open part now (a partitioned case); the next rows start new parts. Returns closed parts."""
        before = len(self._committed)
        for key in list(self._buffers):
            self._flush(key)
        for key in list(self._parts):
            self._close_part(key)
        return self._committed[before:]

    # -- finish ------------------------------------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """The run's manifest as it stands."""
        for stats, digest in zip(self.inputs, self._hashes, strict=True):
            if stats.sha256 is None and digest is not None:
                stats.sha256 = digest.result() if isinstance(digest, Future) else digest
        return {
            "schema_version": SCHEMA_VERSION,
            "swk_version": swk_version(),
            "run_id": self.run_id,
            "part_seq": self.part_seq,
            "parts": [str(p.relative_to(self.path)) if self.partitioned else p.name for p in self._committed],
            **self.meta,
            "inputs": [self._committed_stats(i, s) for i, s in enumerate(self.inputs)],
            "rows": sum(w for w, _ in self._done.values()),
            "rejects": sum(r for _, r in self._done.values()),
            "families": {k: v for k, v in sorted(self.families.items()) if v},
            "event_id_range": [self.first_event_id, self.next_id - 1],
        }

    def _committed_stats(self, index: int, stats: mf.InputStats) -> dict[str, Any]:
        written, rejected = self._done.get(index, [0, 0])
        out = stats.to_json()
        out.update(written=written, rejected=rejected, read=written + rejected)
        return out

    def commit(self) -> dict[str, Any]:
        """Flush, close and move every part into place; returns the final manifest."""
        if self._closed:
            raise RuntimeError("case already closed")
        for key in list(self._buffers):
            self._flush(key)
        if not self._parts and not self._committed:
            key = None if not self.partitioned else self.default_host
            self._parts[key] = self._open_part(key)  # an empty input still makes a (valid, empty) case
        for key in list(self._parts):
            self._close_part(key)
        self._closed = True
        return self.manifest()

    def abort(self) -> None:
        """Drop every part not yet committed; committed parts and any old case stay as they were."""
        if self._closed:
            return
        self._closed = True
        for part in self._parts.values():
            part.abort()
        self._parts.clear()
        self._buffers.clear()

    def __enter__(self) -> CaseWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if exc_type is None:
            self.commit()
        else:
            self.abort()
