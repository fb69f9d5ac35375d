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


def _batches(path: str | Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    for file, host in _parts(path):
        reader = pq.ParquetFile(file)
        present = [c for c in columns if c in reader.schema_arrow.names]
        for batch in reader.iter_batches(columns=present, batch_size=BATCH):
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


def case_rows(path: str | Path, columns: tuple[str, ...] = COLUMNS) -> Iterator[dict[str, Any]]:
    """Rows of a case as dicts (the model's columns), in (ts, event_id) order within each host."""
    if is_ordered(path):
        narrow = columns == COLUMNS
        for batch in _batches(path, list(columns)):
            yield from narrow_rows(batch) if narrow else batch.to_pylist()
        return
    import duckdb

    files = [str(f) for f, _ in _parts(path)]
    con = duckdb.connect()
    select = ", ".join(f'"{c}"' for c in columns)
    reader = con.sql(f"SELECT {select} FROM read_parquet($files, union_by_name=true, hive_partitioning=true) "
                     "ORDER BY host, ts, event_id", params={"files": files}).to_arrow_reader(BATCH)  # fmt: skip
    for batch in reader:
        ts = batch.column("ts").cast(pa.int64())
        yield from batch.set_column(batch.schema.get_field_index("ts"), "ts", ts).to_pylist()
