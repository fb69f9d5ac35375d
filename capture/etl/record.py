"""One live EVENT_RECORD into a case row, through the same decoders as the .etl reader.

A real-time consumer (`capture/live`, Windows only) hands over the parts of each EVENT_RECORD it receives:

    decode_record(provider=GUID, event_id=0, version=0, opcode=0, task=0, level=4, keyword=0, pid=4, tid=88,
                  filetime=0x01DCA7C573BE0D3D, user_data=b"...", extended=[(12, traits), (11, schema)])
    -> {"family": "handle", "kind": "sleepwalker:etw:HandleTelemetry", "ts": datetime(...), ...}

The parts are laid out as the record would sit in an .etl buffer and decoded by `rows.Batch`, so a live session
and the ETL reader produce identical rows (bar `source_offset`, which a live record does not have). A record that
does not decode comes back as a `family='reject'` row with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from swk.capture.etl import container, encode, layout
from swk.capture.etl.rows import Batch

# Live timestamps are FILETIMEs already (spec 2.4): a system-time logfile converts nothing.
_LIVE = container.Logfile(0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, layout.ClockType.SYSTEM_TIME, 0, 0)


def decode_record(*, provider: uuid.UUID | bytes, event_id: int, version: int, opcode: int, task: int, level: int,
                  keyword: int, pid: int, tid: int, filetime: int, user_data: bytes,
                  extended: Sequence[tuple[int, bytes]] = (), channel: int = 0,
                  pointer_size: int = 8) -> dict[str, Any]:  # fmt: skip
    """The case row of one EVENT_RECORD (header fields, user data, extended data items as (type, bytes))."""
    return decode_records([{"provider": provider, "event_id": event_id, "version": version, "opcode": opcode, "task": task,
                                "level": level, "keyword": keyword, "pid": pid, "tid": tid, "filetime": filetime,
                                "user_data": user_data, "extended": extended, "channel": channel,
                                "pointer_size": pointer_size}])[0]  # fmt: skip


def decode_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of many EVENT_RECORDs (each given as `decode_record`'s keyword arguments), as dicts in the order given."""
    batches, rejects = decode_batches(records)
    out: list[dict[str, Any] | None] = [None] * len(records)
    for index, row in rejects:
        out[index] = row
    for built in batches:
        for row in built.to_pylist():
            out[row.pop("source_offset")] = row
    return [row if row is not None else {"family": "reject", "kind": "etl:reject",
                                         "reject_reason": "record produced no row"} for row in out]  # fmt: skip


def decode_batches(records: Sequence[Mapping[str, Any]]) -> tuple[list[pa.RecordBatch], list[tuple[int, dict]]]:
    """Many EVENT_RECORDs at once: RecordBatches whose `source_offset` is each record's index, and reject rows.

    One `Batch` decodes them all and builds its columns once: a live session delivers events in bursts, and setting up
    a batch and a one-row table per event capped live capture near 1k events/s. Rows come grouped by event kind, as
    the reader groups a chunk; `source_offset` gives back the order.
    """
    batch = Batch(_LIVE)
    rejects: list[tuple[int, dict[str, Any]]] = []
    for index, rec in enumerate(records):
        provider = rec["provider"]
        guid = provider.bytes_le if isinstance(provider, uuid.UUID) else bytes(provider)
        pointer_size = rec.get("pointer_size", 8)
        header_type = layout.HeaderType.EVENT_HEADER64 if pointer_size == 8 else layout.HeaderType.EVENT_HEADER32
        ext = encode.ext_items(list(rec.get("extended", ())))
        raw = encode.event_record(provider=guid, timestamp=rec["filetime"], pid=rec["pid"], tid=rec["tid"], user=b"",
                                  ext=ext, event_id=rec["event_id"], version=rec["version"],
                                  channel=rec.get("channel", 0), level=rec["level"], opcode=rec["opcode"],
                                  task=rec["task"], keyword=rec["keyword"], header_type=header_type)  # fmt: skip
        user = bytes(rec["user_data"])
        # The record's index stands in for its file offset, so rows can be put back in the order given.
        rejected = batch.add((container.EVENT, index, raw[: layout.EVENT_HEADER_SIZE], ext, user))
        if rejected is not None:
            rejects.append((index, {"family": "reject", "kind": "etl:reject", "reject_reason": rejected.reason,
                                    "raw_preview": rejected.preview(), "raw_length": len(user)}))  # fmt: skip
    return [b for b in batch.build() if b.num_rows], rejects
