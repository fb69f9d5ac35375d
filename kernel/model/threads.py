"""Thread monitor (spec 3.5): start facts, main-image range with its header-page ImageSize, and actor resolution.

[Q] ImageSize is the RegionSize of a basic query at the main image's base: the first uniform region, normally the
0x1000-byte PE header page. So `outsideMainImage` is true for practically every thread, including threads that
start in the main executable's code.

[Q] Actor resolution: the actor starts as the notify-time creator (the process itself if 0). If the creator has no
intent on the process within 5000 ms, the newest external caller with intent on it (QueryRecentIntentForTarget,
prefer external) *replaces* the actor, so a thread a process creates in itself is reported as remote whenever any
other process opened a handle to it in the last 5 s (and by the access-mask [Q], almost any open counts).
"""

from __future__ import annotations

from swk.kernel.abi import STATUS_NOT_FOUND, IntentFlag, ThreadFlag
from swk.kernel.model.intents import Intent, IntentStore
from swk.kernel.model.memory import STATUS_INVALID_PARAMETER, AddressSpace, Region, is_exec
from swk.kernel.model.timing import INTENT_WINDOW_MS

U64 = 0xFFFFFFFFFFFFFFFF


def image_range(space: AddressSpace | None, image_base: int | None) -> tuple[int, int]:
    """(ImageBase, ImageSize) as the driver gets them: size = the first region at the base [Q]; (0, 0) if unknown."""
    if space is None or not image_base:
        return 0, 0
    region = space.query(image_base)
    return (image_base, region.size_from(image_base)) if region is not None else (image_base, 0)


def outside_main_image(start: int, base: int, size: int) -> bool:
    """Start outside [base, base + size) or the end overflowing; only when all three are known (non-zero)."""
    if not (start and base and size):
        return False
    end = base + size
    return start < base or start >= end or end > U64


def start_region(space: AddressSpace | None, start: int) -> tuple[Region | None, int]:
    """(region, status) of the basic query at the start address (STATUS_NOT_FOUND when there is no start)."""
    if not start or space is None:
        return None, STATUS_NOT_FOUND
    region = space.query(start)
    return region, (0 if region is not None else STATUS_INVALID_PARAMETER)


def resolve_actor(intents: IntentStore, creator: int, pid: int, now_us: int) -> tuple[int, Intent | None]:
    """(actor, correlated intent or None), window 5000 ms."""
    actor = creator or pid
    found = intents.query(actor, pid, now_us, INTENT_WINDOW_MS)
    if found is not None:
        return actor, found
    other = intents.query_for_target(pid, now_us, INTENT_WINDOW_MS, prefer_external=True)
    if other is not None:
        return other.caller, other
    return actor, None


_F = {name: int(getattr(ThreadFlag, name)) for name in ThreadFlag.__members__}
_MEM, _CTX, _DUP = int(IntentFlag.PROCESS_MEMORY), int(IntentFlag.THREAD_CONTEXT), int(IntentFlag.DUP_HANDLE)


def thread_flags(got_start: bool, got_range: bool, remote: bool, outside: bool, corr_flags: int,
                 start_exec: bool) -> int:  # fmt: skip
    """The IOCTL thread record's Flags."""
    f = _F
    flags = (f["GOT_START"] if got_start else 0) | (f["GOT_RANGE"] if got_range else 0)
    flags |= (f["REMOTE_CREATOR"] if remote else 0) | (f["OUTSIDE_MAIN_IMG"] if outside else 0)
    flags |= (f["CORRELATED_INTENT"] if corr_flags else 0) | (f["CORR_MEMORY"] if corr_flags & _MEM else 0)
    flags |= (f["CORR_THREAD_CTX"] if corr_flags & _CTX else 0) | (f["CORR_DUP_HANDLE"] if corr_flags & _DUP else 0)
    return flags | (f["START_REGION_EXEC"] if start_exec else 0)


__all__ = ["image_range", "is_exec", "outside_main_image", "resolve_actor", "start_region", "thread_flags"]
