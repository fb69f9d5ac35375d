"""The device client against a fake driver that answers DeviceIoControl as spec 1.6 says the kernel does."""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import pytest

from swk.capture.ioctl_encode import handle_record, realistic_records, thread_record
from swk.capture.live.device import DeviceClient, DeviceError
from swk.capture.live.loop import CaptureLoop, LoopOptions
from swk.capture.live.sources import DeviceSource
from swk.kernel.abi import SLEEPWALKER_SET_PIDS_REQUEST, SLEEPWALKER_STATS_RESPONSE, Ioctl
from swk.store.reader import open_case

DEVICE = r"\\.\Global\SleepwalkerCtl"


class FakeDriver:
    """One kernel client: SET_PIDS validated as the driver does, GET_EVENT until 259, GET_STATS."""

    def __init__(self, records: list[bytes], dropped: int = 0) -> None:
        self.queue, self.dropped = deque(records), dropped
        self.pids: list[int] = []
        self.mask = 0
        self.calls: list[str] = []

    def __call__(self, code: int, inbuf: bytes, outsize: int) -> tuple[int, bytes]:
        self.calls.append(Ioctl(code).name)
        if code == Ioctl.SET_PIDS:
            if len(inbuf) != 264:
                return 87, b""
            req = SLEEPWALKER_SET_PIDS_REQUEST.from_buffer_copy(inbuf)
            if not 1 <= req.ProcessCount <= 64 or not req.StreamMask & 0x7:
                return 87, b""
            self.pids, self.mask = list(req.ProcessIds[: req.ProcessCount]), req.StreamMask
            return 0, b""
        if code == Ioctl.GET_EVENT:
            if outsize < 768:
                return 122, b""
            return (0, self.queue.popleft()) if self.queue else (259, b"")
        if code == Ioctl.GET_STATS:
            return 0, bytes(SLEEPWALKER_STATS_RESPONSE(len(self.pids), len(self.queue), self.dropped, 0))
        return 1, b""


def test_set_pids_get_event_until_259_and_stats():
    records = [handle_record(sequence=1), thread_record(sequence=2)]
    driver = FakeDriver(records, dropped=9)
    client = DeviceClient(driver, DEVICE)
    client.set_pids([4242, 5150], 0x3)
    assert (driver.pids, driver.mask) == ([4242, 5150], 0x3)
    assert [client.get_event(), client.get_event(), client.get_event()] == [*records, None]
    assert client.get_stats() == {"subscriptions": 2, "queue_depth": 0, "dropped": 9}
    assert driver.calls == ["SET_PIDS", "GET_EVENT", "GET_EVENT", "GET_EVENT", "GET_STATS"]


def test_a_failed_ioctl_names_the_request_and_the_error():
    client = DeviceClient(FakeDriver([]), DEVICE)
    with pytest.raises(DeviceError) as err:
        client.set_pids([4242], 0x8)
    assert str(err.value) == f"{DEVICE}: IOCTL_SLEEPWALKER_SET_PIDS failed: ERROR_INVALID_PARAMETER"


def test_device_capture_writes_every_record_with_the_drivers_drop_count(tmp_path: Path):
    recs = realistic_records(5_000, seed=4)
    driver = FakeDriver([recs[i : i + 1].tobytes() for i in range(len(recs))], dropped=12)
    source = DeviceSource(lambda: DeviceClient(driver, DEVICE), [4242], 0x7, poll_seconds=0.005)
    loop = CaptureLoop([source], LoopOptions(tmp_path / "case", "WS01", health_seconds=0))
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(loop.run()))
    runner.start()
    deadline = time.monotonic() + 30
    while not (loop.inputs and loop.inputs["device"].written == 5_000 and "GET_STATS" in driver.calls):
        assert time.monotonic() < deadline, "the device source never drained the driver"
        time.sleep(0.01)
    loop.stop()
    runner.join(30)
    (stats,) = result["inputs"]
    assert (stats["path"], stats["written"], stats["info"]["dropped"]) == (DEVICE, 5_000, 12)
    table = open_case(tmp_path / "case").dataset().to_table(columns=["source_offset", "sequence"])
    assert sorted(table["source_offset"].to_pylist()) == [i * 768 for i in range(5_000)]
    assert sorted(table["sequence"].to_pylist()) == list(range(1, 5_001))
