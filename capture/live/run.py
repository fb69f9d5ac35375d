"""`swk capture live`: the options, the sources they choose, and a run that stops cleanly on Ctrl-C or a stop.

IOCTL records come from the controller's pipe when it is there (the broker is the supported transport, spec 0)
and straight from the device otherwise, or as `--via` says. Elevation is checked where the ACL needs it: the device
and ETW sessions admit Administrators and SYSTEM; the pipe admits any authenticated user (spec 1.1, 1.5).
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swk.capture.live.loop import CaptureLoop, LoopOptions
from swk.capture.live.rolling import parse_rotate
from swk.capture.live.sources import Source
from swk.errors import SwkError
from swk.kernel.abi import DOS_DEVICE_PATH, MAX_PID_LIST, PIPE_NAME

VIA = ("auto", "broker", "device")


@dataclass
class LiveOptions:
    """What the user asked `swk capture live` for (also what a service stores)."""

    output: str
    etw: bool = False
    ioctl_pids: list[int] = field(default_factory=list)
    streams: int = 0x7
    ti: bool = False
    rotate: str = "60s"
    via: str = "auto"
    host: str | None = None
    health_seconds: float = 5.0

    def check(self) -> None:
        """Refuse combinations that cannot capture anything (ValueError, for a usage error)."""
        if not self.etw and not self.ioctl_pids:
            raise ValueError("nothing to capture: give --etw, --ioctl PID,... or both")
        if self.ti and not self.etw:
            raise ValueError("--ti adds Threat-Intelligence to the --etw session: give --etw too")
        if self.via not in VIA:
            raise ValueError(f"--via {self.via!r}: choose {', '.join(VIA)}")
        parse_rotate(self.rotate)

    def to_json(self) -> str:
        """The options as JSON (a service keeps them in its registry parameters)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LiveOptions:
        """Options stored by `to_json`."""
        return cls(**json.loads(text))


def parse_pids(text: str) -> list[int]:
    """`1234,5678` -> pids (1..0xFFFFFFFF, at most 64, duplicates dropped)."""
    pids: list[int] = []
    for token in text.split(","):
        token = token.strip()
        if not token.isdigit() or not 0 < int(token) <= 0xFFFFFFFF:
            raise ValueError(f"{token!r} is not a process id (1..4294967295)")
        if int(token) not in pids:
            pids.append(int(token))
    if len(pids) > MAX_PID_LIST:
        raise ValueError(f"{len(pids)} pids: Sleepwalker subscribes at most {MAX_PID_LIST} (SET_PIDS)")
    return pids


def _ioctl_source(options: LiveOptions) -> Source:
    from swk.capture.live.broker import BrokerAbsentError, BrokerClient, connect_pipe
    from swk.capture.live.device import DeviceAbsentError, open_device
    from swk.capture.live.sources import BrokerSource, DeviceSource

    if options.via != "device":
        try:
            transport = connect_pipe()
        except BrokerAbsentError:
            if options.via == "broker":
                raise
        else:
            return BrokerSource(lambda: BrokerClient(transport), options.ioctl_pids, options.streams,
                                own_etw=options.etw)  # fmt: skip

    def open_client() -> Any:
        try:
            return open_device()
        except DeviceAbsentError:
            if options.via == "device":
                raise
            raise SwkError(
                f"neither the controller's pipe {PIPE_NAME} nor the device {DOS_DEVICE_PATH} exists",
                hint="install the Sleepwalker driver and start SleepwlkrController",
            ) from None

    return DeviceSource(open_client, options.ioctl_pids, options.streams)


def build(options: LiveOptions) -> tuple[list[Source], LoopOptions]:
    """The sources and loop settings for `options` on this Windows host."""
    from swk.capture.live import win32
    from swk.capture.live.device import NotElevatedError

    sources: list[Source] = []
    if options.etw:
        from swk.capture.live.etw_session import SLEEPWALKER, THREAT_INTEL, EtwSession
        from swk.capture.live.sources import EtwSource

        if not win32.is_admin():
            raise NotElevatedError("swk capture live --etw: starting an ETW session needs Administrators or SYSTEM")
        sources.append(EtwSource(EtwSession([SLEEPWALKER, *([THREAT_INTEL] if options.ti else [])])))
    if options.ioctl_pids:
        sources.append(_ioctl_source(options))
    seconds, events = parse_rotate(options.rotate)
    frequency, boot_ns = win32.qpc_clock()
    loop = LoopOptions(Path(options.output), options.host or socket.gethostname(), rotate_seconds=seconds,
                       rotate_events=events, health_seconds=options.health_seconds, qpc_frequency=frequency,
                       boot_ns=boot_ns, clock_basis="live: QueryPerformanceFrequency, QPC anchored to the system "
                       "clock at capture start", own_etw=options.etw,
                       extra={"capture": {"options": asdict(options)}})  # fmt: skip
    return sources, loop


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C, Ctrl-Break and SIGTERM ask the loop to stop instead of raising in the middle of a write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGINT", "SIGBREAK", "SIGTERM")
    sigs = [getattr(signal, n) for n in names if hasattr(signal, n)]
    old = {s: signal.signal(s, lambda *_: stop()) for s in sigs}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def capture_live(options: LiveOptions, *, say: Callable[[str], None] | None = None,
                 stop: threading.Event | None = None) -> dict[str, Any]:  # fmt: skip
    """Capture until Ctrl-C (or `stop` is set, for the service); returns the case manifest."""
    from swk.capture.live.win32 import require_windows

    require_windows("swk capture live")
    options.check()
    sources, loop_options = build(options)
    loop = CaptureLoop(sources, loop_options, say=say)
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), loop.stop()), daemon=True).start()
    with stop_on_signals(loop.stop):
        return loop.run()


def service_command(action: str, options: LiveOptions | None = None) -> str:
    """`swk capture service install|remove|start|stop`; returns what was done."""
    from swk.capture.live.win32 import require_windows

    require_windows("swk capture service")
    try:
        from swk.capture.live import service
    except ImportError as exc:
        raise SwkError(f"swk capture service needs pywin32 ({exc})", hint="pip install 'swk[windows]'") from None
    return service.install(options) if action == "install" else service.control(action)
