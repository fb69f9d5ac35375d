"""Live ETW events into case rows through the ETL reader's own decoder, so live and .etl rows are identical.

`swk.capture.etl.record.decode_record` takes an EVENT_RECORD's header fields, user data and extended data items;
this module only unpacks `EtwParts` into those arguments and turns its reject rows into `Reject`s, so the capture
loop counts them as rejected (read = written + rejected) with the bytes they held.
"""

from __future__ import annotations

from typing import Any

from swk.capture.etl.record import decode_record
from swk.capture.live.evntcons import EtwParts
from swk.store.reject import Reject


def decode(parts: EtwParts) -> dict[str, Any] | Reject:
    """The case row of one live event (its NULL columns left out), or a Reject saying why it does not decode."""
    h = parts.fields
    d = h.EventDescriptor
    row = decode_record(provider=bytes(h.ProviderId), event_id=d.Id, version=d.Version, opcode=d.Opcode,
                        task=d.Task, level=d.Level, keyword=d.Keyword, pid=h.ProcessId, tid=h.ThreadId,
                        filetime=h.TimeStamp, user_data=parts.user_data, extended=parts.extended, channel=d.Channel,
                        pointer_size=parts.pointer_size)  # fmt: skip
    if row.get("family") == "reject":
        return Reject(0, row["reject_reason"], parts.user_data, len(parts.user_data))
    return {k: v for k, v in row.items() if v is not None}
