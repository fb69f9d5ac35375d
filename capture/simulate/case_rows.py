"""Read a case into the row mappings `swk.kernel.model.analyze` takes, in bounded batches.

Rows come in (ts, event_id) order within each host when the case is stored that way (every simulated case is);
otherwise they are sorted through DuckDB first. Only the columns the model reads are fetched, a row group at a time
(a dataset scan reads far ahead: 1.7 GB for a 5 M-row case instead of 0.2), and `ts` is int microseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from swk.kernel.model import COLUMNS, FAMILY_COLUMNS
from swk.kernel.model.replay import BASE_COLUMNS
from swk.store.reader import open_case

BATCH = 16_384  # rows turned into dicts at a time
COLUMN_BATCH = 65_536  # rows per column batch (the columnar replay's cost per batch is mostly fixed)


def _parts(path: str | Path) -> list[tuple[Path, str | None]]:
    """The case's files in order, with the host of a hive partition folder (None: the host is a column)."""
    case = open_case(path)
    out = []
    for file in case.files:
        host = None
        for part in file.relative_to(case.root).parts[:-1]:
            if part.startswith("host="):
                host = unquote(part[len("host=") :])
        out.append((file, host))
    return out


def _batches(path: str | Path, columns: list[str], batch_rows: int = BATCH) -> Iterator[pa.RecordBatch]:
    for file, host in _parts(path):
        reader = pq.ParquetFile(file)
        present = [c for c in columns if c in reader.schema_arrow.names]
        for batch in reader.iter_batches(columns=present, batch_size=batch_rows):
            if "ts" in present:
                batch = batch.set_column(present.index("ts"), "ts", batch.column("ts").cast(pa.int64()))
            if host is not None and "host" in columns:
                batch = batch.append_column("host", pa.repeat(pa.scalar(host), batch.num_rows))
            yield batch


def is_ordered(path: str | Path) -> bool:
    """Whether every host's rows are stored in (ts, event_id) order (rows without a time are ignored)."""
    last: dict[Any, tuple[int, int]] = {}
    for batch in _batches(path, ["host", "ts", "event_id"]):
        batch = batch.filter(pc.is_valid(batch.column("ts")))
        if not batch.num_rows:
            continue
        hosts = batch.column("host")
        for group in pc.unique(hosts).to_pylist():
            sub = batch.filter(pc.equal(hosts, group) if group is not None else pc.is_null(hosts))
            ts, ids = sub.column("ts").to_numpy(), sub.column("event_id").to_numpy()
            if group in last and (int(ts[0]), int(ids[0])) < last[group]:
                return False
            if len(ts) > 1 and (((ts[1:] == ts[:-1]) & (ids[1:] < ids[:-1])) | (ts[1:] < ts[:-1])).any():
                return False
            last[group] = (int(ts[-1]), int(ids[-1]))
    return True


def narrow_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch's rows as dicts holding only what the model reads of each row's family (in row order).

    Dicts of 6 to 19 keys instead of 37 are what makes reading rows cheap; a missing key reads as None.
    """
    families = batch.column("family")
    present = [f for f in pc.unique(families).to_pylist() if f is not None]
    if len(present) == 1:
        return batch.select(_keep(batch, present[0])).to_pylist()
    out: list[Any] = [None] * batch.num_rows
    for family in present:
        mask = pc.equal(families, family)
        positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist()
        for i, row in zip(positions, batch.filter(mask).select(_keep(batch, family)).to_pylist(), strict=True):
            out[i] = row
    return [row for row in out if row is not None]  # rows without a family are not the model's


def _keep(batch: pa.RecordBatch, family: str) -> list[str]:
    names = batch.schema.names
    return [c for c in BASE_COLUMNS + FAMILY_COLUMNS.get(family, ()) if c in names]


class ArrowColumns:
    """A record batch as the columnar replay reads it (`swk.kernel.model.batch.Columns`)."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.num_rows = batch.num_rows
        self._names = set(batch.schema.names)

    def ints(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(int64 values with NULL as 0, validity) of an integer, boolean or timestamp column."""
        n = self.num_rows
        if name not in self._names:
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        column = self.batch.column(name)
        if column.null_count == 0:
            valid = np.ones(n, dtype=bool)
        else:
            valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            column = pc.fill_null(column, False if pa.types.is_boolean(column.type) else 0)
        if pa.types.is_boolean(column.type):
            values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
        else:
            values = np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        return values, valid

    def codes(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """(int64 codes, -1 for NULL, and the distinct values) of a text column."""
        if name not in self._names:
            return np.full(self.num_rows, -1, dtype=np.int64), []
        encoded = pc.dictionary_encode(self.batch.column(name))
        indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return np.asarray(indices, dtype=np.int64), encoded.dictionary.to_pylist()

    def pylists(self, names: tuple[str, ...] | list[str], positions: np.ndarray) -> list[list[Any]]:
        """The named columns at `positions` as Python values; equal texts are one object (the replay keeps the
        live rows' names and reasons until the end)."""
        index = pa.array(positions, type=pa.int64())
        out = []
        for name in names:
            if name not in self._names:
                out.append([None] * len(index))
                continue
            column = self.batch.column(name).take(index)
            if pa.types.is_string(column.type):
                encoded = pc.dictionary_encode(column)
                words = encoded.dictionary.to_pylist()
                out.append([None if i is None else words[i] for i in encoded.indices.to_pylist()])
            else:
                out.append(column.to_pylist())
        return out


def case_columns(path: str | Path, batch_rows: int = COLUMN_BATCH) -> Iterator[ArrowColumns]:
    """A case as column batches of the model's columns, in (ts, event_id) order within each host (the input of
    `swk.kernel.model.analyze_batches`)."""
    if is_ordered(path):
        for batch in _batches(path, list(COLUMNS), batch_rows):
            yield ArrowColumns(batch)
        return
    for batch in _sorted(path, COLUMNS, batch_rows):
        yield ArrowColumns(batch)


def _sorted(path: str | Path, columns: tuple[str, ...], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The case's rows sorted by (host, ts, event_id) through DuckDB, `ts` as int microseconds."""
    import duckdb

    files = [str(f) for f, _ in _parts(path)]
    con = duckdb.connect()
    select = ", ".join(f'"{c}"' for c in columns)
    reader = con.sql(f"SELECT {select} FROM read_parquet($files, union_by_name=true, hive_partitioning=true) "
                     "ORDER BY host, ts, event_id", params={"files": files}).to_arrow_reader(batch_rows)  # fmt: skip
    for batch in reader:
        ts = batch.column("ts").cast(pa.int64())
        yield batch.set_column(batch.schema.get_field_index("ts"), "ts", ts)


def case_rows(path: str | Path, columns: tuple[str, ...] = COLUMNS) -> Iterator[dict[str, Any]]:
    """Rows of a case as dicts (the model's columns), in (ts, event_id) order within each host."""
    if is_ordered(path):
        narrow = columns == COLUMNS
        for batch in _batches(path, list(columns)):
            yield from narrow_rows(batch) if narrow else batch.to_pylist()
        return
    for batch in _sorted(path, columns, BATCH):
        yield from batch.to_pylist()
