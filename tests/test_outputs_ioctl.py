"""IOCTL records from case rows: `records_from_batch` inverts the IOCTL reader bit for bit, and `WRITERS['ioctl']`
writes records only for rows the driver published as records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from swk.capture import ioctl
from swk.capture.base import ReadContext, Reject, rows_to_batch
from swk.capture.ioctl_encode import handle_record, realistic_records, records_from_batch, thread_record
from swk.capture.outputs import WRITERS, OutputContext
from swk.kernel.abi import STATUS_UNSUCCESSFUL, HandleFlag, ThreadFlag


def decoded(tmp_path: Path, data: bytes) -> pa.Table:
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    out = list(ioctl.read(path, ReadContext()))
    assert not [o for o in out if isinstance(o, Reject)]
    return pa.Table.from_batches(out)


def test_records_from_decoded_rows_are_the_original_bytes(tmp_path: Path) -> None:
    recs = realistic_records(5000, seed=11)
    h = recs["Data"]["Handle"]
    is_h = recs["Header"]["Type"] == 1
    # unused frame slots are zero, as the driver leaves them (spec 1.3), so the bytes can round-trip exactly
    assert not (h["Frames"][is_h[:, None] & (np.arange(8)[None, :] >= h["FrameCount"][:, None])]).any()
    original = recs.tobytes()
    table = decoded(tmp_path, original)
    assert set(pc.unique(table["family"]).to_pylist()) == {"handle", "thread"}
    rebuilt = b"".join(records_from_batch(b).tobytes() for b in table.to_batches(max_chunksize=1234))
    assert rebuilt == original


def test_every_field_of_odd_records_survives(tmp_path: Path) -> None:
    records = [
        handle_record(sequence=7, qpc=-5, caller=(1 << 64) - 2, target=0xFFFFFFFF, access=0xFFFFFFFF, class_id=2,
                      flags=0x3FFFF, frames=tuple(0xFFFFF80000000000 + i for i in range(8)), origin_protect=0x104,
                      origin_path="\\x" + "\u00e9" * 300, statuses=(-1, STATUS_UNSUCCESSFUL, 0x7FFFFFFF),
                      deep=((1 << 64) - 1, 1 << 63, 0x2000, 0x40000), sample=bytes(range(64))),
        thread_record(sequence=0xFFFFFFFF, qpc=(1 << 63) - 1, pid=1, tid=(1 << 64) - 1, creator=0, start=0,
                      image_base=(1 << 64) - 1, image_size=0, flags=0x1FF, frames=()),
        handle_record(frames=(), origin_path="", sample=b"\x01"),
    ]  # fmt: skip
    original = b"".join(records)
    assert records_from_batch(decoded(tmp_path, original).to_batches()[0]).tobytes() == original


def test_null_flags_are_derived_like_the_driver() -> None:
    rows = [{"family": "handle", "sequence": 1, "access_mask": 0x1000, "exec_protect": True, "from_ntdll": True,
             "is_duplicate": True, "origin_path": "p", "frames": [{"address": 5}]},
            {"family": "thread", "sequence": 2, "got_start": True, "is_remote": True, "corr_flags": 6,
             "start_region_protect": 0x40},
            {"family": "detection", "detection_name": "X"}]  # fmt: skip
    recs = records_from_batch(rows_to_batch(rows))
    assert len(recs) == 2
    h, t = recs[0]["Data"]["Handle"], recs[1]["Data"]["Thread"]
    assert h["Flags"] == HandleFlag.EXEC_PROTECT | HandleFlag.FROM_NTDLL | HandleFlag.DUPLICATE_OPERATION | \
        HandleFlag.MEMORY_RELATED  # fmt: skip
    assert recs[0]["Header"]["StreamMask"] == 0x3 and recs[1]["Header"]["StreamMask"] == 0x4
    assert (h["OriginAddress"], h["FrameCount"], h["StatusOpenProcess"]) == (5, 1, STATUS_UNSUCCESSFUL)
    assert t["Flags"] == (
        ThreadFlag.GOT_START
        | ThreadFlag.REMOTE_CREATOR
        | ThreadFlag.CORRELATED_INTENT
        | ThreadFlag.CORR_THREAD_CTX
        | ThreadFlag.CORR_DUP_HANDLE
        | ThreadFlag.START_REGION_EXEC
    )


def test_qpc_from_ts_when_the_row_has_no_qpc() -> None:
    ts = pa.array([1_000_000 * 90 + 250], pa.timestamp("us", tz="UTC"))  # 90.00025 s after the epoch
    batch = pa.RecordBatch.from_pydict({"family": ["thread"], "sequence": [1], "ts": ts, "clock": ["filetime"],
                                        "raw_clock": [123]})  # fmt: skip
    recs = records_from_batch(batch, boot_ns=30 * 10**9, qpc_frequency=10_000_000)
    assert recs["Header"]["TimestampQpc"][0] == 600_002_500


def test_writer_keeps_only_published_records(tmp_path: Path) -> None:
    rows = [{"family": "handle", "kind": "sleepwalker:etw:HandleTelemetry", "sequence": 3, "actor_pid": 1},
            {"family": "handle", "kind": "sleepwalker:etw:HandleTelemetry", "sequence": None, "actor_pid": 2},
            {"family": "thread", "kind": "sleepwalker:ioctl:thread", "sequence": 4, "target_pid": 9},
            {"family": "handle", "kind": "sysmon:10", "sequence": 77, "actor_pid": 3},
            {"family": "detection", "kind": "sleepwalker:etw:DetectionTelemetry", "sequence": 5}]  # fmt: skip
    out = tmp_path / "events.bin"
    assert WRITERS["ioctl"]([rows_to_batch(rows)], out, OutputContext()) == 2
    recs = np.frombuffer(out.read_bytes(), dtype=realistic_records(1).dtype)
    assert recs["Header"]["Sequence"].tolist() == [3, 4]
    assert recs["Data"]["Handle"]["CallerPid"][0] == 1 and recs["Data"]["Thread"]["ProcessId"][1] == 9
    assert [p.name for p in tmp_path.iterdir()] == ["events.bin"]  # no temporary sibling left behind
