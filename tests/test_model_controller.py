"""The controller's TI-assisted mark chain (spec 3.11; docs/detections.md section 9)."""

from __future__ import annotations

import pytest

from swk.kernel.abi import MEM_IMAGE, ControllerMark
from swk.kernel.model import analyze, rowkit
from swk.kernel.model.controller import thread_step_marks, ti_step_marks

C = ControllerMark
A, T = 100, 200
SUSPENDED_EVENT = "KERNEL_THREATINT_TASK_CREATEPROCESS"
CMEDIUM, CSTRONG, CTXF = ("PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "PROCESS_HOLLOWING_MARK_CHAIN_STRONG",
                          "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN")  # fmt: skip


def controller(rows, **kw):
    return [(d.rule, d.trigger_event_id) for d in analyze(rows, **kw) if d.engine == "controller"]


def test_thread_step_marks():
    base, start = 0x7FF6_C0DE_0000, 0x1F4_A0B7_0000
    assert thread_step_marks(A, T, start, base, 0x1000, 0x20000, 0x40, 1) == \
        C.THREAD_START_OUTSIDE_IMAGE | C.THREAD_START_NON_IMAGE_EXEC | C.IMAGE_DRIFT | C.REMOTE_THREAD_INTENT  # fmt: skip
    # [Q] a local thread starting in its exe's code is "outside" too (header-page ImageSize)
    assert thread_step_marks(T, T, base + 0x1A2B0, base, 0x1000, MEM_IMAGE, 0x20, 0) == \
        C.THREAD_START_OUTSIDE_IMAGE | C.IMAGE_DRIFT  # fmt: skip
    assert (
        thread_step_marks(A, T, base + 0x10, base, 0x1000, MEM_IMAGE, 0x20, 2)
        == C.THREAD_CONTEXT_INTENT | C.REMOTE_THREAD_INTENT
    )
    assert thread_step_marks(A, T, None, base, 0x1000, None, None, None) == 0  # unknown facts never fire


@pytest.mark.parametrize(("name", "task", "kw", "marks"), [
    (SUSPENDED_EVENT, 0, {"creation_flags": 0x4}, C.CREATE_SUSPENDED),
    ("CreateProcessSuspended", 0, {}, C.CREATE_SUSPENDED),  # the name says suspend
    (SUSPENDED_EVENT, 0, {"creation_flags": 0x8}, 0),
    ("NtSuspendThread", 0, {"creation_flags": 0x4}, 0),  # not a createprocess event
    ("KTransactionRollback", 0, {}, C.TXF_SUSPECT),
    ("x", 1, {"region_size": 0x8000, "protect": 0x04}, C.TI_ALLOC_RW_LARGE),
    ("x", 1, {"region_size": 0x7FFF, "protect": 0x04}, 0),  # under the large-allocation threshold
    ("x", 1, {"region_size": 0x8000, "protect": 0x40}, C.TI_ALLOC_RW_LARGE),  # RWX counts as writable
    ("x", 1, {"region_size": 0x8000, "protect": 0x02}, 0),  # read-only
    ("x", 7, {}, C.TI_WRITE_VM),
    ("x", 2, {"protect": 0x20, "old_protect": 0x04}, C.TI_PROTECT_RX),
    ("x", 2, {"protect": 0x20, "old_protect": 0}, C.TI_PROTECT_RX),
    ("x", 2, {"protect": 0x20, "old_protect": None}, 0),  # unknown old protection never fires
    ("x", 2, {"protect": 0x20, "old_protect": 0x02}, 0),
    ("x", 2, {"protect": 0x04, "old_protect": 0x04}, 0),
])  # fmt: skip
def test_ti_step_marks(name, task, kw, marks):
    args = {"creation_flags": None, "region_size": None, "protect": None, "old_protect": None, **kw}
    assert ti_step_marks(name, task, T, args["creation_flags"], args["region_size"], args["protect"],
                         args["old_protect"]) == marks  # fmt: skip


