"""APC monitor (spec 3.3): remote thread-handle opens with SET_CONTEXT, with a 2000 ms cooldown.

Called from the handle pre-callback for thread objects only, before the HandleTelemetry of the same operation.
The cooldown lives in a 64-slot ring that is scanned, not keyed: an allowed event takes the next round-robin slot,
so more than 64 allowed events within 2 s overwrite an entry and end its cooldown early [Q]. `KeyedCooldown` is the
per-key cooldown the replay uses for reconstruction (docs/detections.md section 2, route B).
"""

from __future__ import annotations

from swk.kernel.abi import THREAD_SET_CONTEXT, THREAD_SUSPEND_RESUME
from swk.kernel.model.timing import APC_COOLDOWN_MS, ms

NONE, REMOTE_APC, THREAD_HIJACK = 0, 1, 2
APC_CLASS = {REMOTE_APC: "REMOTE_APC_INTENT", THREAD_HIJACK: "THREAD_CONTEXT_INTENT"}
APC_RULE = {REMOTE_APC: "REMOTE_APC_CREATION_SUSPECT", THREAD_HIJACK: "THREAD_HIJACK_INTENT/apc"}
RULE_OF_CLASS = {APC_CLASS[k]: APC_RULE[k] for k in APC_CLASS}


def apc_kind(caller: int, target: int, access: int) -> int:
    """0 none, 1 RemoteApc (SET_CONTEXT without SUSPEND_RESUME), 2 ThreadHijack (both); self-opens are skipped."""
    if caller == target or not access & THREAD_SET_CONTEXT:
        return NONE
    return THREAD_HIJACK if access & THREAD_SUSPEND_RESUME else REMOTE_APC


class ApcRing:
    """The driver's unkeyed 64-slot cooldown ring."""

    SIZE = 64

    def __init__(self) -> None:
        self._entries: list[tuple[int, int, int, int] | None] = [None] * self.SIZE
        self._next = 0

    def allow(self, caller: int, target: int, kind: int, now_us: int) -> bool:
        """Suppress when a matching entry is younger than 2000 ms; otherwise record and allow."""
        for entry in self._entries:
            if entry is not None and entry[0] == caller and entry[1] == target and entry[2] == kind \
                    and ms(entry[3], now_us) < APC_COOLDOWN_MS:  # fmt: skip
                return False
        self._entries[self._next % self.SIZE] = (caller, target, kind, now_us)
        self._next += 1
        return True


class KeyedCooldown:
    """Per-(caller, target, kind) cooldown: fires iff no fired event of the key is younger than 2000 ms."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, int, int], int] = {}

    def allow(self, caller: int, target: int, kind: int, now_us: int) -> bool:
        """Allow and remember, or suppress."""
        key = (caller, target, kind)
        last = self._last.get(key)
        if last is not None and ms(last, now_us) < APC_COOLDOWN_MS:
            return False
        self._last[key] = now_us
        return True


class ApcMonitor:
    """The monitor as the pre-callback runs it: kind, then the ring."""

    def __init__(self) -> None:
        self.ring = ApcRing()

    def check(self, caller: int, target: int, access: int, now_us: int) -> int:
        """The kind that fires for this thread-handle operation (0 when nothing is emitted)."""
        kind = apc_kind(caller, target, access)
        if kind and self.ring.allow(caller, target, kind, now_us):
            return kind
        return NONE
