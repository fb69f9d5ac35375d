"""Large Windows logs decoded on every core: units of work (EVTX chunk ranges, blocks of JSON lines) go to worker
processes and their results come back in input order.

Why processes: pyevtx-rs keeps the GIL while it parses, and json.loads and the mapping are Python, so threads add
nothing; one process decodes at about half the rate of pyevtx-rs plus json.loads alone. At most one unit per
worker and one more are in flight, so memory stays flat whatever the input size. A small input is decoded in this process by
the same function, so both paths give the same rows. Workers come from a forkserver: the ingest process already
runs writer and hashing threads, and forking a threaded process is unsafe; the forkserver preloads the readers.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from swk.capture.base import Reject
from swk.capture.sysmon.rows import Stats

WORKERS = max(1, min(os.cpu_count() or 1, 8))
QUEUED = 2 * WORKERS  # tasks given to workers at once: each has one and the next is waiting
HELD = QUEUED + WORKERS  # tasks in hand at once (given to workers, decoded here, or done and not yet taken)
_pool: ProcessPoolExecutor | None = None
# Imported once by the forkserver, so each worker forks with swk and pyarrow loaded instead of importing them
# itself: two workers return their first task 0.15 s sooner on this 2-core machine under load (0.46 s -> 0.31 s).
PRELOAD = ("swk.capture.sysmon.evtx_file", "swk.capture.sysmon.json_lines")


@dataclass
class Part:
    """What a unit of work produced: rows and rejects in input order, and what its context noticed."""

    items: list[pa.RecordBatch | Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    stats: Stats = field(default_factory=Stats)
    accepted: bool = False  # JSON lines: the unit held at least one event
    leading: list[int] = field(default_factory=list)  # JSON lines: non-event line numbers before its first event
    many: list[tuple[Any, pa.RecordBatch | Reject]] = field(default_factory=list)  # EVTX files: `read_many`'s items
    files: list[tuple[int, list[str], dict[str, object]]] = field(default_factory=list)  # skipped, warnings, info
    error: Exception | None = None  # what ended the unit, raised after its items


def ordered(fn: Callable[..., Part], tasks: Iterable[tuple[Any, ...]], *, parallel: bool) -> Iterator[Part]:
    """`fn(*task)` for every task, in task order: in worker processes when `parallel` and there are cores.

    Every worker has a task and the next one is waiting, so a worker does not idle while this process writes. Until
    the first task is back, this process decodes the next tasks itself instead of waiting: the first worker takes a
    few tenths of a second to start (the forkserver imports swk and pyarrow first). After that it only hands out
    tasks, as a third decoder on two cores would delay them. At most `HELD` tasks are in hand, so memory stays flat.

    If the workers cannot run (a script that imports swk without an `if __name__ == "__main__"` guard makes
    every worker re-run it), the tasks are decoded here instead, with a warning in the first part.
    """
    pool = _shared_pool() if parallel else None
    if pool is None:
        for task in tasks:
            yield fn(*task)
        return
    window: deque[tuple[tuple[Any, ...], Future[Part] | Part]] = deque()  # in task order
    queued = 0  # futures in the window
    started = broken = False  # started: a worker has returned a task
    todo = iter(tasks)
    try:
        while True:
            while not broken and queued < QUEUED and (task := next(todo, None)) is not None:
                window.append((task, pool.submit(fn, *task)))
                queued += 1
            if not window:
                return
            task, head = window[0]
            if not started and not broken and isinstance(head, Future) and not head.done() and len(window) < HELD:
                here = next(todo, None)
                if here is not None:
                    window.append((here, fn(*here)))
                    continue
            window.popleft()
            if isinstance(head, Part):
                yield head
                continue
            queued -= 1
            started = True
            part, broken = _result(fn, task, head, broken)
            yield part
            if broken:  # the rest here, in order: what is in the window first
                for task, item in window:
                    yield item if isinstance(item, Part) else _result(fn, task, item, True)[0]
                window.clear()
                for task in todo:
                    yield fn(*task)
                return
    finally:
        for _task, pending in window:  # the consumer stopped early (an error downstream): drop what is queued
            if isinstance(pending, Future):
                pending.cancel()


def _result(fn: Callable[..., Part], task: tuple[Any, ...], future: Future[Part], broken: bool) -> tuple[Part, bool]:
    """A task's part from its worker, or decoded here when the pool is broken."""
    if not broken:
        try:
            return future.result(), False
        except BrokenProcessPool:
            _discard_pool()
            part = fn(*task)
            part.warnings.insert(0, "worker processes could not start; decoding in this process")
            return part, True
    return fn(*task), True


def _shared_pool() -> ProcessPoolExecutor | None:
    """One pool for the process, started on first use (a worker's memos stay warm across inputs); None when
    `SWK_WORKERS=1` asks for no workers, or a worker could not start this program again."""
    global _pool
    if not available():
        return None
    if _pool is None:
        context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        if os.name == "posix":  # __main__ is the forkserver's own default
            context.set_forkserver_preload(["__main__", *PRELOAD])
        _pool = ProcessPoolExecutor(WORKERS, mp_context=context)
        atexit.register(_pool.shutdown, cancel_futures=True)
    return _pool


def available() -> bool:
    """Whether `ordered(..., parallel=True)` would use worker processes: there are cores, `SWK_WORKERS=1` does not
    ask for none, and a worker can start this program again."""
    return WORKERS > 1 and os.environ.get("SWK_WORKERS") != "1" and _restartable()


def _restartable() -> bool:
    """Whether a worker can import the program's main module as multiprocessing does: not when that was read from
    standard input (`python - < script`), which each worker would try to open as a file named `<stdin>`, print its
    traceback and die (the tasks would then be decoded here anyway, after the tracebacks)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.isfile(path)


def _discard_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
