"""Clock conversions to UTC nanoseconds: QPC ticks (IOCTL records) and FILETIME (ETW headers, spec 2.4)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

FILETIME_UNIX_EPOCH = 116_444_736_000_000_000  # 100 ns intervals from 1601-01-01 to 1970-01-01


def qpc_to_ns(qpc: np.ndarray, frequency: int, boot_ns: int = 0) -> np.ndarray:
    """Unix nanoseconds of QPC values, given the QPC frequency and the Unix ns of QPC 0 (boot).

    Split into whole seconds and remainder so `qpc * 1e9` cannot overflow int64 after a few days of uptime.
    """
    qpc = qpc.astype(np.int64)
    seconds, rest = np.divmod(qpc, frequency)
    return boot_ns + seconds * 1_000_000_000 + rest * 1_000_000_000 // frequency


def ns_to_qpc(ns: int, frequency: int, boot_ns: int = 0) -> int:
    """The QPC value of a Unix-ns time (inverse of `qpc_to_ns` for whole ticks)."""
    seconds, rest = divmod(ns - boot_ns, 1_000_000_000)
    return seconds * frequency + rest * frequency // 1_000_000_000


def filetime_to_ns(filetime: int) -> int:
    """Unix nanoseconds of a FILETIME (UTC, 100 ns since 1601)."""
    return (filetime - FILETIME_UNIX_EPOCH) * 100


def ns_to_filetime(ns: int) -> int:
    """FILETIME of Unix nanoseconds (truncated to 100 ns)."""
    return ns // 100 + FILETIME_UNIX_EPOCH


def to_ns(when: datetime) -> int:
    """Unix nanoseconds of an aware datetime."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: give a UTC offset")
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    """Aware UTC datetime of Unix nanoseconds (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)


def iso(ns: int) -> str:
    """ISO-8601 UTC text with nanoseconds trimmed to microseconds: 2026-03-02T10:15:03.512000Z."""
    return from_ns(ns).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
