"""`swk capture service`: the live capture as a Windows service, through pywin32's service framework.

Windows only, and imported only by `run.service_command` after the platform check: pywin32 is imported at module
level because pythonservice.exe loads the service class by its dotted name. The service runs as LocalSystem, which
the device ACL admits (spec 1.1); its capture options live in the service's registry parameters, and a service
stop ends the capture the way Ctrl-C does: every source hands over what it holds and the last part is closed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pywintypes
import servicemanager
import win32service
import win32serviceutil

from swk.capture.live.device import NotElevatedError
from swk.capture.live.run import LiveOptions, capture_live
from swk.errors import SwkError
from swk.kernel.abi import DRIVER_SERVICE_NAME

SERVICE_NAME = "SwkCapture"
DISPLAY_NAME = "swk live capture"
DESCRIPTION = "Captures Sleepwalker telemetry (ETW and IOCTL records) into a Parquet case directory."
CONTROLLER_SERVICE_NAME = "SleepwlkrController"
OPTION = "options"
# Win32 errors the service control manager answers with.
_ERRORS = {5: None, 1060: "is not installed", 1062: "is not running", 1072: "is marked for deletion (reboot)",
           1073: "is already installed (swk capture service remove first)",
           1056: "is already running"}  # fmt: skip


class SwkCaptureService(win32serviceutil.ServiceFramework):
    """The service: SvcDoRun captures until SvcStop."""

    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = DISPLAY_NAME
    _svc_description_ = DESCRIPTION

    def __init__(self, args: list[str]) -> None:
        super().__init__(args)
        self.stop_event = threading.Event()

    def SvcStop(self) -> None:  # noqa: N802 -- pywin32's name
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
        self.stop_event.set()

    def SvcDoRun(self) -> None:  # noqa: N802 -- pywin32's name
        options = LiveOptions.from_json(win32serviceutil.GetServiceCustomOption(SERVICE_NAME, OPTION))
        servicemanager.LogInfoMsg(f"{SERVICE_NAME}: capturing into {options.output}")
        try:
            manifest = capture_live(options, say=servicemanager.LogInfoMsg, stop=self.stop_event)
        except SwkError as exc:
            servicemanager.LogErrorMsg(f"{SERVICE_NAME}: {exc.one_line()}")
            raise
        servicemanager.LogInfoMsg(f"{SERVICE_NAME}: stopped, {manifest['rows']:,} events in "
                                  f"{len(manifest['parts'])} parts")  # fmt: skip


def _fail(exc: pywintypes.error, what: str) -> SwkError:
    if exc.winerror == 5:
        return NotElevatedError(f"{what}: access denied: managing services needs an elevated prompt")
    return SwkError(f"{what}: service {SERVICE_NAME} {_ERRORS.get(exc.winerror) or exc.strerror}")


def _require_service(name: str, what: str) -> None:
    try:
        win32serviceutil.QueryServiceStatus(name)
    except pywintypes.error as exc:
        if exc.winerror == 1060:
            raise SwkError(
                f"{what} is not installed (no service {name})",
                hint="install Sleepwalker first (driver service sleepwlkr, SleepwlkrController)",
            ) from None
        raise _fail(exc, f"querying {name}") from None


def install(options: LiveOptions) -> str:
    """Install the service with these capture options (auto start, LocalSystem)."""
    options.output = str(Path(options.output).resolve())  # the service's working directory is System32
    _require_service(DRIVER_SERVICE_NAME, "the Sleepwalker driver")
    if options.ioctl_pids and options.via == "broker":
        _require_service(CONTROLLER_SERVICE_NAME, "the Sleepwalker controller")
    cls = f"{SwkCaptureService.__module__}.{SwkCaptureService.__name__}"
    try:
        win32serviceutil.InstallService(cls, SERVICE_NAME, DISPLAY_NAME, startType=win32service.SERVICE_AUTO_START,
                                        description=DESCRIPTION)  # fmt: skip
        win32serviceutil.SetServiceCustomOption(SERVICE_NAME, OPTION, options.to_json())
    except pywintypes.error as exc:
        raise _fail(exc, "install") from None
    return f"installed service {SERVICE_NAME} (auto start) capturing into {options.output}"


# What `swk capture service remove|start|stop` call, and what they say when it worked.
_CONTROLS = {
    "remove": (win32serviceutil.RemoveService, f"removed service {SERVICE_NAME}"),
    "start": (win32serviceutil.StartService, f"started service {SERVICE_NAME}"),
    "stop": (win32serviceutil.StopService, f"stopping service {SERVICE_NAME} (it closes its last part before it ends)"),
}


def control(action: str) -> str:
    """Remove, start or stop the service."""
    call, done = _CONTROLS[action]
    try:
        call(SERVICE_NAME)
    except pywintypes.error as exc:
        raise _fail(exc, action) from None
    return done
