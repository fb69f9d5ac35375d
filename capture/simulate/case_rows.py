"""Read a case into the row mappings `swk.kernel.model.analyze` takes, in bounded batches.

Rows come in (ts, event_id) order within each host when the case is stored that way (every simulated case is);
otherwise they are sorted through DuckDB first. Only the columns the model reads are fetched, and `ts` is given as
int microseconds since the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from swk.kernel.model import COLUMNS
from swk.store.reader import open_case

BATCH = 65_536


def _plain(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    ts = batch.column("ts").cast(pa.int64())
    return batch.set_column(batch.schema.get_field_index("ts"), "ts", ts).to_pylist()


def is_ordered(path: str | Path) -> bool:
    """Whether every host's rows are stored in (ts, event_id) order (rows without a time are ignored)."""
    last: dict[Any, tuple[int, int]] = {}
    dataset = open_case(path).dataset()
    for batch in dataset.to_batches(columns=["host", "ts", "event_id"], batch_size=BATCH):
        batch = batch.filter(pc.is_valid(batch.column("ts")))
        if not batch.num_rows:
            continue
        table = pa.table({"host": batch.column("host"), "ts": batch.column("ts").cast(pa.int64()),
                          "event_id": batch.column("event_id")})  # fmt: skip
        for group in pc.unique(table.column("host")).to_pylist():
            sub = table.filter(pc.equal(table.column("host"), group)) if group is not None else table.filter(
                pc.is_null(table.column("host")))  # fmt: skip
            ts = sub.column("ts").to_numpy()
            ids = sub.column("event_id").to_numpy()
            first = (int(ts[0]), int(ids[0]))
            if group in last and first < last[group]:
                return False
            if len(ts) > 1 and (((ts[1:] == ts[:-1]) & (ids[1:] < ids[:-1])) | (ts[1:] < ts[:-1])).any():
                return False
            last[group] = (int(ts[-1]), int(ids[-1]))
    return True


def case_rows(path: str | Path, columns: tuple[str, ...] = COLUMNS) -> Iterator[dict[str, Any]]:
    """Rows of a case as dicts (the model's columns), in (ts, event_id) order within each host."""
    case = open_case(path)
    if is_ordered(path):
        for batch in case.dataset().to_batches(columns=list(columns), batch_size=BATCH):
            yield from _plain(batch)
        return
    import duckdb

    files = [str(f) for f in case.files]
    con = duckdb.connect()
    select = ", ".join(f'"{c}"' for c in columns)
    reader = con.sql(f"SELECT {select} FROM read_parquet($files, union_by_name=true, hive_partitioning=true) "
                     "ORDER BY host, ts, event_id", params={"files": files}).to_arrow_reader(BATCH)  # fmt: skip
    for batch in reader:
        yield from _plain(batch)
