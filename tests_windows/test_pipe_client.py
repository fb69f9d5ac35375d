"""The pipe client through a real Windows named pipe (message mode, 2080-byte buffers, as the controller's), served
by the controller emulator; and the one-line error when neither the controller nor the driver is there."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import pywintypes
import win32file
import win32pipe
from click.testing import CliRunner

from swk.capture.ioctl_encode import handle_record, thread_record
from swk.capture.live.broker import BrokerAbsentError, BrokerClient, connect_pipe
from swk.capture.live.emulator import Emulator
from swk.cli import cli

ERROR_BROKEN_PIPE = 109


def serve(name: str, emulator: Emulator, ready: threading.Event) -> None:
    """One client on a message-mode pipe, answered packet by packet until it disconnects."""
    pipe = win32pipe.CreateNamedPipe(name, win32pipe.PIPE_ACCESS_DUPLEX,
                                     win32pipe.PIPE_TYPE_MESSAGE | win32pipe.PIPE_READMODE_MESSAGE
                                     | win32pipe.PIPE_WAIT, 1, 2080, 2080, 0, None)  # fmt: skip
    ready.set()
    try:
        win32pipe.ConnectNamedPipe(pipe, None)
        while True:
            try:
                _, request = win32file.ReadFile(pipe, 2080)
            except pywintypes.error as exc:
                if exc.winerror == ERROR_BROKEN_PIPE:
                    return
                raise
            win32file.WriteFile(pipe, emulator.answer(bytes(request)))
    finally:
        win32file.CloseHandle(pipe)


def test_client_conversation_over_a_real_pipe() -> None:
    name = rf"\\.\pipe\swk-test-{os.getpid()}"
    records = [handle_record(sequence=1), thread_record(sequence=2)]
    emulator = Emulator(records, dropped=4)
    ready = threading.Event()
    server = threading.Thread(target=serve, args=(name, emulator, ready), daemon=True)
    server.start()
    assert ready.wait(10)
    client = BrokerClient(connect_pipe(name), name)
    assert client.handshake()["capabilities"] == 7
    client.set_pids([4242], 0x7)
    assert [client.get_event(), client.get_event(), client.get_event()] == [*records, None]
    assert client.get_stats()["dropped"] == 4
    client.close()
    server.join(10)
    assert emulator.sequences == [2, 3, 4, 5, 6, 7]


def test_a_missing_pipe_is_reported_as_a_missing_controller() -> None:
    with pytest.raises(BrokerAbsentError, match="SleepwlkrController is not running"):
        connect_pipe(r"\\.\pipe\swk-no-such-pipe")


def test_capture_without_driver_or_controller_says_so_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["capture", "live", "-o", str(tmp_path / "case"), "--ioctl", "4"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: neither the controller's pipe \\\\.\\pipe\\SleepwlkrController nor "
                                    "the device \\\\.\\Global\\SleepwalkerCtl exists")  # fmt: skip
    assert len(result.stderr.splitlines()) == 1
