"""Windows events as exporters write them, and a reader's whole output as one table: for tests and benchmarks.

`otrf_line` writes an event the way the OTRF (NXLog-era) exports do: EventData fields at the top level beside
`Channel`, `EventID`, `Hostname` and times, every value a string. `collect` runs a reader over a file and returns its
rows in the full case schema, its rejects and the context it filled, so a test can assert `read == written +
rejected` and look at columns by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa

from swk.capture.base import ReadContext, Reject
from swk.store.schema import EVENTS
from swk.store.writer import conform

SYSMON = "Microsoft-Windows-Sysmon/Operational"

# Field values of a Sysmon 10 as OTRF's purplesharp set holds it (its line 214), and of the Sysmon 8 that follows.
PROCESS_ACCESS: dict[str, object] = {
    "SourceProcessGUID": "{39e4a257-8244-5f92-c117-000000000700}", "SourceProcessId": "8972",
    "SourceThreadId": "3616", "SourceImage": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
    "TargetProcessGUID": "{39e4a257-8244-5f92-c217-000000000700}", "TargetProcessId": "9908",
    "TargetImage": "C:\\Windows\\system32\\notepad.exe", "GrantedAccess": "0x1fffff",
    "CallTrace": "C:\\windows\\SYSTEM32\\ntdll.dll+9c584|C:\\windows\\System32\\KERNELBASE.dll+2b4fe|"
                 "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe+13c8a",
    "UtcTime": "2020-10-23 07:12:04.444", "RuleName": "-",
}  # fmt: skip
REMOTE_THREAD: dict[str, object] = {
    "SourceProcessGuid": "{39e4a257-8244-5f92-c117-000000000700}", "SourceProcessId": "8972",
    "SourceImage": "C:\\Users\\wardog\\Desktop\\PurpleSharp.exe",
    "TargetProcessGuid": "{39e4a257-8244-5f92-c217-000000000700}", "TargetProcessId": "9908",
    "TargetImage": "C:\\Windows\\System32\\notepad.exe", "NewThreadId": "8488", "StartAddress": "0x0000023FAD900000",
    "StartModule": "-", "StartFunction": "-", "UtcTime": "2020-10-23 07:12:04.460", "RuleName": "-",
}  # fmt: skip


def otrf_line(event_id: int, fields: dict[str, object], *, channel: str = SYSMON, host: str = "WORKSTATION5",
              created: str = "2020-10-23T07:12:04.474Z", **extra: object) -> bytes:  # fmt: skip
    """One event as an OTRF export line (values as written there; `extra` adds or overrides top-level keys)."""
    obj: dict[str, object] = {"@timestamp": created, "TimeCreated": created, "Hostname": host, "Channel": channel,
                              "EventID": event_id, "SourceName": "Microsoft-Windows-Sysmon" if channel == SYSMON
                              else "Microsoft-Windows-Security-Auditing", **fields, **extra}  # fmt: skip
    return json.dumps(obj).encode()


@dataclass
class Collected:
    """A reader's whole output for one input."""

    rows: pa.Table  # in the case schema, event ids from 1
    rejects: list[Reject]
    ctx: ReadContext

    def column(self, name: str) -> list[Any]:
        """One column's values, in row order."""
        return self.rows.column(name).to_pylist()

    def where(self, **equal: object) -> list[dict[str, Any]]:
        """Rows (as dicts) whose columns equal the given values."""
        return [r for r in self.rows.to_pylist() if all(r[k] == v for k, v in equal.items())]


def collect(reader: ModuleType, path: Path, ctx: ReadContext | None = None) -> Collected:
    """Run `reader` over `path` to the end."""
    ctx = ctx or ReadContext()
    batches: list[pa.RecordBatch] = []
    rejects: list[Reject] = []
    first = 1
    for out in reader.read(path, ctx):
        if isinstance(out, Reject):
            rejects.append(out)
            continue
        ids = pa.array(range(first, first + out.num_rows), type=pa.int64())
        batches.append(conform(out, {"event_id": ids}))
        first += out.num_rows
    table = pa.Table.from_batches(batches) if batches else EVENTS.empty_table()
    return Collected(table, rejects, ctx)
