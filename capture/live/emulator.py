"""An in-process stand-in for SleepwlkrController that answers the real packet bytes (spec 1.5, 7.3).

It serves queued IOCTL records and uplink ETW events, counts what it was asked, and validates requests the way the
controller does (SetPids takes 1..64 pids and a mask with a stream bit; unknown commands get
ERROR_INVALID_FUNCTION). Tests and the Windows CI pipe test put it behind a socket pair or a real pipe, so the
client under test is the one `swk capture live` uses.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import BinaryIO

from swk.capture.live import protocol as proto
from swk.kernel.abi import (
    ERROR_INVALID_FUNCTION,
    ERROR_INVALID_PARAMETER,
    ERROR_NO_MORE_ITEMS,
    SLEEPWALKER_IPC_HANDSHAKE_RESPONSE,
    SLEEPWALKER_SET_PIDS_REQUEST,
    SLEEPWALKER_STATS_RESPONSE,
    SLEEPWALKER_SUBSCRIBE_REQUEST,
    IpcCommand,
    sizeof,
)


class Emulator:
    """Answers request packets from queued records and uplink events; thread-safe to feed while serving."""

    def __init__(self, records: Iterable[bytes] = (), etw_events: Iterable[bytes] = (), *, capabilities: int = 0x7,
                 ti_enabled: int = 1, ti_error: int = 0, dropped: int = 0) -> None:  # fmt: skip
        self.records: deque[bytes] = deque(records)
        self.etw_events: deque[bytes] = deque(etw_events)
        self.capabilities, self.ti_enabled, self.ti_error = capabilities, ti_enabled, ti_error
        self.dropped = dropped
        self.pids: list[int] = []
        self.mask = 0
        self.commands: Counter[str] = Counter()
        self.sequences: list[int] = []
        self.lock = threading.Lock()

    def answer(self, data: bytes) -> bytes:
        """The response packet to one request packet."""
        req = proto.parse_request(data, "emulator")
        self.sequences.append(req.sequence)
        try:
            command = IpcCommand(req.command)
        except ValueError:
            return proto.response(req.command, req.sequence, ERROR_INVALID_FUNCTION)
        self.commands[command.name] += 1
        # GetEvent/GetEtwEvent wait up to TimeoutMs for an item, polling every 20 ms as the controller does.
        waits = command in (IpcCommand.GetEvent, IpcCommand.GetEtwEvent)
        deadline = time.monotonic() + (int.from_bytes(req.payload[:4], "little") / 1000 if waits else 0)
        while True:
            with self.lock:
                status, payload = self._handle(command, req.payload)
            if status != ERROR_NO_MORE_ITEMS or time.monotonic() >= deadline:
                return proto.response(command, req.sequence, status, payload)
            time.sleep(0.02)

    def _handle(self, command: IpcCommand, payload: bytes) -> tuple[int, bytes]:
        if command == IpcCommand.Handshake:
            return 0, bytes(SLEEPWALKER_IPC_HANDSHAKE_RESPONSE(1, self.capabilities, self.ti_enabled, self.ti_error))
        if command == IpcCommand.SetPids:
            req = SLEEPWALKER_SET_PIDS_REQUEST.from_buffer_copy(payload[: sizeof(SLEEPWALKER_SET_PIDS_REQUEST)])
            if not 1 <= req.ProcessCount <= 64 or not req.StreamMask & 0x7:
                return ERROR_INVALID_PARAMETER, b""
            self.pids, self.mask = [p for p in req.ProcessIds[: req.ProcessCount] if p], req.StreamMask
            return 0, b""
        if command == IpcCommand.Subscribe:
            sub = SLEEPWALKER_SUBSCRIBE_REQUEST.from_buffer_copy(payload[: sizeof(SLEEPWALKER_SUBSCRIBE_REQUEST)])
            self.pids.append(sub.ProcessId)
            self.mask |= sub.StreamMask
            return 0, b""
        if command in (IpcCommand.GetEvent, IpcCommand.GetEtwEvent):
            queue = self.records if command == IpcCommand.GetEvent else self.etw_events
            return (0, queue.popleft()) if queue else (ERROR_NO_MORE_ITEMS, b"")
        if command == IpcCommand.GetStats:
            return 0, bytes(SLEEPWALKER_STATS_RESPONSE(len(self.pids), len(self.records), self.dropped, 0))
        return ERROR_INVALID_FUNCTION, b""

    def serve(self, fh: BinaryIO) -> None:
        """Answer packets read from `fh` until the client closes it."""
        while True:
            data = b""
            while len(data) < proto.PACKET_SIZE:
                chunk = fh.read(proto.PACKET_SIZE - len(data))
                if not chunk:
                    return
                data += chunk
            fh.write(self.answer(data))
