"""The controller's pipe packets (spec 1.5) and the broker's ETW uplink events, on exact bytes."""

from __future__ import annotations

import pytest

from swk.capture.ioctl_encode import handle_record
from swk.capture.live import protocol as proto
from swk.capture.live import uplink
from swk.errors import InputError
from swk.kernel.abi import (
    IPC_MAGIC,
    SLEEPWALKER_IPC_ETW_EVENT,
    SLEEPWALKER_IPC_HANDSHAKE_RESPONSE,
    SLEEPWALKER_IPC_PACKET,
    SLEEPWALKER_STATS_RESPONSE,
    IpcCommand,
    IpcEtwSource,
)

PIPE = r"\\.\pipe\SleepwlkrController"


def test_request_bytes_follow_the_packet_layout():
    data = proto.request(IpcCommand.GetEvent, 7, proto.u32(0))
    assert len(data) == 2080
    assert data[:4] == bytes.fromhex("524B5753")  # magic as it appears on the wire
    assert data[4:6] == (1).to_bytes(2, "little")  # version
    assert data[6:8] == (1).to_bytes(2, "little")  # request
    assert data[8:12] == (5).to_bytes(4, "little") and data[12:16] == (7).to_bytes(4, "little")
    assert data[16:24] == bytes(8)  # status 0 and padding
    assert data[24:28] == bytes(4) and data[28:] == bytes(2080 - 28)


def test_client_sequences_start_at_two_and_wrap_at_32_bits():
    seq = proto.Sequence()
    assert [seq.next(), seq.next(), seq.next()] == [2, 3, 4]
    assert proto.Sequence(0xFFFFFFFF).next() == 0


def test_a_response_must_echo_command_and_sequence():
    ok = proto.response(IpcCommand.GetStats, 9, 0, bytes(SLEEPWALKER_STATS_RESPONSE(2, 5, 11, 0)))
    pkt = proto.check_response(ok, IpcCommand.GetStats, 9)
    assert proto.stats_info(pkt.payload) == {"subscriptions": 2, "queue_depth": 5, "dropped": 11}
    with pytest.raises(InputError) as err:
        proto.check_response(ok, IpcCommand.GetStats, 10)
    assert str(err.value) == f"{PIPE} @0x0000000c: IPC_PACKET.Sequence=9 does not echo 10"
    with pytest.raises(InputError) as err:
        proto.check_response(ok, IpcCommand.GetEvent, 9)
    assert str(err.value) == f"{PIPE} @0x00000008: IPC_PACKET.Command=6 does not echo GetEvent (5)"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ((0, b"RKWT"), "@0x00000000: IPC_PACKET.Magic=0x54574B52 is not 0x53574B52"),
        ((4, b"\x02\x00"), "@0x00000004: IPC_PACKET.Version=2 is not 1"),
        ((6, b"\x01\x00"), "@0x00000006: IPC_PACKET.PacketType=1 is not 2 (response)"),
    ],
)
def test_a_damaged_response_names_the_field(patch, message):
    data = bytearray(proto.response(IpcCommand.Handshake, 2, 0))
    at, raw = patch
    data[at : at + len(raw)] = raw
    with pytest.raises(InputError) as err:
        proto.check_response(bytes(data), IpcCommand.Handshake, 2)
    assert str(err.value) == f"{PIPE} {message}"


def test_a_short_packet_is_refused():
    with pytest.raises(InputError, match="IPC packet of 2079 bytes, expected 2080"):
        proto.check_response(proto.response(IpcCommand.Handshake, 2, 0)[:-1], IpcCommand.Handshake, 2)


def test_status_259_is_an_empty_queue_and_other_failures_raise_with_their_name():
    empty = proto.check_response(proto.response(IpcCommand.GetEvent, 3, 259), IpcCommand.GetEvent, 3)
    assert empty.status == 259
    with pytest.raises(proto.IpcError) as err:
        proto.check_response(proto.response(IpcCommand.SetPids, 4, 1167), IpcCommand.SetPids, 4)
    assert err.value.status == 1167
    assert "SetPids failed: ERROR_DEVICE_NOT_CONNECTED" in str(err.value)


def test_handshake_response_fields():
    payload = bytes(SLEEPWALKER_IPC_HANDSHAKE_RESPONSE(1, 0x7, 0, 5))
    assert proto.handshake_info(payload) == {"version": 1, "capabilities": 7, "ti_enabled": 0, "ti_error": 5}


def test_set_pids_is_the_264_byte_request():
    data = proto.set_pids([4242, 5150], 0x5)
    assert len(data) == 264
    assert data[:8] == (5).to_bytes(4, "little") + (2).to_bytes(4, "little")
    assert data[8:16] == (4242).to_bytes(4, "little") + (5150).to_bytes(4, "little")
    assert data[16:] == bytes(248)
    with pytest.raises(ValueError, match="65 pids: SET_PIDS takes 1 to 64"):
        proto.set_pids(list(range(1, 66)), 1)


