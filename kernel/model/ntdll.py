"""Image monitor ntdll checks (spec 3.7): the known-good path test with its dead needle, and the 512-slot counter.

[Q] The known-good needles are `\\system32\\ntdll.dll` and `\\knowndlls\\ntdll.dll`, but the first is compared with
length 20, one more than its 19 characters, so its terminating NUL is part of the comparison and it can never match
inside a path. Only `\\knowndlls\\ntdll.dll` makes a path known-good; every normal load
(`\\Windows\\System32\\ntdll.dll`) raises SUSPICIOUS_NTDLL_IMAGE_PATH.

[Q] The load counter is a 512-slot table indexed by (pid >> 2) mod 512; a slot holding another pid is reset to
this one with count 0; it is never cleared on exit, so pid reuse inherits a count and slot collisions reset it.
"""

from __future__ import annotations

NTDLL_NEEDLE = "ntdll.dll"
_SYSTEM32 = ("\\system32\\ntdll.dll", 20)  # (needle, compared length) [Q]: 20 > len, the NUL is compared too
_KNOWNDLLS = ("\\knowndlls\\ntdll.dll", 20)
COUNTER_SLOTS = 512


def _contains(haystack: str, needle: str, length: int) -> bool:
    """Case-insensitive search comparing `length` characters of the NUL-terminated needle, as the driver does."""
    pattern = (needle + "\0")[:length]
    return pattern.lower() in haystack.lower()  # a NUL never occurs inside a path, so a too-long pattern never hits


def is_ntdll_image(path: str | None, system_mode: bool | None) -> bool:
    """A user-mode image with a non-empty path containing `ntdll.dll` (case-insensitive)."""
    return bool(path) and not system_mode and NTDLL_NEEDLE in path.lower()  # type: ignore[union-attr]


def is_known_good(path: str) -> bool:
    """Whether the path counts as a known-good ntdll (only `\\knowndlls\\ntdll.dll` can, [Q])."""
    return _contains(path, *_SYSTEM32) or _contains(path, *_KNOWNDLLS)


def counter_slot(pid: int) -> int:
    """The counter slot of a pid (on the unsigned value, as the driver's ULONG_PTR)."""
    return ((pid & 0xFFFFFFFFFFFFFFFF) >> 2) % COUNTER_SLOTS


class NtdllCounter:
    """The 512-slot load counter; `hit` returns the count after this load."""

    def __init__(self) -> None:
        self._pid: list[int | None] = [None] * COUNTER_SLOTS
        self._count = [0] * COUNTER_SLOTS

    def hit(self, pid: int) -> tuple[int, bool]:
        """(count after the load, whether the slot was reset for this pid)."""
        slot = counter_slot(pid)
        reset = self._pid[slot] != pid
        if reset:
            self._pid[slot], self._count[slot] = pid, 0
        self._count[slot] += 1
        return self._count[slot], reset
