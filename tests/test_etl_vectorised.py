"""The chunked, vectorised reader (`reader.read`) gives what the per-record reader (`reader.read_records`) gives,
item for item: rows, batches, rejects (offset, reason, bytes, length) and warnings, on clean and damaged files.

Chunks and batches are made small so their boundaries fall inside buffers' worth of events of every family; the
damage is aimed at the user data of events (sizes intact) so the buffers stay on the vectorised path and its
flagging of undecodable events is what gets tested.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from swk.capture.base import ReadContext, Reject
from swk.capture.etl import container, reader, sample, scan, writer
from swk.capture.outputs import OutputContext
from swk.errors import WrongFormat
from swk.testdata import shared_data

DATA = shared_data() / "etl"
CTX = OutputContext(boot_ns=1_772_400_000 * 10**9)
SIZES = [(64 << 10, 700), (200 << 10, 5000), (reader.CHUNK_BYTES, reader.BATCH_RECORDS)]


def both(path: Path, chunk_bytes: int = reader.CHUNK_BYTES, batch_records: int = reader.BATCH_RECORDS) -> list:
    """The items of both readers, asserted equal; returns the chunked reader's items."""
    got, want = ReadContext(), ReadContext()
    fast = list(reader.read(path, got, chunk_bytes=chunk_bytes, batch_records=batch_records))
    slow = list(reader.read_records(path, want, batch_records=batch_records))
    assert len(fast) == len(slow)
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        if isinstance(b, Reject):
            assert isinstance(a, Reject), i
            assert (a.offset, a.reason, a.raw, a.length) == (b.offset, b.reason, b.raw, b.length), i
        else:
            assert not isinstance(a, Reject), i
            assert a.schema == b.schema and a.equals(b), (i, a.column("kind")[0])
    assert (got.warnings, got.info) == (want.warnings, want.info)
    return fast


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vec") / "sw.etl"
    writer.write(sample.batches(6000, seed=21), path, CTX)
    return path