def hollowing(ms_of_protect: float = 4, txf: bool = False) -> list[dict]:
    rows = [rowkit.ti(1, 0, A, T, 0, name=SUSPENDED_EVENT, creation_flags=0x4),
            rowkit.thread(2, 1, A, T, 1),  # thread marks (REMOTE_THREAD_WITH_... gives REMOTE_THREAD_INTENT too)
            rowkit.ti(3, 2, A, T, 1, region_size=0x24000, protect=0x04),
            rowkit.ti(4, 3, A, T, 7),
            rowkit.ti(5, ms_of_protect, A, T, 2, protect=0x20, old_protect=0x04)]  # fmt: skip
    if txf:
        rows.insert(1, rowkit.ti(9, 0.5, A, T, 3, name="KERNEL_THREATINT_TASK_MAPVIEW_TRANSACTED"))
    return rows


def test_strong_and_txf():
    # strong = SUSPENDED & ALLOC & WRITE & PROTECT & thread & (CTX | DRIFT); TXF when TXF_SUSPECT is in the marks
    assert controller(hollowing()) == [(CSTRONG, 5)]
    out = [d for d in analyze(hollowing(txf=True)) if d.engine == "controller"]
    assert [(d.rule, d.trigger_event_id) for d in out] == [(CTXF, 5)]
    assert out[0].reason is None and out[0].corr_flags is None and out[0].marks & C.TXF_SUSPECT
    assert out[0].evidence == (1, 2, 3, 4, 5, 9) and out[0].attack == "T1055.013"


def test_medium_paths():
    # medium = (ALLOC & WRITE & PROTECT & thread) | (SUSPENDED & thread & CTX)
    no_suspend = hollowing()[1:]
    assert controller(no_suspend) == [(CMEDIUM, 5)]
    ctx = [rowkit.ti(1, 0, A, T, 0, name=SUSPENDED_EVENT, creation_flags=0x4), rowkit.thread(2, 1, A, T, 2)]
    assert controller(ctx) == [(CMEDIUM, 2)]
    assert controller(ctx[1:]) == []  # no SUSPENDED: nothing


def test_ioctl_thread_records_are_not_controller_input():
    rows = hollowing()
    rows[1] = {**rows[1], "kind": "sleepwalker:ioctl:thread"}
    # the kernel detections of the IOCTL row still give the thread marks (REMOTE_THREAD_OUTSIDE_MAIN_IMAGE step)
    assert controller(rows) == [(CSTRONG, 5)]
    rows[1] = {**rows[1], "outside_main_image": False, "corr_flags": 0}
    assert controller(rows) == []


def test_kernel_detection_steps():
    # REMOTE_APC_CREATION_SUSPECT -> THREAD_CONTEXT_INTENT, which completes SUSPENDED & thread & CTX
    rows = [rowkit.ti(1, 0, A, T, 0, name=SUSPENDED_EVENT, creation_flags=0x4),
            rowkit.thread(2, 1, A, T, 0, outside_main_image=False, start="private"),  # NON_IMAGE marks only
            rowkit.apc(3, 2, A, T, 0x10, "REMOTE_APC_INTENT")]  # fmt: skip
    assert controller(rows) == [(CMEDIUM, 3)]


@pytest.mark.parametrize(("gap_ms", "again"), [(3000, False), (3000.999, False), (3001, True)])
def test_controller_cooldown_is_strictly_greater_than_3000(gap_ms, again):
    rows = [*hollowing()[1:], rowkit.ti(6, 4 + gap_ms, A, T, 7)]  # MEDIUM at the protect, then another step
    assert controller(rows) == [(CMEDIUM, 5)] + ([(CMEDIUM, 6)] if again else [])


def test_medium_while_strong_cools_down():
    rows = [*hollowing(), rowkit.ti(6, 1004, A, T, 7)]
    assert controller(rows) == [(CSTRONG, 5), (CMEDIUM, 6)]


def test_controller_window_reset_loses_the_step():
    rows = hollowing(ms_of_protect=30005)  # the protect step comes 30005 ms after the entry's first step
    assert controller(rows) == []
