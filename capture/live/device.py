"""A client of the Sleepwalker control device (spec 1.1, 1.6): SET_PIDS, GET_EVENT until 259, GET_STATS.

The requests are the ABI structs' bytes (`protocol.set_pids`, the same bytes the pipe carries) and every call goes
through one `ioctl(code, in_bytes, out_size) -> (win32_status, out_bytes)` function, so the whole conversation is
tested here against a fake driver; only `win32.DeviceHandle` talks to Windows.
"""

from __future__ import annotations

from collections.abc import Callable

from swk.capture.live import protocol as proto
from swk.errors import SwkError
from swk.kernel.abi import (
    DOS_DEVICE_PATH,
    ERROR_NO_MORE_ITEMS,
    LEGACY_DOS_DEVICE_PATH,
    SLEEPWALKER_EVENT_RECORD_V2,
    SLEEPWALKER_STATS_RESPONSE,
    Ioctl,
    sizeof,
)

IoctlCall = Callable[[int, bytes, int], tuple[int, bytes]]
ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_ACCESS_DENIED = 5
# What the driver's NTSTATUS failures reach user mode as (spec 1.6).
WIN32_NAMES = {5: "ERROR_ACCESS_DENIED", 21: "ERROR_NOT_READY (driver in shutdown mode)",
               87: "ERROR_INVALID_PARAMETER", 122: "ERROR_INSUFFICIENT_BUFFER", 1168: "ERROR_NOT_FOUND"}  # fmt: skip


class DeviceError(SwkError):
    """A device request failed."""

    hint = "check that the sleepwlkr driver is loaded and not in shutdown mode"


class DeviceAbsentError(SwkError):
    """Neither device link exists."""

    hint = "install and start the Sleepwalker driver (service sleepwlkr)"


class NotElevatedError(SwkError):
    """The device ACL admits only SYSTEM and Administrators."""

    hint = "run from an elevated prompt (Administrators) or as the SYSTEM service: swk capture service install"


class DeviceClient:
    """One kernel client (one open handle) of the control device."""

    def __init__(self, ioctl: IoctlCall, path: str, close: Callable[[], None] | None = None) -> None:
        self.ioctl, self.path, self._close = ioctl, path, close

    def _call(self, code: Ioctl, inbuf: bytes = b"", outsize: int = 0) -> tuple[int, bytes]:
        status, out = self.ioctl(code, inbuf, outsize)
        if status not in (0, ERROR_NO_MORE_ITEMS):
            name = WIN32_NAMES.get(status, f"Win32 error {status}")
            raise DeviceError(f"{self.path}: IOCTL_SLEEPWALKER_{code.name} failed: {name}")
        return status, out

    def set_pids(self, pids: list[int], mask: int) -> None:
        """Replace this handle's subscriptions with `pids` on the streams of `mask`."""
        self._call(Ioctl.SET_PIDS, proto.set_pids(pids, mask))

    def get_event(self) -> bytes | None:
        """The next record (never blocks), or None when the queue is empty (STATUS_NO_MORE_ENTRIES)."""
        # Room for the later 1496-byte layout: the 768-byte driver fills 768 and says so.
        status, out = self._call(Ioctl.GET_EVENT, b"", sizeof(SLEEPWALKER_EVENT_RECORD_V2))
        return None if status == ERROR_NO_MORE_ITEMS else proto.record_bytes(out.ljust(proto.RECORD_SIZE, b"\0"))

    def get_stats(self) -> dict[str, int]:
        """The driver's counts for this handle: subscriptions, queue depth, records dropped."""
        return proto.stats_info(self._call(Ioctl.GET_STATS, b"", sizeof(SLEEPWALKER_STATS_RESPONSE))[1])

    def close(self) -> None:
        """Close the handle."""
        if self._close is not None:
            self._close()


def open_device(paths: tuple[str, ...] = (DOS_DEVICE_PATH, LEGACY_DOS_DEVICE_PATH)) -> DeviceClient:
    """Open the global device link, then the legacy one (Windows)."""
    from swk.capture.live.win32 import DeviceHandle

    for path in paths:
        try:
            handle = DeviceHandle(path)
        except OSError as exc:
            if exc.errno == ERROR_ACCESS_DENIED:
                raise NotElevatedError(
                    f"{path}: access denied: the device admits only SYSTEM and Administrators"
                ) from None
            if exc.errno in (ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND):
                continue
            raise DeviceError(f"{path}: cannot open ({exc})") from None
        return DeviceClient(handle.ioctl, path, handle.close)
    raise DeviceAbsentError(f"no Sleepwalker device: tried {' and '.join(paths)}")