@pytest.mark.parametrize(("chunk_bytes", "batch_records"), SIZES)
def test_clean_file_same_rows_and_batches(written, chunk_bytes, batch_records):
    items = both(written, chunk_bytes, batch_records)
    # a batch is built each time `batch_records` rows have gathered (one batch per family, or one in file order)
    assert sum(i.num_rows for i in items) == 6001 and len(items) >= (6000 // batch_records or 1)


@pytest.mark.parametrize("name", ["AMSITrace.etl", "lxcore_kernel.etl", "ShutdownPerfDiagLogger.etl"])
def test_real_captures_same(name):
    both(DATA / name, 64 << 10, 1000)


def user_ranges(data: bytes, path: Path) -> list[tuple[int, int, int]]:
    """(record, user data start, end) file offsets of every EVENT record."""
    log = container.read_logfile(data[:4096], path)
    out = []
    for offset, buf in container.buffers(io.BytesIO(data), len(data), log):  # type: ignore[misc]
        ch = scan.chunk([(offset, buf)])
        for p, u, s in zip(ch.pos.tolist(), ch.user.tolist(), ch.stop.tolist(), strict=True):
            if s > u:
                out.append((offset + p, offset + u, offset + s))
    return out


def damage(data: bytearray, ranges: list[tuple[int, int, int]], rng: random.Random) -> None:
    for _ in range(rng.randint(1, 30)):
        rec, u, s = rng.choice(ranges)
        mode = rng.random()
        if mode < 0.3:  # a flipped bit anywhere in the user data
            data[rng.randrange(u, s)] ^= 1 << rng.randrange(8)
        elif mode < 0.5:  # strings without terminators
            for j in range(u, s):
                if data[j] == 0 and rng.random() < 0.7:
                    data[j] = 0x41
        elif mode < 0.7:  # early terminators, zero counts
            at = rng.randrange(u, s)
            n = min(s, at + rng.randint(1, 16)) - at
            data[at : at + n] = bytes(n)
        elif mode < 0.85:  # counts and lengths past the user data
            at = rng.randrange(u, s)
            n = min(s, at + rng.randint(1, 4)) - at
            data[at : at + n] = b"\xff" * n
        elif u > rec + 80:  # the schema: another one, or one that does not parse
            data[rng.randrange(rec + 80, u)] ^= 1 << rng.randrange(8)


def test_damaged_user_data_same_rejects(written, tmp_path):
    data = written.read_bytes()
    ranges = user_ranges(data, written)
    rejects = 0
    for seed in range(12):
        rng = random.Random(seed)
        damaged = bytearray(data)
        damage(damaged, ranges, rng)
        path = tmp_path / f"d{seed}.etl"
        path.write_bytes(bytes(damaged))
        items = both(path, *SIZES[seed % len(SIZES)])
        rejects += sum(isinstance(i, Reject) for i in items)
    assert rejects > 12  # the damage did reach the decoders (and both readers rejected the same events)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40))
def test_damaged_anywhere_same(written, tmp_path, seed):
    rng = random.Random(1000 + seed)
    damaged = bytearray(written.read_bytes())
    if seed % 3 == 0:
        damaged = damaged[: rng.randrange(1, len(damaged))]
    for _ in range(rng.randint(1, 40)):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    path = tmp_path / "x.etl"
    path.write_bytes(bytes(damaged))
    try:
        list(reader.read_records(path, ReadContext()))
    except WrongFormat:
        with pytest.raises(WrongFormat):
            list(reader.read(path, ReadContext()))
        return
    both(path, *SIZES[seed % len(SIZES)])


def test_threat_intel_values_same(tmp_path):
    """TI events through `tirows` and through `Batch._ti`: every FILETIME form, 64-bit pointers, short payloads."""
    from swk.capture.base import rows_to_batch
    from swk.capture.etl import encode, ti

    base = sample.row("ti", random.Random(3), 134_170_000_000_000_000)
    rows = []
    # 0, at or before 1970 (digits), dates, past 2**63 (digits), the last second of 9999, and two past 9999-12-31
    # (a FILETIME the scalar decoder cannot date: the event is rejected)
    times = [
        0,
        5,
        116_444_736_000_000_000,
        134_170_000_123_456_789,
        0xFFFF_FFFF_FFFF_FFF0,
        2_650_467_743_990_000_000,
        2_650_467_744_000_000_000,
        0x7FFF_FFFF_FFFF_FFFF,
    ]
    for i, when in enumerate(times * 3):
        row = dict(base, raw_clock=base["raw_clock"] + i, etw_event_id=1, etw_version=1, task=1)
        row["fields_json"] = (f'{{"CallingProcessId": {4000 + i}, "CallingProcessCreateTime": {when}, '
                              f'"TargetProcessId": {0 if i % 4 == 0 else 77}, '
                              f'"BaseAddress": {0xFFFF_8000_0000_0000 + i}, "RegionSize": 4096}}')  # fmt: skip
        rows.append(row)
    path = tmp_path / "ti.etl"
    writer.write([rows_to_batch(rows)], path, CTX)
    items = both(path, 64 << 10, 10)
    got = [r for i in items if not isinstance(i, Reject) for r in i.to_pylist() if r["family"] == "ti"]
    rejects = [i for i in items if isinstance(i, Reject)]
    assert len(got) == 18 and len(rejects) == 6 and "date value out of range" in rejects[0].reason
    assert got[0]["base_address"] == 0xFFFF_8000_0000_0000 - (1 << 64)  # BIGINT keeps the bits, no crash
    assert got[0]["target_pid"] == got[0]["actor_pid"] == 4000  # target 0 means the caller (spec 3.11)
    assert '"CallingProcessCreateTime": "2026-03-03T' in got[3]["fields_json"]
    assert '"CallingProcessCreateTime": "9999-12-31T23:59:59.000000Z"' in got[5]["fields_json"]
    assert '"CallingProcessCreateTime": "18446744073709551600"' in got[4]["fields_json"]
    # payloads shorter than their template (and one longer: the rest is ignored), among whole ones
    whole = writer.ti_payload(1, 1, {"CallingProcessId": 9, "TargetProcessId": 10})
    records = [encode.event_record(provider=ti.GUID_BYTES, timestamp=i, pid=4, tid=8, user=user, event_id=1,
                                   version=1, task=1, channel=16)
               for i, user in enumerate([whole, whole[:7], whole, b"", whole + b"xyz", whole[:-1]])]  # fmt: skip
    fh = io.BytesIO()
    encode.write_file(fh, encode.LogfileInfo(start_time=134_170_000_000_000_000, end_time=134_170_000_000_000_000,
                                             boot_time=134_000_000_000_000_000), ((r, 0) for r in records))  # fmt: skip
    path.write_bytes(fh.getvalue())
    items = both(path, 64 << 10, 10)
    assert (
        sum(isinstance(i, Reject) for i in items) == 3 and sum(i.num_rows for i in items if hasattr(i, "num_rows")) == 4
    )
