"""Per-thread rules (spec 3.6 rules 1-7; docs/detections.md section 3): each rule's smallest positive and one
near-miss per clause."""

from __future__ import annotations

import pytest

from swk.kernel.abi import MEM_IMAGE
from swk.kernel.model import analyze, rowkit

MEM, CTX, DUP = 1, 2, 4
A, T = 100, 200  # actor, target


def fired(row: dict) -> set[str]:
    """Rules raised by one thread row (the mark chain left out)."""
    return {d.rule for d in analyze([row]) if "MARK_CHAIN" not in d.rule}


# 1. REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT: `remote AND corr_flags <> 0`
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T, MEM), True),
    (rowkit.thread(1, 0, T, T, MEM), False),  # not remote
    (rowkit.thread(1, 0, A, T, 0), False),  # no correlation
    (rowkit.thread(1, 0, A, T, None), False),  # correlation not carried
])  # fmt: skip
def test_rule1_remote_thread_with_recent_handle_intent(row, fires):
    assert ("REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT" in fired(row)) is fires


# 2. REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION: `non_image_exec` = remote AND got_start AND start_region_exec
#    AND start_region_status >= 0 AND start_region_type <> MEM_IMAGE (all non-NULL)
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T, 0, start="private"), True),
    (rowkit.thread(1, 0, T, T, 0, start="private"), False),  # local
    (rowkit.thread(1, 0, A, T, 0, start="private", got_start=False), False),
    (rowkit.thread(1, 0, A, T, 0, start="private", start_region_exec=False), False),
    (rowkit.thread(1, 0, A, T, 0, start="private", start_region_status=-0x3FFFFDDB), False),  # query failed
    (rowkit.thread(1, 0, A, T, 0, start="private", start_region_type=MEM_IMAGE), False),  # image-backed start
    (rowkit.thread(1, 0, A, T, 0, start="private", start_region_type=None), False),  # IOCTL record: not carried
])  # fmt: skip
def test_rule2_start_in_non_image_executable_region(row, fires):
    assert ("REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION" in fired(row)) is fires


# 3. REMOTE_THREAD_OUTSIDE_MAIN_IMAGE: `remote AND outside`
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T), True),  # even with no correlation at all
    (rowkit.thread(1, 0, T, T), False),
    (rowkit.thread(1, 0, A, T, outside_main_image=False), False),
    (rowkit.thread(1, 0, A, T, outside_main_image=None), False),
])  # fmt: skip
def test_rule3_outside_main_image(row, fires):
    assert ("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE" in fired(row)) is fires


# 4. THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT: `ctx AND (remote OR outside OR non_image_exec)`
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T, CTX, outside_main_image=False), True),  # remote alone suffices
    (rowkit.thread(1, 0, T, T, CTX), True),  # outside alone suffices (a local thread)
    (rowkit.thread(1, 0, A, T, MEM), False),  # no thread-context intent
    (rowkit.thread(1, 0, T, T, CTX, outside_main_image=False), False),  # local, inside, image start
])  # fmt: skip
def test_rule4_thread_activity_with_thread_context_intent(row, fires):
    assert ("THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT" in fired(row)) is fires


# 5. THREAD_HIJACK_INTENT (thread variant): `remote AND ctx AND (outside OR non_image_exec)`
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T, CTX), True),
    (rowkit.thread(1, 0, A, T, CTX, start="private", outside_main_image=False), True),  # non-image start
    (rowkit.thread(1, 0, T, T, CTX), False),  # local
    (rowkit.thread(1, 0, A, T, MEM), False),  # no ctx
    (rowkit.thread(1, 0, A, T, CTX, outside_main_image=False), False),  # neither outside nor non-image
])  # fmt: skip
def test_rule5_thread_hijack_intent_thread_variant(row, fires):
    assert ("THREAD_HIJACK_INTENT/thread" in fired(row)) is fires


# 6. POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN: `remote AND (outside OR nie) AND mem AND (ctx OR dup)`
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T, MEM | CTX), True),
    (rowkit.thread(1, 0, A, T, MEM | DUP), True),
    (rowkit.thread(1, 0, A, T, CTX | DUP), False),  # no memory intent
    (rowkit.thread(1, 0, A, T, MEM), False),  # memory without ctx or dup
    (rowkit.thread(1, 0, T, T, MEM | CTX), False),  # local
    (rowkit.thread(1, 0, A, T, MEM | CTX, outside_main_image=False), False),  # nothing suspicious about the start
])  # fmt: skip
def test_rule6_possible_process_hollowing(row, fires):
    assert ("POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN" in fired(row)) is fires


# 7. POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION: `remote AND (outside OR nie) AND (mem OR dup)`
@pytest.mark.parametrize(("row", "fires"), [
    (rowkit.thread(1, 0, A, T, MEM), True),
    (rowkit.thread(1, 0, A, T, DUP), True),
    (rowkit.thread(1, 0, A, T, CTX), False),
    (rowkit.thread(1, 0, T, T, MEM), False),
    (rowkit.thread(1, 0, A, T, MEM, outside_main_image=False), False),
])  # fmt: skip
def test_rule7_possible_manual_map(row, fires):
    assert ("POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION" in fired(row)) is fires


def test_rules_emit_in_catalogue_order_with_the_rows_corr():
    out = analyze([rowkit.thread(1, 0, A, T, MEM | CTX, start="private", corr_access_mask=0x143A, corr_age_ms=14)])
    assert [d.rule for d in out] == [
        "REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION",
        "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", "THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT", "THREAD_HIJACK_INTENT/thread",
        "POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN", "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION",
        "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"]  # fmt: skip
    assert {(d.corr_flags, d.corr_access_mask, d.corr_age_ms) for d in out[:7]} == {(3, 0x143A, 14)}
    assert [d.id for d in out] == list(range(1, 9)) and out[0].actor_pid == A and out[0].target_pid == T


def test_evidence_is_the_row_and_its_intents():
    # intents(t): handle rows of the same (actor, target), before t, with ms(h, t) <= 5000; none when corr_flags = 0
    rows = [rowkit.handle(1, 0, A, T), rowkit.handle(2, 998.999, A, T), rowkit.handle(3, 1000, A, 999),
            rowkit.handle(4, 1000, 999, T), rowkit.thread(5, 5999, A, T, MEM), rowkit.handle(6, 5999, A, T),
            rowkit.thread(7, 6000, A, T, 0)]  # fmt: skip
    out = [d for d in analyze(rows) if d.rule == "REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT"]
    assert [d.evidence for d in out] == [(2, 5)]  # row 1 is 5999 ms old; 2 is 5000.000 ms (kept)
    assert out[0].first_ts == rows[1]["ts"] and out[0].last_ts == rows[4]["ts"] and out[0].ts == rows[4]["ts"]
    outside = [d for d in analyze(rows) if d.rule == "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE" and d.trigger_event_id == 7]
    assert outside[0].evidence == (7,)  # corr_flags 0: no intents
