"""The broker's ETW uplink (GetEtwEvent, `SLEEPWALKER_IPC_ETW_EVENT`, spec 1.5 and 7.4) as case rows.

An uplink event carries no timestamp and, for Sleepwalker's own events, only pids and a name, which the IOCTL
records and the ETW session hold in full. So only the events that carry something of their own become rows:
detections (kernel ones and the controller's synthetic mark-chain ones, which exist nowhere else) and
Threat-Intelligence events, which the controller may consume while a plain process may not (its task and pids).
`ts` is when swk received the event (`clock = 'capture-receive'`, Unix µs in `raw_clock`): it trails the event.
"""

from __future__ import annotations

from typing import Any

from swk.kernel.abi import SLEEPWALKER_IPC_ETW_EVENT, IpcEtwSource, sizeof
from swk.kernel.etw import PROVIDER_NAME, THREAT_INTEL_PROVIDER_NAME

SIZE = sizeof(SLEEPWALKER_IPC_ETW_EVENT)
_PID_MAX = 0xFFFFFFFF


def _pid(value: int) -> int | None:
    return value if 0 < value <= _PID_MAX else None


def _wide(units: Any) -> str:
    return bytes(units).decode("utf-16-le", errors="replace").split("\0", 1)[0]


def parse(raw: bytes) -> SLEEPWALKER_IPC_ETW_EVENT:
    """The struct of a 368-byte uplink event."""
    if len(raw) < SIZE:
        raise ValueError(f"{len(raw)} bytes is too short for SLEEPWALKER_IPC_ETW_EVENT ({SIZE})")
    return SLEEPWALKER_IPC_ETW_EVENT.from_buffer_copy(raw[:SIZE])


def is_synthetic(ev: SLEEPWALKER_IPC_ETW_EVENT) -> bool:
    """A controller-made detection: the controller writes EventThreadId 0 for those (spec 1.5), the kernel never."""
    return ev.Source == IpcEtwSource.SLEEPWALKER and ev.EventThreadId == 0


def row(raw: bytes, received_us: int, *, own_etw: bool = False) -> dict[str, Any] | None:
    """The case row of an uplink event, or None when it carries nothing of its own.

    With `own_etw` (swk's own ETW session receives the kernel's DetectionTelemetry), kernel detections from the
    uplink are duplicates and give no row; the controller's synthetic detections still do.
    """
    ev = parse(raw)
    name = _wide(ev.EventName)
    detection = ev.DetectionName.decode("ascii", errors="replace")  # ctypes cuts CHAR[] at the NUL
    actor = _pid(ev.PrimaryPid) or ev.EventProcessId  # the client's rule (spec 4.6)
    common: dict[str, Any] = {
        "ts": received_us, "raw_clock": received_us, "clock": "capture-receive",
        "header_pid": ev.EventProcessId, "header_tid": ev.EventThreadId, "event_name": name or None,
        "etw_event_id": ev.EventId, "opcode": ev.Opcode, "task": ev.Task, "actor_pid": actor,
    }  # fmt: skip
    if ev.Source == IpcEtwSource.THREAT_INTELLIGENCE:
        label = name or f"task {ev.Task}"
        return {**common, "family": "ti", "kind": f"ti:broker:{label}", "provider": THREAT_INTEL_PROVIDER_NAME,
                "target_pid": _pid(ev.SecondaryPid) or actor}  # fmt: skip
    if ev.Source == IpcEtwSource.SLEEPWALKER and detection:
        synthetic = is_synthetic(ev)
        if own_etw and not synthetic:
            return None
        kind = "sleepwalker:controller:detection" if synthetic else f"sleepwalker:broker:{name or 'DetectionTelemetry'}"
        return {**common, "family": "detection", "kind": kind, "provider": PROVIDER_NAME,
                "target_pid": ev.SecondaryPid, "detection_name": detection, "severity": ev.Severity}  # fmt: skip
    return None
