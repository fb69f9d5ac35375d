"""A real-time ETW session through pywintrace, with swk's own callback on the raw EVENT_RECORD (Windows only).

pywintrace 0.2.0 starts and stops the session and runs ProcessTrace; its stock callback (TDH display strings,
`collections.Mapping` on Python >= 3.10) is never used: the EVENT_TRACE_LOGFILE handed to it carries our callback,
which copies the record's bytes (`evntcons.copy_parts`) for the shared ETL decoder. Providers marked optional
(Threat-Intelligence, which only protected processes may consume) are enabled one by one after the session
starts; when Windows refuses one, `start()` says why and the session goes on without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swk.capture.live.evntcons import EtwParts, copy_parts
from swk.kernel.etw import PROVIDER_GUID, PROVIDER_NAME, THREAT_INTEL_PROVIDER_GUID, THREAT_INTEL_PROVIDER_NAME

SESSION_NAME = "SwkCaptureSession"  # one live capture per host, as the controller keeps one session (spec 7.6)
ERROR_ACCESS_DENIED = 5
ERROR_ALREADY_EXISTS = 183
TRACE_LEVEL_VERBOSE = 5
ALL_KEYWORDS = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Provider:
    """A provider to enable: Sleepwalker's events all have keyword 0, TI's need their keywords enabled."""

    name: str
    guid: uuid.UUID
    optional: bool = False
    level: int = TRACE_LEVEL_VERBOSE
    keywords: int = ALL_KEYWORDS


SLEEPWALKER = Provider(PROVIDER_NAME, PROVIDER_GUID)
THREAT_INTEL = Provider(THREAT_INTEL_PROVIDER_NAME, THREAT_INTEL_PROVIDER_GUID, optional=True)


def refusal(provider: Provider, status: int) -> str:
    """The one line said when Windows refuses an optional provider."""
    if status == ERROR_ACCESS_DENIED:
        why = "only protected (PPL antimalware) processes may consume it"
    else:
        why = f"Win32 error {status}"
    return f"{provider.name}: Windows refused the provider ({why}); capturing without it"


class EtwSession:
    """Start, query and stop one real-time session; events go to `on_event(EtwParts)` from ProcessTrace's thread."""

    def __init__(self, providers: list[Provider], name: str = SESSION_NAME) -> None:
        self.providers, self.name = providers, name
        self.error: BaseException | None = None
        self._etw: Any = None
        self._callback: Any = None
        self._on_event: Callable[[EtwParts], None] | None = None

    def _record(self, record: Any) -> None:
        try:
            self._on_event(copy_parts(record))  # type: ignore[misc]
        except BaseException as exc:  # an exception cannot cross back into ProcessTrace
            self.error = exc

    def _make(self) -> Any:
        import etw
        from etw import evntcons as ec
        from etw import evntrace as et

        logfile = et.EVENT_TRACE_LOGFILE()
        logfile.ProcessTraceMode = ec.PROCESS_TRACE_MODE_REAL_TIME | ec.PROCESS_TRACE_MODE_EVENT_RECORD
        logfile.LoggerName = self.name
        self._callback = et.EVENT_RECORD_CALLBACK(self._record)  # kept alive as long as the session
        logfile.EventRecordCallback = self._callback
        infos = [etw.ProviderInfo(p.name, etw.GUID(f"{{{p.guid}}}"), p.level, p.keywords, 0)
                 for p in self.providers if not p.optional]  # fmt: skip
        return etw.ETW(session_name=self.name, providers=infos, ignore_exists_error=False, trace_logfile=logfile)

    def start(self, on_event: Callable[[EtwParts], None]) -> list[str]:
        """Start the session; returns one line per optional provider Windows refused."""
        from etw.etw import TraceProperties

        self._on_event = on_event
        self._etw = self._make()
        try:
            self._etw.start()
        except OSError as exc:
            if getattr(exc, "winerror", None) != ERROR_ALREADY_EXISTS:
                raise
            self._etw.control_stop(TraceProperties())  # a session left by a capture that was killed
            self._etw = self._make()
            self._etw.start()
        return [refusal(p, s) for p in self.providers if p.optional and (s := self._enable(p))]

    def _enable(self, provider: Provider) -> int:
        import ctypes

        import etw
        from etw import evntrace as et

        guid = etw.GUID(f"{{{provider.guid}}}")
        return et.EnableTraceEx2(self._etw.provider.session_handle, ctypes.byref(guid),
                                 et.EVENT_CONTROL_CODE_ENABLE_PROVIDER, provider.level, provider.keywords, 0, 0,
                                 None)  # fmt: skip

    def lost(self) -> dict[str, int]:
        """What ETW says it dropped for this session: events lost and real-time buffers lost."""
        props = self._etw.query()
        return {"events_lost": int(props.EventsLost), "buffers_lost": int(props.RealTimeBuffersLost)}

    def stop(self) -> None:
        """Stop the session and wait for ProcessTrace to return (once; later calls do nothing)."""
        etw, self._etw = self._etw, None
        if etw is not None:
            etw.stop()
