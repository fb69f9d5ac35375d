"""ntdll image checks (spec 3.7), high-value registry (3.8), anti-tamper (3.10)."""

from __future__ import annotations

import pytest

from swk.kernel.model import analyze, rowkit
from swk.kernel.model.ntdll import NtdllCounter, counter_slot, is_known_good, is_ntdll_image
from swk.kernel.model.registry import high_value_attack
from swk.kernel.model.tamper import CLEARED, TAMPER, AntiTamper

SYS32 = "\\Device\\HarddiskVolume3\\Windows\\System32\\ntdll.dll"


def rules(rows):
    return [(d.rule, d.trigger_event_id, d.evidence) for d in analyze(rows)]


def test_q_system32_needle_never_matches():
    # [Q] `\system32\ntdll.dll` is compared with length 20, its NUL included: no path contains it
    assert not is_known_good(SYS32) and not is_known_good("\\SystemRoot\\System32\\ntdll.dll")
    assert is_known_good("\\KnownDlls\\ntdll.dll")
    assert rules([rowkit.image(1, 0, 4000, SYS32)]) == [("SUSPICIOUS_NTDLL_IMAGE_PATH", 1, (1,))]
    assert rules([rowkit.image(1, 0, 4000, "\\KnownDlls\\NTDLL.DLL")]) == []
    out = analyze([rowkit.image(1, 0, 4000, SYS32)])
    assert out[0].reason == SYS32 and (out[0].actor_pid, out[0].target_pid) == (4000, 4000)


def test_only_user_mode_ntdll_paths_count():
    assert is_ntdll_image(SYS32, False) and is_ntdll_image(SYS32, None)
    assert not is_ntdll_image(SYS32, True) and not is_ntdll_image("", False) and not is_ntdll_image(None, False)
    assert rules([rowkit.image(1, 0, 4000, "\\Device\\HarddiskVolume3\\Windows\\System32\\kernel32.dll")]) == []


def test_q_wow64_second_ntdll_is_multiple_mappings():
    rows = [rowkit.image(1, 0, 4000, "\\SystemRoot\\System32\\ntdll.dll"),
            rowkit.image(2, 5, 4000, "\\SystemRoot\\SysWOW64\\ntdll.dll")]  # fmt: skip
    assert rules(rows)[-1] == ("MULTIPLE_NTDLL_IMAGE_MAPPINGS", 2, (1, 2))


def test_q_counter_is_never_cleared_and_slots_collide():
    counter = NtdllCounter()
    assert counter.hit(4000) == (1, True)
    assert counter.hit(4000) == (2, False)
    assert counter_slot(4000) == counter_slot(4000 + 4 * 512)
    assert counter.hit(4000 + 4 * 512) == (1, True)  # a collision resets the slot for the other pid
    assert counter.hit(4000) == (1, True)
    # pid reuse inherits the count: an exited process's new namesake trips MULTIPLE on its first ntdll load
    rows = [rowkit.image(1, 0, 4000, SYS32), rowkit.image(2, 60_000, 4000, SYS32)]
    assert [r for r, _, _ in rules(rows)].count("MULTIPLE_NTDLL_IMAGE_MAPPINGS") == 1


@pytest.mark.parametrize(("path", "attack"), [
    ("\\REGISTRY\\USER\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run", "T1547.001"),
    ("Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce", "T1547.001"),  # the first needle already matches
    ("Software\\Microsoft\\Windows\\CurrentVersion\\RunServicesX", "T1547.001"),
    ("SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options\\sethc.exe", "T1546.012"),
    ("\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Evil", "T1543.003"),
    ("SYSTEM\\CurrentControlSet\\Services\\Evil", None),  # [AMB] relative name: no backslash before `system`
    ("\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\Evil", None),  # the real control set is not named
    ("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RunMRU", None),
    (None, None),
])  # fmt: skip
def test_high_value_needles(path, attack):
    assert high_value_attack(path) == attack
    out = analyze([rowkit.registry(1, 0, 2576, path)])
    assert [(d.rule, d.attack, d.reason, d.target_pid) for d in out] == (
        [("HIGH_VALUE_REGISTRY_ACTIVITY", attack, path, 0)] if attack else []
    )


def test_tamper_emits_on_mask_changes_only():
    tamper = AntiTamper(loaded_us=0)
    assert [tamper.check(m) for m in (0, 1, 1, 3, 0, 0, 8)] == [None, TAMPER, None, TAMPER, CLEARED, None, TAMPER]
    assert list(tamper.ticks(0, 16_000_000)) == [5_000_000, 10_000_000, 15_000_000]  # first 5000 ms after load
    assert list(tamper.ticks(7_000_000, 16_000_000)) == [10_000_000, 15_000_000]


def test_live_tamper_rows_are_live_only():
    rows = [rowkit.live(1, 0, "DRIVER_DISPATCH_OR_OBJECT_TAMPER", 4, 0, severity=5, corr_flags=1,
                        reason="driver dispatch/object integrity drift detected")]  # fmt: skip
    out = analyze(rows)
    assert [(d.status, d.rule, d.evidence, d.engine, d.corr_flags) for d in out] == [
        ("live-only", "DRIVER_DISPATCH_OR_OBJECT_TAMPER", (1,), "kernel", 1)
    ]
