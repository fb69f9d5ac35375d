"""The little of Win32 the live capture calls directly: the device handle, the QPC clock, elevation.

Importable everywhere (the test suite imports the package on Linux); `ctypes.WinDLL` is touched only inside the
functions, which the live path calls after `require_windows()`.
"""

from __future__ import annotations

import ctypes
import sys
import time
from typing import Any

from swk.errors import SwkError

GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
FILE_SHARE_READ = 0x1
FILE_SHARE_WRITE = 0x2
OPEN_EXISTING = 3
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value


class NeedsWindowsError(SwkError):
    """A live-capture command was run somewhere other than Windows."""

    hint = "run it on the monitored Windows host; here, `swk ingest` reads what was captured there"


def require_windows(what: str) -> None:
    """Raise the one-line `NeedsWindowsError` error off Windows."""
    if sys.platform != "win32":
        raise NeedsWindowsError(
            f"{what} needs Windows (the Sleepwalker driver, its controller and ETW exist only there)"
        )


def _kernel32() -> Any:
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    k32.CreateFileW.restype = ctypes.c_void_p
    k32.CreateFileW.argtypes = [ctypes.c_wchar_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32,
                                ctypes.c_uint32, ctypes.c_void_p]  # fmt: skip
    k32.DeviceIoControl.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32,
                                    ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32),
                                    ctypes.c_void_p]  # fmt: skip
    k32.CloseHandle.argtypes = [ctypes.c_void_p]
    return k32


class DeviceHandle:
    """An open handle to the Sleepwalker control device; `ioctl` returns (Win32 status, output bytes)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._k32 = _kernel32()
        handle = self._k32.CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, None,
                                       OPEN_EXISTING, 0, None)  # fmt: skip
        if handle in (None, INVALID_HANDLE_VALUE):
            err = ctypes.get_last_error()  # type: ignore[attr-defined]
            raise OSError(err, ctypes.FormatError(err).strip(), path)  # type: ignore[attr-defined]
        self.handle = handle

    def ioctl(self, code: int, inbuf: bytes, outsize: int) -> tuple[int, bytes]:
        """One METHOD_BUFFERED DeviceIoControl call."""
        out = ctypes.create_string_buffer(max(outsize, 1))
        returned = ctypes.c_uint32(0)
        src = ctypes.create_string_buffer(inbuf, len(inbuf)) if inbuf else None
        ok = self._k32.DeviceIoControl(self.handle, code, src, len(inbuf), out if outsize else None, outsize,
                                       ctypes.byref(returned), None)  # fmt: skip
        if not ok:
            return ctypes.get_last_error(), b""  # type: ignore[attr-defined]
        return 0, out.raw[: returned.value]

    def close(self) -> None:
        """Close the handle (the driver drops this client's subscriptions and queue)."""
        self._k32.CloseHandle(self.handle)


def qpc_clock() -> tuple[int, int]:
    """(QPC frequency, Unix ns of QPC 0): puts IOCTL records' raw KeQueryPerformanceCounter values on the wall clock.

    User-mode QueryPerformanceCounter reads the same counter as the kernel's, so the wall time at which it was 0
    (boot) is the wall clock minus the counter's age, read as close together as Python allows.
    """
    k32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    freq, count = ctypes.c_int64(), ctypes.c_int64()
    k32.QueryPerformanceFrequency(ctypes.byref(freq))
    before = time.time_ns()
    k32.QueryPerformanceCounter(ctypes.byref(count))
    after = time.time_ns()
    seconds, rest = divmod(count.value, freq.value)
    return freq.value, (before + after) // 2 - seconds * 1_000_000_000 - rest * 1_000_000_000 // freq.value


def is_admin() -> bool:
    """Whether this process runs elevated (Administrators) or as SYSTEM."""
    return bool(ctypes.WinDLL("shell32").IsUserAnAdmin())  # type: ignore[attr-defined]