def test_stream_tokens_are_exact_and_case_insensitive():
    assert proto.stream_mask("handle,memory,thread") == 0x7
    assert proto.stream_mask("THREAD") == 0x4
    with pytest.raises(ValueError, match="unknown stream ' memory'"):
        proto.stream_mask("handle, memory")  # the client does not trim: neither do we


def test_record_bytes_follow_header_size():
    record = handle_record()
    payload = record + bytes(2056 - 768)
    assert proto.record_bytes(payload) == record
    odd = (999).to_bytes(4, "little") + payload[4:]
    assert len(proto.record_bytes(odd)) == 768  # unknown size: the decoder rejects it with its reason


def _etw_event(
    source: int,
    name: str = "",
    detection: bytes = b"",
    *,
    tid: int = 1234,
    primary: int = 6700,
    secondary: int = 3864,
    header_pid: int = 4,
    severity: int = 5,
    task: int = 0,
) -> bytes:
    ev = SLEEPWALKER_IPC_ETW_EVENT(
        Source=source,
        Task=task,
        EventProcessId=header_pid,
        EventThreadId=tid,
        Severity=severity,
        PrimaryPid=primary,
        SecondaryPid=secondary,
        DetectionName=detection,
    )
    units = name.encode("utf-16-le")
    for i in range(0, len(units), 2):
        ev.EventName[i // 2] = int.from_bytes(units[i : i + 2], "little")
    return bytes(ev)


def test_uplink_kernel_detection_row():
    raw = _etw_event(IpcEtwSource.SLEEPWALKER, "DetectionTelemetry", b"REMOTE_THREAD_NON_IMAGE_START")
    row = uplink.row(raw, 1_772_000_000_000_000)
    assert row == {
        "ts": 1_772_000_000_000_000, "raw_clock": 1_772_000_000_000_000, "clock": "capture-receive",
        "header_pid": 4, "header_tid": 1234, "event_name": "DetectionTelemetry", "etw_event_id": 0, "opcode": 0,
        "task": 0, "actor_pid": 6700, "family": "detection", "kind": "sleepwalker:broker:DetectionTelemetry",
        "provider": "Sleepwalker.Kernel", "target_pid": 3864, "detection_name": "REMOTE_THREAD_NON_IMAGE_START",
        "severity": 5,
    }  # fmt: skip
    # swk's own ETW session already has the kernel's detections: the uplink copy is not a second row
    assert uplink.row(raw, 0, own_etw=True) is None


def test_uplink_synthetic_detection_is_kept_even_with_own_etw():
    raw = _etw_event(IpcEtwSource.SLEEPWALKER, "", b"PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", tid=0, header_pid=6700)
    row = uplink.row(raw, 0, own_etw=True)
    assert row is not None
    assert row["kind"] == "sleepwalker:controller:detection"
    assert (row["detection_name"], row["actor_pid"], row["target_pid"]) == (
        "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM",
        6700,
        3864,
    )


def test_uplink_ti_row_and_actor_fallback():
    raw = _etw_event(IpcEtwSource.THREAT_INTELLIGENCE, "", b"", primary=0, secondary=0, header_pid=6700, task=7)
    row = uplink.row(raw, 0)
    assert row is not None
    assert (row["family"], row["kind"], row["task"]) == ("ti", "ti:broker:task 7", 7)
    assert (row["actor_pid"], row["target_pid"]) == (6700, 6700)  # header pid; target 0 -> the caller
    assert row["provider"] == "Microsoft-Windows-Threat-Intelligence"


def test_uplink_plain_sleepwalker_events_carry_nothing_of_their_own():
    assert uplink.row(_etw_event(IpcEtwSource.SLEEPWALKER, "HandleTelemetry"), 0) is None
    with pytest.raises(ValueError, match="too short"):
        uplink.row(b"\0" * 100, 0)


def test_packet_header_agrees_with_the_ctypes_declaration():
    pkt = SLEEPWALKER_IPC_PACKET(Magic=IPC_MAGIC, Version=1, PacketType=2, Command=9, Sequence=77, Status=259)
    parsed = proto.parse_packet(bytes(pkt))
    assert (parsed.packet_type, parsed.command, parsed.sequence, parsed.status) == (2, 9, 77, 259)
    want = SLEEPWALKER_IPC_PACKET(Magic=IPC_MAGIC, Version=1, PacketType=1, Command=6, Sequence=3)
    assert proto.request(IpcCommand.GetStats, 3) == bytes(want)
