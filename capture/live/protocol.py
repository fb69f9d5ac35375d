"""The controller's pipe protocol (spec 1.5): 2080-byte packets encoded and checked with the ctypes ABI structs.

Every request and every response is one `SLEEPWALKER_IPC_PACKET`. A response must echo the request's Command and
Sequence; its Status is a Win32 error code, where 259 (ERROR_NO_MORE_ITEMS) means "queue empty", not a failure.
Both sides live here (`request`/`check_response` for the client, `parse_request`/`response` for the test broker),
so the emulator and the client cannot drift apart on the layout.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from swk.errors import InputError, SwkError
from swk.kernel.abi import (
    ERROR_NO_MORE_ITEMS,
    IPC_MAGIC,
    IPC_PACKET_REQUEST,
    IPC_PACKET_RESPONSE,
    IPC_VERSION,
    MAX_PID_LIST,
    PIPE_NAME,
    RECORD_LAYOUTS,
    SLEEPWALKER_EVENT_RECORD,
    SLEEPWALKER_IPC_ETW_EVENT,
    SLEEPWALKER_IPC_HANDSHAKE_RESPONSE,
    SLEEPWALKER_IPC_PACKET,
    SLEEPWALKER_SET_PIDS_REQUEST,
    SLEEPWALKER_STATS_RESPONSE,
    SLEEPWALKER_SUBSCRIBE_REQUEST,
    IpcCommand,
    Stream,
    offsetof,
    sizeof,
)

PACKET_SIZE = sizeof(SLEEPWALKER_IPC_PACKET)  # 2080
PAYLOAD_OFFSET = offsetof(SLEEPWALKER_IPC_PACKET, "Payload")  # 24
PAYLOAD_SIZE = PACKET_SIZE - PAYLOAD_OFFSET
# Magic, Version, PacketType, Command, Sequence, Status: one packet per record makes this the hot path, so the header
# goes through struct (about 5x faster than a 2080-byte ctypes copy); the test pins it to the ctypes declaration.
_HEAD = struct.Struct("<IHHIII")
RECORD_SIZE = sizeof(SLEEPWALKER_EVENT_RECORD)
ETW_EVENT_SIZE = sizeof(SLEEPWALKER_IPC_ETW_EVENT)
STREAMS = {"handle": Stream.HANDLE, "memory": Stream.MEMORY, "thread": Stream.THREAD}

# Win32 codes the controller answers with (spec 1.5), named for error messages.
STATUS_NAMES = {0: "ERROR_SUCCESS", 1: "ERROR_INVALID_FUNCTION", 87: "ERROR_INVALID_PARAMETER",
                122: "ERROR_INSUFFICIENT_BUFFER (subscription table full)", 259: "ERROR_NO_MORE_ITEMS",
                995: "ERROR_OPERATION_ABORTED (controller stopping)",
                1167: "ERROR_DEVICE_NOT_CONNECTED (the controller has no driver handle)",
                1168: "ERROR_NOT_FOUND"}  # fmt: skip


class IpcError(SwkError):
    """The controller answered a request with a failure status."""

    def __init__(self, command: IpcCommand, status: int) -> None:
        self.command, self.status = command, status
        name = STATUS_NAMES.get(status, f"Win32 error {status}")
        super().__init__(f"{PIPE_NAME}: {command.name} failed: {name}",
                         hint="check that SleepwlkrController and the sleepwlkr driver are running")  # fmt: skip


class Sequence:
    """Request sequence numbers as the client makes them: a counter initialised to 1 and pre-incremented (first 2)."""

    def __init__(self, start: int = 1) -> None:
        self.value = start

    def next(self) -> int:
        """The next sequence number (wraps at 32 bits like the C counter)."""
        self.value = (self.value + 1) & 0xFFFFFFFF
        return self.value


class Packet(NamedTuple):
    """A decoded packet: header fields and a view of the payload bytes."""

    packet_type: int
    command: int
    sequence: int
    status: int
    payload: memoryview


def _encode(packet_type: int, command: int, sequence: int, status: int, payload: bytes) -> bytes:
    if len(payload) > PAYLOAD_SIZE:
        raise ValueError(f"payload of {len(payload)} bytes does not fit the {PAYLOAD_SIZE}-byte IPC payload")
    buf = bytearray(PACKET_SIZE)
    _HEAD.pack_into(buf, 0, IPC_MAGIC, IPC_VERSION, packet_type, command, sequence, status)
    buf[PAYLOAD_OFFSET : PAYLOAD_OFFSET + len(payload)] = payload
    return bytes(buf)


def parse_packet(data: bytes, where: str = PIPE_NAME) -> Packet:
    """A packet of either direction, its size, magic and version checked."""
    if len(data) != PACKET_SIZE:
        raise InputError(where, 0, f"IPC packet of {len(data)} bytes, expected {PACKET_SIZE}")
    magic, version, packet_type, command, sequence, status = _HEAD.unpack_from(data)
    if magic != IPC_MAGIC:
        raise InputError(where, 0, f"IPC_PACKET.Magic=0x{magic:08X} is not 0x{IPC_MAGIC:08X}")
    if version != IPC_VERSION:
        raise InputError(where, 4, f"IPC_PACKET.Version={version} is not {IPC_VERSION}")
    return Packet(packet_type, command, sequence, status, memoryview(data)[PAYLOAD_OFFSET:])


def request(command: IpcCommand, sequence: int, payload: bytes = b"") -> bytes:
    """One request packet."""
    return _encode(IPC_PACKET_REQUEST, command, sequence, 0, payload)


def response(command: int, sequence: int, status: int, payload: bytes = b"") -> bytes:
    """One response packet (the broker's side; used by the emulator)."""
    return _encode(IPC_PACKET_RESPONSE, command, sequence, status, payload)


def parse_request(data: bytes, where: str = PIPE_NAME) -> Packet:
    """A request packet, checked (the broker's side)."""
    pkt = parse_packet(data, where)
    if pkt.packet_type != IPC_PACKET_REQUEST:
        raise InputError(where, 6, f"IPC_PACKET.PacketType={pkt.packet_type} is not 1 (request)")
    return pkt


def check_response(data: bytes, command: IpcCommand, sequence: int, where: str = PIPE_NAME) -> Packet:
    """A response packet that answers `command`/`sequence`; a failure Status other than 259 raises `IpcError`."""
    pkt = parse_packet(data, where)
    if pkt.packet_type != IPC_PACKET_RESPONSE:
        raise InputError(where, 6, f"IPC_PACKET.PacketType={pkt.packet_type} is not 2 (response)")
    if pkt.command != command:
        raise InputError(where, 8, f"IPC_PACKET.Command={pkt.command} does not echo {command.name} ({int(command)})")
    if pkt.sequence != sequence:
        raise InputError(where, 12, f"IPC_PACKET.Sequence={pkt.sequence} does not echo {sequence}")
    if pkt.status not in (0, ERROR_NO_MORE_ITEMS):
        raise IpcError(command, pkt.status)
    return pkt


# -- payloads --------------------------------------------------------------------------------------------------------


def stream_mask(names: str) -> int:
    """The stream mask of `handle,memory,thread` tokens (case-insensitive exact tokens, as the client parses them)."""
    mask = 0
    for token in names.split(","):
        if token.lower() not in STREAMS:
            raise ValueError(f"unknown stream {token!r}: choose from {', '.join(STREAMS)}")
        mask |= STREAMS[token.lower()]
    return mask


def u32(value: int) -> bytes:
    """A u32 payload (HandshakeRequest.RequestedVersion, GetEvent/GetEtwEvent TimeoutMs)."""
    return int(value).to_bytes(4, "little")


def set_pids(pids: list[int], mask: int) -> bytes:
    """A SET_PIDS_REQUEST (1..64 pids), the same bytes over the pipe and to the device."""
    if not 1 <= len(pids) <= MAX_PID_LIST:
        raise ValueError(f"{len(pids)} pids: SET_PIDS takes 1 to {MAX_PID_LIST}")
    req = SLEEPWALKER_SET_PIDS_REQUEST(StreamMask=mask, ProcessCount=len(pids))
    for i, pid in enumerate(pids):
        req.ProcessIds[i] = pid
    return bytes(req)


def subscribe(pid: int, mask: int) -> bytes:
    """A SUBSCRIBE_REQUEST."""
    return bytes(SLEEPWALKER_SUBSCRIBE_REQUEST(ProcessId=pid, StreamMask=mask))


def handshake_info(payload: bytes | memoryview) -> dict[str, int]:
    """NegotiatedVersion, Capabilities, ThreatIntelEnabled and the TI enable error of a handshake response."""
    r = SLEEPWALKER_IPC_HANDSHAKE_RESPONSE.from_buffer_copy(payload[: sizeof(SLEEPWALKER_IPC_HANDSHAKE_RESPONSE)])
    return {"version": r.NegotiatedVersion, "capabilities": r.Capabilities, "ti_enabled": r.ThreatIntelEnabled,
            "ti_error": r.Reserved}  # fmt: skip


def stats_info(payload: bytes | memoryview) -> dict[str, int]:
    """SubscriptionCount, QueueDepth and DroppedEvents of a STATS_RESPONSE."""
    r = SLEEPWALKER_STATS_RESPONSE.from_buffer_copy(payload[: sizeof(SLEEPWALKER_STATS_RESPONSE)])
    return {"subscriptions": r.SubscriptionCount, "queue_depth": r.QueueDepth, "dropped": r.DroppedEvents}


def record_bytes(payload: bytes | memoryview) -> bytes:
    """The event record in a GetEvent payload: `Header.Size` bytes when that is a known layout, else 768.

    An unknown size is kept at the spec's 768 bytes so the record decoder rejects it with its reason and offset.
    """
    size = int.from_bytes(payload[:4], "little")
    return bytes(payload[: size if size in RECORD_LAYOUTS and size <= len(payload) else RECORD_SIZE])
