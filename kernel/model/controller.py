"""The controller's synthetic TI-assisted mark chain (spec 3.11).

Inputs are the controller's own ETW session: Sleepwalker ThreadTelemetry, the kernel's DetectionTelemetry and the
Threat-Intelligence provider. Each input is one step with an (actor, target) and marks; the chain has the kernel
chain's shape with controller constants: 30000 ms window (resetting loses the step's marks [Q]), strictly-greater
3000 ms cooldowns, and the same 256-slot table. [Q] Every rule that sets a thread mark also sets IMAGE_DRIFT, so
strong's "(CTX or DRIFT)" always holds once a thread mark is there; REMOTE_THREAD_INTENT is recorded but never used.
[INF] The controller times steps with GetTickCount64; the model uses the event time.
"""

from __future__ import annotations

from swk.kernel.abi import MEM_IMAGE, ControllerMark, IntentFlag
from swk.kernel.model.chains import Entry, make_table
from swk.kernel.model.timing import CHAIN_WINDOW_MS, CONTROLLER_COOLDOWN_MS, ms

C = ControllerMark
# Plain ints: IntFlag arithmetic is slow and a step runs for every thread event.
SUSPENDED, ALLOC, WRITE, PROTECT = (int(C.CREATE_SUSPENDED), int(C.TI_ALLOC_RW_LARGE), int(C.TI_WRITE_VM),
                                    int(C.TI_PROTECT_RX))  # fmt: skip
CTX_MARK, REMOTE_MARK, DRIFT, TXF_MARK = (int(C.THREAD_CONTEXT_INTENT), int(C.REMOTE_THREAD_INTENT),
                                         int(C.IMAGE_DRIFT), int(C.TXF_SUSPECT))  # fmt: skip
CTX = int(IntentFlag.THREAD_CONTEXT)
MEDIUM = "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM"
STRONG = "PROCESS_HOLLOWING_MARK_CHAIN_STRONG"
TXF = "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN"
LARGE_ALLOC = 0x8000
U64 = 0xFFFFFFFFFFFFFFFF
_EXEC_LOW = (0x10, 0x20, 0x40, 0x80)
_WRITABLE_LOW = (0x04, 0x08, 0x40, 0x80)
_THREAD = int(C.THREAD_START_NON_IMAGE_EXEC | C.THREAD_START_OUTSIDE_IMAGE)
_OUTSIDE = int(C.THREAD_START_OUTSIDE_IMAGE | C.IMAGE_DRIFT)
_NON_IMAGE = int(C.THREAD_START_NON_IMAGE_EXEC | C.IMAGE_DRIFT)
_ALL_THREAD = int(C.THREAD_START_OUTSIDE_IMAGE | C.THREAD_START_NON_IMAGE_EXEC | C.IMAGE_DRIFT)

DETECTION_MARKS = {
    "THREAD_HIJACK_INTENT": int(C.THREAD_CONTEXT_INTENT),
    "THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT": int(C.THREAD_CONTEXT_INTENT),
    "REMOTE_APC_CREATION_SUSPECT": int(C.THREAD_CONTEXT_INTENT),
    "REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT": int(C.REMOTE_THREAD_INTENT),
    "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE": _ALL_THREAD,
    "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION": _ALL_THREAD,
    "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION": _ALL_THREAD,
}
TXF_WORDS = ("txf", "transact", "ktransaction", "rollback")


def thread_step_marks(actor: int | None, target: int, start: int | None, base: int | None, size: int | None,
                      region_type: int | None, region_protect: int | None, corr_flags: int | None) -> int:  # fmt: skip
    """Marks of a ThreadTelemetry step (local threads included)."""
    marks = 0
    if start and base and size:
        start, base = start & U64, base & U64
        end = base + (size & U64)
        if start < base or end > U64 or start >= end:  # an end past 2**64 counts as outside
            marks |= _OUTSIDE
    if region_type is not None and region_protect is not None and region_type != MEM_IMAGE \
            and region_protect & 0xFF in _EXEC_LOW:  # fmt: skip
        marks |= _NON_IMAGE
    if corr_flags and corr_flags & CTX:
        marks |= CTX_MARK
    if actor and target and actor != target and corr_flags:
        marks |= REMOTE_MARK
    return marks


def ti_step_marks(event_name: str | None, task: int | None, target: int, creation_flags: int | None,
                  region_size: int | None, protect: int | None, old_protect: int | None) -> int:  # fmt: skip
    """Marks of a Threat-Intelligence step (`target` already resolved: 0 -> caller)."""
    marks = 0
    name = (event_name or "").lower()
    if "createprocess" in name and ((creation_flags or 0) & 0x4 or "suspend" in name):
        marks |= SUSPENDED
    if any(word in name for word in TXF_WORDS):
        marks |= TXF_MARK
    if target:
        if task == 1 and region_size is not None and protect is not None and region_size >= LARGE_ALLOC \
                and protect & 0xFF in _WRITABLE_LOW:  # fmt: skip
            marks |= ALLOC
        elif task == 7:
            marks |= WRITE
        elif task == 2 and protect is not None and protect & 0xFF in _EXEC_LOW \
                and old_protect is not None and (old_protect == 0 or old_protect & 0xFF in _WRITABLE_LOW):  # fmt: skip
            marks |= PROTECT
    return marks


class ControllerChain:
    """The controller's chain of one host, over a `per-key` or `driver` table."""

    def __init__(self, table: str = "per-key") -> None:
        self.table = make_table(table)

    def step(self, actor: int | None, target: int, marks: int, now_us: int,
             evidence: list[tuple[int, int]]) -> tuple[str, Entry] | None:  # fmt: skip
        """Apply one step; (rule, entry) when it emits."""
        if not marks:
            return None
        entry = self.table.get((actor or target, target), now_us)
        if ms(entry.first_seen, now_us) > CHAIN_WINDOW_MS:
            entry.reset_window(now_us)  # the step's marks are lost with the window [Q]
            return None
        entry.marks |= marks
        entry.evidence.update(evidence)
        m = entry.marks
        if not m & _THREAD:
            return None
        tampered = m & ALLOC and m & WRITE and m & PROTECT
        strong = m & SUSPENDED and tampered and m & (CTX_MARK | DRIFT)
        if strong and (entry.last_strong is None or ms(entry.last_strong, now_us) > CONTROLLER_COOLDOWN_MS):
            entry.last_strong = now_us
            return (TXF if m & TXF_MARK else STRONG), entry
        medium = tampered or (m & SUSPENDED and m & CTX_MARK)
        if medium and (entry.last_medium is None or ms(entry.last_medium, now_us) > CONTROLLER_COOLDOWN_MS):
            entry.last_medium = now_us
            return MEDIUM, entry
        return None
