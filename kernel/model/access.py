"""Handle monitor gating (spec 3.1): which handle operations record an intent, and the MEMORY_RELATED test.

[Q] The "memory or full access" test is `access & PROCESS_ALL_ACCESS != 0`, and PROCESS_ALL_ACCESS is 0x001FFFFF, so
any process-handle request with any standard or specific right (even QUERY_LIMITED_INFORMATION 0x1000 or
SYNCHRONIZE 0x100000) counts as memory intent. Only masks made purely of bits above 0x1FFFFF are ignored. The same
test sets MEMORY_RELATED on every record, thread handles included.
"""

from __future__ import annotations

from swk.kernel.abi import (
    PROCESS_ALL_ACCESS,
    PROCESS_CREATE_THREAD,
    PROCESS_VM_OPERATION,
    PROCESS_VM_READ,
    PROCESS_VM_WRITE,
    THREAD_GET_CONTEXT,
    THREAD_SET_CONTEXT,
    THREAD_SUSPEND_RESUME,
    IntentFlag,
)

_VM_WRITE_OR_THREAD = PROCESS_VM_OPERATION | PROCESS_VM_WRITE | PROCESS_CREATE_THREAD
_THREAD_CONTEXT = THREAD_SET_CONTEXT | THREAD_GET_CONTEXT | THREAD_SUSPEND_RESUME
_MEMORY_RELATED = PROCESS_VM_OPERATION | PROCESS_VM_READ | PROCESS_VM_WRITE | PROCESS_CREATE_THREAD


def process_memory_intent(access: int) -> bool:
    """`hasVmWriteOrFull` of a process-handle request: any of VM_OPERATION/VM_WRITE/CREATE_THREAD or any bit of
    PROCESS_ALL_ACCESS [Q]."""
    return bool(access & _VM_WRITE_OR_THREAD) or bool(access & PROCESS_ALL_ACCESS)


def thread_context_intent(access: int) -> bool:
    """`hasThreadContextAccess` of a thread-handle request: SET_CONTEXT, GET_CONTEXT or SUSPEND_RESUME."""
    return bool(access & _THREAD_CONTEXT)


_MEM, _CTX, _DUP = int(IntentFlag.PROCESS_MEMORY), int(IntentFlag.THREAD_CONTEXT), int(IntentFlag.DUP_HANDLE)


def intent_flags(access: int, is_thread: bool, is_duplicate: bool) -> int:
    """The intent flags a handle operation records (0: the operation is ignored, no telemetry and no intent)."""
    if is_thread:
        flags = _CTX if thread_context_intent(access) else 0
    else:
        flags = _MEM if process_memory_intent(access) else 0
    if flags and is_duplicate:
        flags |= _DUP
    return flags


def memory_related(access: int) -> bool:
    """MEMORY_RELATED flag (and the MEMORY stream bit): the same any-bit-of-PROCESS_ALL_ACCESS test [Q]."""
    return bool(access & _MEMORY_RELATED) or bool(access & PROCESS_ALL_ACCESS)


def captures_stack(access: int, is_duplicate: bool) -> bool:
    """Whether the pre-callback walks the user stack (practically always, by the same [Q])."""
    wanted = (
        PROCESS_VM_WRITE | PROCESS_VM_OPERATION | PROCESS_CREATE_THREAD | THREAD_SET_CONTEXT | THREAD_SUSPEND_RESUME
    )
    return is_duplicate or bool(access & wanted) or bool(access & PROCESS_ALL_ACCESS)
