"""Sleepwalker's detection catalogue (spec section 3.0): exact names, severities, reasons, emitters.

`rule` is swk's unique key for a detector: THREAD_HIJACK_INTENT is emitted by two detectors with the same name and
severity, told apart only by the reason [Q], so their rules are `THREAD_HIJACK_INTENT/apc` and `.../thread`.
`attack` is the ATT&CK technique swk reports; the driver itself carries none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    """One catalogue row."""

    rule: str
    name: str
    severity: int
    emitter: str
    reason: str | None  # None: the reason is data (image path, key path) or absent (controller)
    attack: str
    section: str


CATALOGUE: tuple[Detection, ...] = (
    Detection("DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION", "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION", 4, "kernel",
              "handle operation classified as direct-syscall suspect", "T1106", "3.2"),
    Detection("STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP", "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP", 5, "kernel",
              "stack, return-address, unwind, module chain, or teb bounds integrity failed", "T1106", "3.2"),
    Detection("REMOTE_APC_CREATION_SUSPECT", "REMOTE_APC_CREATION_SUSPECT", 4, "kernel",
              "remote thread handle set-context intent suggests APC-style execution", "T1055.004", "3.3"),
    Detection("THREAD_HIJACK_INTENT/apc", "THREAD_HIJACK_INTENT", 5, "kernel",
              "thread set-context plus suspend/resume intent indicates hijack pattern", "T1055.003", "3.3"),
    Detection("REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", "REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT", 4, "kernel",
              "remote thread activity correlated with recent handle intent", "T1055", "3.6"),
    Detection("REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION",
              "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION", 5, "kernel",
              "remote thread start address resolved to executable non-image memory", "T1055.002", "3.6"),
    Detection("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", 3, "kernel",
              "remote thread start address is outside target main image range", "T1055", "3.6"),
    Detection("THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT", "THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT", 4, "kernel",
              "thread activity observed after thread-context handle intent", "T1055.003", "3.6"),
    Detection("THREAD_HIJACK_INTENT/thread", "THREAD_HIJACK_INTENT", 5, "kernel",
              "thread-context intent combined with suspicious remote thread execution", "T1055.003", "3.6"),
    Detection("POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN",
              "POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN", 6, "kernel",
              "memory and thread intent chain indicates potential hollowing/injection", "T1055.012", "3.6"),
    Detection("POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION", "POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION", 6, "kernel",
              "remote execution from suspicious region after memory/duplicate intent", "T1055", "3.6"),
    Detection("KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", 5, "kernel",
              "kernel hollowing mark-chain (medium)", "T1055.012", "3.6"),
    Detection("KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG", "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG", 7, "kernel",
              "kernel hollowing mark-chain (strong)", "T1055.012", "3.6"),
    Detection("SUSPICIOUS_NTDLL_IMAGE_PATH", "SUSPICIOUS_NTDLL_IMAGE_PATH", 4, "kernel", None, "T1562.001", "3.7"),
    Detection("MULTIPLE_NTDLL_IMAGE_MAPPINGS", "MULTIPLE_NTDLL_IMAGE_MAPPINGS", 3, "kernel",
              "multiple ntdll image-load events observed for process", "T1562.001", "3.7"),
    Detection("HIGH_VALUE_REGISTRY_ACTIVITY", "HIGH_VALUE_REGISTRY_ACTIVITY", 2, "kernel", None, "T1547.001", "3.8"),
    Detection("DRIVER_DISPATCH_OR_OBJECT_TAMPER", "DRIVER_DISPATCH_OR_OBJECT_TAMPER", 5, "kernel",
              "driver dispatch/object integrity drift detected", "T1014", "3.10"),
    Detection("DRIVER_DISPATCH_OR_OBJECT_TAMPER_CLEARED", "DRIVER_DISPATCH_OR_OBJECT_TAMPER_CLEARED", 2, "kernel",
              "driver dispatch/object integrity returned to expected state", "T1014", "3.10"),
    Detection("PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", 5, "controller", None,
              "T1055.012", "3.11"),
    Detection("PROCESS_HOLLOWING_MARK_CHAIN_STRONG", "PROCESS_HOLLOWING_MARK_CHAIN_STRONG", 7, "controller", None,
              "T1055.012", "3.11"),
    Detection("PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN", "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN", 8, "controller", None,
              "T1055.013", "3.11"),
)  # fmt: skip

BY_RULE: dict[str, Detection] = {d.rule: d for d in CATALOGUE}
NAMES: frozenset[str] = frozenset(d.name for d in CATALOGUE)

# High-value registry needles (3.8) and the technique each one means, in match order.
HIGH_VALUE_REGISTRY_NEEDLES: tuple[tuple[str, str], ...] = (
    ("\\currentversion\\run", "T1547.001"),
    ("\\currentversion\\runonce", "T1547.001"),
    ("\\image file execution options", "T1546.012"),
    ("\\system\\currentcontrolset\\services\\", "T1543.003"),
)


def rule_for(name: str, reason: str | None) -> Detection | None:
    """The catalogue row a raised detection belongs to (the reason separates the two THREAD_HIJACK_INTENTs)."""
    candidates = [d for d in CATALOGUE if d.name == name]
    if len(candidates) > 1:
        for d in candidates:
            if d.reason == reason:
                return d
    return candidates[0] if candidates else None
