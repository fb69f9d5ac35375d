"""Live ETW events into case rows through the ETL reader's own decoder, so live and .etl rows are identical.

`swk.capture.etl.record.decode_records` takes EVENT_RECORDs' header fields, user data and extended data items;
this module only unpacks `EtwParts` into those arguments and turns its reject rows into `Reject`s, so the capture
loop counts them as rejected (read = written + rejected) with the bytes they held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from swk.capture.etl.record import decode_batches, decode_records
from swk.capture.live.evntcons import EtwParts
from swk.store.reject import Reject


def _arguments(parts: EtwParts) -> dict[str, Any]:
    h = parts.fields
    d = h.EventDescriptor
    return {"provider": bytes(h.ProviderId), "event_id": d.Id, "version": d.Version, "opcode": d.Opcode, "task": d.Task,
                "level": d.Level, "keyword": d.Keyword, "pid": h.ProcessId, "tid": h.ThreadId, "filetime": h.TimeStamp,
                "user_data": parts.user_data, "extended": parts.extended, "channel": d.Channel,
                "pointer_size": parts.pointer_size}  # fmt: skip


def decode_all(events: Sequence[EtwParts]) -> tuple[list[pa.RecordBatch], list[tuple[int, Reject]]]:
    """A burst of live events: batches of rows (`source_offset` = index in the burst) and the Rejects by index."""
    batches, rejected = decode_batches([_arguments(p) for p in events])
    rejects = [
        (i, Reject(0, row["reject_reason"], events[i].user_data, len(events[i].user_data))) for i, row in rejected
    ]
    return batches, rejects


def decode(parts: EtwParts) -> dict[str, Any] | Reject:
    """The case row of one live event (its NULL columns left out), or a Reject saying why it does not decode."""
    row = decode_records([_arguments(parts)])[0]
    if row.get("family") == "reject":
        return Reject(0, row["reject_reason"], parts.user_data, len(parts.user_data))
    return {k: v for k, v in row.items() if v is not None}
