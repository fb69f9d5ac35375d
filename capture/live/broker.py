"""A client of SleepwlkrController's pipe (spec 1.5, 7.3): handshake, SetPids, GetEvent/GetEtwEvent, GetStats.

The client speaks whole packets over any `Transport`. On Windows the transport is the pipe opened as a file: the
controller's pipe is message mode with 2080-byte buffers, so one write is one request and one read of 2080 bytes is
one response, and plain `open()` is all the Windows code needed. Tests use a socket pair and an in-process
emulator of the controller (`emulator`), speaking the same bytes.
"""

from __future__ import annotations

import time
from typing import BinaryIO, Protocol

from swk.capture.live import protocol as proto
from swk.errors import SwkError
from swk.kernel.abi import ERROR_NO_MORE_ITEMS, IPC_CONNECT_TIMEOUT_MS, IPC_VERSION, PIPE_NAME, IpcCommand

ERROR_PIPE_BUSY = 231


class BrokerAbsentError(SwkError):
    """The controller's pipe does not exist (controller not running)."""

    hint = "start the SleepwlkrController service, or pass --via device"


class BrokerGoneError(SwkError):
    """The controller closed the pipe mid-conversation."""


class Transport(Protocol):
    """Whole packets out and in."""

    def transact(self, data: bytes) -> bytes: ...

    def close(self) -> None: ...


class FileTransport:
    """Packets over a binary stream: the Windows pipe opened as a file, or one end of a socket pair."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self.fh, self.name = fh, name

    def transact(self, data: bytes) -> bytes:
        """Write one request, read exactly one response."""
        view = memoryview(data)
        while view:
            view = view[self.fh.write(view) or 0 :]
        buf = bytearray(proto.PACKET_SIZE)
        got = 0
        while got < len(buf):
            n = self.fh.readinto(memoryview(buf)[got:])  # type: ignore[attr-defined]
            if not n:
                raise BrokerGoneError(f"{self.name}: the controller closed the pipe after {got} of {len(buf)} bytes")
            got += n
        return bytes(buf)

    def close(self) -> None:
        """Close the stream (the controller then drops this client's subscriptions)."""
        self.fh.close()


def connect_pipe(name: str = PIPE_NAME, timeout_ms: int = IPC_CONNECT_TIMEOUT_MS) -> FileTransport:
    """Open the controller's pipe, waiting up to `timeout_ms` while every instance is busy (Windows)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            return FileTransport(open(name, "r+b", buffering=0), name)
        except OSError as exc:
            if getattr(exc, "winerror", None) == ERROR_PIPE_BUSY and time.monotonic() < deadline:
                time.sleep(0.05)  # every instance is serving a client: wait for one, as WaitNamedPipe would
                continue
            if isinstance(exc, FileNotFoundError):
                raise BrokerAbsentError(f"{name}: no such pipe, SleepwlkrController is not running") from None
            if isinstance(exc, PermissionError) and getattr(exc, "winerror", None) != ERROR_PIPE_BUSY:
                raise SwkError(f"{name}: access denied", hint="run from an account of the Authenticated Users, "
                               "Administrators or SYSTEM (the pipe's ACL, spec 1.5)") from None  # fmt: skip
            raise SwkError(f"{name}: cannot connect ({exc})") from None


class BrokerClient:
    """One conversation with the controller; every call is one request and its checked response."""

    def __init__(self, transport: Transport, name: str = PIPE_NAME, sequence: proto.Sequence | None = None) -> None:
        self.transport, self.name = transport, name
        self.sequence = sequence or proto.Sequence()
        self.info: dict[str, int] = {}

    def call(self, command: IpcCommand, payload: bytes = b"") -> proto.Packet:
        """Send `command`, return the response that echoes it (259 included; other failures raise)."""
        seq = self.sequence.next()
        return proto.check_response(self.transport.transact(proto.request(command, seq, payload)), command, seq,
                                    self.name)  # fmt: skip

    def handshake(self) -> dict[str, int]:
        """Negotiate version 1; returns capabilities and whether the controller has the TI provider."""
        self.info = proto.handshake_info(self.call(IpcCommand.Handshake, proto.u32(IPC_VERSION)).payload)
        if self.info["version"] != IPC_VERSION:
            raise SwkError(f"{self.name}: controller negotiated IPC version {self.info['version']}, swk speaks "
                           f"{IPC_VERSION}", hint="use a Sleepwalker build of the 2026-03 protocol")  # fmt: skip
        return self.info

    def set_pids(self, pids: list[int], mask: int) -> None:
        """Replace this client's subscriptions with `pids` on the streams of `mask`."""
        self.call(IpcCommand.SetPids, proto.set_pids(pids, mask))

    def get_event(self, timeout_ms: int = 0) -> bytes | None:
        """The next IOCTL record for this client, or None when its queue is empty (259)."""
        pkt = self.call(IpcCommand.GetEvent, proto.u32(timeout_ms))
        return None if pkt.status == ERROR_NO_MORE_ITEMS else proto.record_bytes(pkt.payload)

    def get_etw_event(self, timeout_ms: int = 0) -> bytes | None:
        """The next uplink ETW event (368 bytes), or None when the ETW queue is empty (259)."""
        pkt = self.call(IpcCommand.GetEtwEvent, proto.u32(timeout_ms))
        return None if pkt.status == ERROR_NO_MORE_ITEMS else bytes(pkt.payload[: proto.ETW_EVENT_SIZE])

    def get_stats(self) -> dict[str, int]:
        """The controller's counts for this client: subscriptions, queue depth, records dropped."""
        return proto.stats_info(self.call(IpcCommand.GetStats).payload)

    def close(self) -> None:
        """End the conversation."""
        self.transport.close()
