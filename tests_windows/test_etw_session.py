"""A real ETW session (Windows only, elevated): start, receive through swk's own callback, decode, stop.

A stock provider stands in for Sleepwalker.Kernel (no driver on a CI runner): Microsoft-Windows-Kernel-Process
with its PROCESS keyword, triggered by starting a process.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid

from etw import evntrace as et
from etw.etw import TraceProperties

from swk.capture.live.etw_rows import decode
from swk.capture.live.etw_session import EtwSession, Provider
from swk.capture.live.evntcons import EtwParts, guid_text

KERNEL_PROCESS = Provider("Microsoft-Windows-Kernel-Process", uuid.UUID("22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716"),
                          keywords=0x10)  # fmt: skip
ERROR_WMI_INSTANCE_NOT_FOUND = 4201


def _query(name: str) -> int:
    return et.ControlTraceW(et.TRACEHANDLE(0), name, TraceProperties().get(), et.EVENT_TRACE_CONTROL_QUERY)


def test_session_receives_raw_records_and_stops() -> None:
    name = f"SwkTestSession-{os.getpid()}"
    events: list[EtwParts] = []
    session = EtwSession([KERNEL_PROCESS], name=name)
    assert session.start(events.append) == []
    try:
        assert _query(name) == 0
        deadline = time.monotonic() + 60
        while not events:
            subprocess.run(["cmd", "/c", "exit 0"], check=True)  # a process start: Kernel-Process event 1
            time.sleep(0.5)
            assert time.monotonic() < deadline, "no event arrived within a minute"
        assert set(session.lost()) == {"events_lost", "buffers_lost"}
    finally:
        session.stop()
    assert session.error is None
    assert _query(name) == ERROR_WMI_INSTANCE_NOT_FOUND
    parts = events[0]
    assert guid_text(parts.fields.ProviderId) == str(KERNEL_PROCESS.guid).upper()
    row = decode(parts)  # a manifest event without its template: a generic row, decoded by the ETL reader's code
    assert isinstance(row, dict)
    assert (row["family"], row["header_pid"]) == ("generic", parts.fields.ProcessId)
