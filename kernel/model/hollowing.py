"""Kernel hollowing engine (spec 3.6): the seven per-thread rules and the kernel mark chain.

The per-thread rules run on every thread event, independently, with no cooldown. The mark chain ORs each event's
marks into an (actor, target) entry, resets an entry whose window is older than 30000 ms (losing the triggering
event's marks too [Q]), and emits STRONG (then stops) or MEDIUM with a 3000 ms (>=) cooldown each, so a MEDIUM can
be emitted while the STRONG cools down.
"""

from __future__ import annotations

from swk.kernel.abi import IntentFlag, KernelMark
from swk.kernel.model.chains import Entry, make_table
from swk.kernel.model.timing import CHAIN_WINDOW_MS, KERNEL_COOLDOWN_MS, ms

MEDIUM = "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM"
STRONG = "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"
# Plain ints: IntFlag arithmetic costs microseconds, and this runs for every thread event.
MEM, CTX, DUP = int(IntentFlag.PROCESS_MEMORY), int(IntentFlag.THREAD_CONTEXT), int(IntentFlag.DUP_HANDLE)
REMOTE, OUTSIDE, NON_IMAGE = (
    int(KernelMark.REMOTE_THREAD),
    int(KernelMark.OUTSIDE_IMAGE),
    int(KernelMark.NON_IMAGE_EXEC),
)
MEMORY_MARK, CTX_MARK, DUP_MARK = (int(KernelMark.MEMORY_INTENT), int(KernelMark.THREAD_CONTEXT_INTENT),
                                   int(KernelMark.DUP_HANDLE_INTENT))  # fmt: skip
_SUSPICIOUS = OUTSIDE | NON_IMAGE
_INTENT_MARKS = MEMORY_MARK | CTX_MARK | DUP_MARK


def thread_rules(remote: bool, outside: bool, non_image_exec: bool, flags: int) -> list[str]:
    """Rules 1-7 that fire for one thread event, in emission order."""
    ctx, mem, dup = flags & CTX, flags & MEM, flags & DUP
    odd = outside or non_image_exec
    fired = []
    if remote and flags:
        fired.append("REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT")
    if non_image_exec:
        fired.append("REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION")
    if remote and outside:
        fired.append("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE")
    if ctx and (remote or outside or non_image_exec):
        fired.append("THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT")
    if remote and ctx and odd:
        fired.append("THREAD_HIJACK_INTENT/thread")
    if remote and odd and mem and (ctx or dup):
        fired.append("POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN")
    if remote and odd and (mem or dup):
        fired.append("POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION")
    return fired


def thread_marks(remote: bool, outside: bool, non_image_exec: bool, flags: int) -> int:
    """The kernel marks of one thread event."""
    marks = (REMOTE if remote else 0) | (OUTSIDE if outside else 0) | (NON_IMAGE if non_image_exec else 0)
    if flags & MEM:
        marks |= MEMORY_MARK
    if flags & CTX:
        marks |= CTX_MARK
    if flags & DUP:
        marks |= DUP_MARK
    return marks


def chain_key(actor: int | None, target: int) -> tuple[int, int]:
    """(actor, target), an actor of 0 (or unknown) replaced by the target."""
    return (actor or target, target)


class KernelChain:
    """The mark chain of one host, over a `per-key` or `driver` table."""

    def __init__(self, table: str = "per-key") -> None:
        self.table = make_table(table)

    def step(self, actor: int | None, target: int, marks: int, flags: int | None, mask: int | None,
             age: int | None, now_us: int, evidence: list[tuple[int, int]]) -> tuple[str, Entry] | None:  # fmt: skip
        """Apply one marked thread event; (rule, entry) when it emits. `evidence` = the row and its intents."""
        entry = self.table.get(chain_key(actor, target), now_us)
        if ms(entry.first_seen, now_us) > CHAIN_WINDOW_MS:
            entry.reset_window(now_us)  # the row's marks are lost with the window [Q]
            return None
        entry.marks |= marks
        if flags is not None:
            entry.flags = (entry.flags or 0) | flags
        if mask is not None:
            entry.mask = (entry.mask or 0) | mask
        if age is not None:
            entry.age = age if age else (entry.age or 0)
        entry.evidence.update(evidence)
        m = entry.marks
        if not (m & REMOTE and m & _SUSPICIOUS):
            return None
        strong = m & MEMORY_MARK and m & (CTX_MARK | DUP_MARK)
        if strong and (entry.last_strong is None or ms(entry.last_strong, now_us) >= KERNEL_COOLDOWN_MS):
            entry.last_strong = now_us
            return STRONG, entry
        medium = m & _INTENT_MARKS
        if medium and (entry.last_medium is None or ms(entry.last_medium, now_us) >= KERNEL_COOLDOWN_MS):
            entry.last_medium = now_us
            return MEDIUM, entry
        return None
