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
from collections.abc import Sequence
from typing import Any

from swk.capture.etl import container, encode, layout
from swk.capture.etl.rows import Batch

# Live timestamps are FILETIMEs already (spec 2.4): a system-time logfile converts nothing.
_LIVE = container.Logfile(0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, layout.ClockType.SYSTEM_TIME, 0, 0)


def decode_record(*, provider: uuid.UUID | bytes, event_id: int, version: int, opcode: int, task: int, level: int,
                  keyword: int, pid: int, tid: int, filetime: int, user_data: bytes,
                  extended: Sequence[tuple[int, bytes]] = (), channel: int = 0,
                  pointer_size: int = 8) -> dict[str, Any]:  # fmt: skip
    """The case row of one EVENT_RECORD (header fields, user data, extended data items as (type, bytes))."""
    guid = provider.bytes_le if isinstance(provider, uuid.UUID) else bytes(provider)
    header_type = layout.HeaderType.EVENT_HEADER64 if pointer_size == 8 else layout.HeaderType.EVENT_HEADER32
    ext = encode.ext_items(list(extended))
    raw = encode.event_record(provider=guid, timestamp=filetime, pid=pid, tid=tid, user=b"", ext=ext,
                              event_id=event_id, version=version, channel=channel, level=level, opcode=opcode,
                              task=task, keyword=keyword, header_type=header_type)  # fmt: skip
    batch = Batch(_LIVE)
    rejected = batch.add((container.EVENT, 0, raw[: layout.EVENT_HEADER_SIZE], ext, bytes(user_data)))
    if rejected is not None:
        return {"family": "reject", "kind": "etl:reject", "reject_reason": rejected.reason,
                "raw_preview": rejected.preview(), "raw_length": len(user_data)}  # fmt: skip
    row = next(b for b in batch.build() if b.num_rows).to_pylist()[0]
    row.pop("source_offset", None)
    return row
