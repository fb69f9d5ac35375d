"""The driver's and the controller's windows and cooldowns, in the replay's time arithmetic.

Every time in the model is an integer count of microseconds (case `ts`). Elapsed milliseconds are truncated, as the
driver truncates its QPC-derived ages (docs/detections.md, "Time arithmetic"), and every comparison below is made on
that truncated value, with the operator the source uses.
"""

from __future__ import annotations

US_PER_MS = 1000

INTENT_WINDOW_MS = 5000  # thread actor resolution and intents(t): age <= 5000 (spec 3.5)
CHAIN_WINDOW_MS = 30000  # mark chains: now - FirstSeen > 30000 resets (3.6, 3.11)
KERNEL_COOLDOWN_MS = 3000  # kernel chain re-emits when ms >= 3000 (3.6)
CONTROLLER_COOLDOWN_MS = 3000  # controller re-emits when ms > 3000, strictly (3.11)
STALE_MS = 60000  # a chain slot idle for more than 60000 ms may be taken over (3.6, 3.11)
APC_COOLDOWN_MS = 2000  # APC monitor allows again when ms >= 2000 (3.3)
APC_EVIDENCE_MS = 1000  # route A: the handle row of the same operation follows within 1000 ms
DEEP_CACHE_TTL_MS = 3000  # deep-path sample cache (3.2)
RECONCILE_MS = 2000  # live and reconstructed detections match within 2000 ms (docs/detections.md 10)
TAMPER_PERIOD_MS = 5000  # anti-tamper timer (3.10)


def ms(earlier_us: int, later_us: int) -> int:
    """Elapsed whole milliseconds from `earlier_us` to `later_us` (floor of the microsecond difference)."""
    return (later_us - earlier_us) // US_PER_MS


def within_us(window_ms: int) -> int:
    """The smallest microsecond gap whose `ms()` exceeds `window_ms` (so `gap < within_us(w)` means `ms <= w`)."""
    return (window_ms + 1) * US_PER_MS
