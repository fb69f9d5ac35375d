"""IOCTL record ingest: `swk ingest` end to end (decode + zstd Parquet) against a naive per-record parser.

The baseline is what a first version usually looks like: `struct.unpack_from` per field of every record, a dict per
row, `pa.Table.from_pylist` per batch and the same zstd Parquet writer. Inputs (1 M and 4 M records, 768 MB and
3 GB) are generated once under `.bench/`. 4 M against 1 M shows whether peak RSS stays flat. swk and pyarrow are
imported before timing on both sides (the harness imports this module first): start-up is not a rate.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from harness import WORK, Measure

from swk.capture.ingest import Options
from swk.capture.ingest import ingest as run
from swk.store.schema import EVENTS


def prepare(n: int) -> int:
    """Build the input before the measured runs."""
    records_file(n)
    return n


def records_file(n: int) -> Path:
    """A realistic record file of `n` records, generated once."""
    from swk.capture.ioctl_encode import realistic_records

    path = WORK / f"ioctl_{n}.bin"
    if not path.exists() or path.stat().st_size != n * 768:
        WORK.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            for start in range(0, n, 500_000):
                fh.write(realistic_records(min(500_000, n - start), seed=start + 1).tobytes())
        tmp.replace(path)
    return path


def ingest(n: int) -> int:
    """`swk ingest` of the n-record file into a zstd Parquet case; returns records written."""
    manifest = run([records_file(n)], WORK / f"ioctl_{n}.parquet", Options(host="BENCH"))
    return manifest["rows"] + manifest["rejects"]


_HDR = struct.Struct("<IIIIq")


def naive(n: int) -> int:
    """Per-record, per-field `struct.unpack_from`, dict rows, `from_pylist`, the same Parquet writer."""
    path = records_file(n)
    data = path.read_bytes()
    out = WORK / f"ioctl_{n}_naive.parquet"
    writer = None
    rows: list[dict] = []
    count = 0
    for off in range(0, len(data) - 767, 768):
        _size, typ, stream, seq, qpc = _HDR.unpack_from(data, off)
        row = {"family": "handle" if typ == 1 else "thread", "sequence": seq, "raw_clock": qpc, "stream_mask": stream}
        if typ == 1:
            caller, target = struct.unpack_from("<QQ", data, off + 24)
            access, class_id = struct.unpack_from("<II", data, off + 40)
            (origin,) = struct.unpack_from("<Q", data, off + 48)
            protect, flags, frame_count = struct.unpack_from("<III", data, off + 56)
            frames = list(struct.unpack_from("<8Q", data, off + 72))[:frame_count]
            s_open, s_basic, s_section = struct.unpack_from("<iii", data, off + 136)
            base, region = struct.unpack_from("<QQ", data, off + 152)
            d_protect, d_state, d_type, d_size = struct.unpack_from("<IIII", data, off + 168)
            path_text = data[off + 248 : off + 768].decode("utf-16-le").split("\0", 1)[0]
            row.update(actor_pid=caller, target_pid=target, access_mask=access, class_id=class_id,
                       origin_address=origin, origin_protect=protect, flags=flags, frame_count=frame_count,
                       frames=[{"address": f - (1 << 64) if f >= 1 << 63 else f} for f in frames],
                       status_open_process=s_open, status_basic_info=s_basic, status_section_name=s_section,
                       deep_alloc_base=base, deep_region_size=region, deep_region_protect=d_protect,
                       deep_region_state=d_state, deep_region_type=d_type, deep_sample_size=d_size,
                       deep_sample=data[off + 184 : off + 184 + d_size], origin_path=path_text)  # fmt: skip
        else:
            pid, tid, creator, start, image_base, image_size = struct.unpack_from("<6Q", data, off + 24)
            flags, frame_count = struct.unpack_from("<II", data, off + 72)
            frames = list(struct.unpack_from("<8Q", data, off + 80))[:frame_count]
            row.update(actor_pid=creator, target_pid=pid, tid=tid, start_address=start, image_base=image_base,
                       image_size=image_size, flags=flags, frame_count=frame_count,
                       frames=[{"address": f - (1 << 64) if f >= 1 << 63 else f} for f in frames])  # fmt: skip
        rows.append(row)
        count += 1
        if len(rows) == 131_072:
            writer = _write(rows, out, writer)
            rows = []
    if rows:
        writer = _write(rows, out, writer)
    if writer:
        writer.close()
    return count


def _write(rows: list[dict], out: Path, writer: pq.ParquetWriter | None) -> pq.ParquetWriter:
    names = sorted({k for r in rows for k in r})
    schema = pa.schema([EVENTS.field(k) for k in names])
    table = pa.Table.from_pylist(rows, schema=schema)
    if writer is None:
        writer = pq.ParquetWriter(out, schema, compression="zstd")
    writer.write_table(table)
    return writer


MEASURES = [
    Measure("ioctl ingest, 1 M records (768 MB)", "ingest_ioctl:ingest", {"n": 1_000_000},
            baseline="ingest_ioctl:naive", unit="records/s", prepare="ingest_ioctl:prepare"),
    Measure("ioctl ingest, 4 M records (3 GB): RSS flat?", "ingest_ioctl:ingest", {"n": 4_000_000},
            unit="records/s", prepare="ingest_ioctl:prepare"),
]  # fmt: skip
