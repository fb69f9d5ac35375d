"""Headless Chromium over the DevTools protocol on a pipe: load a report, run checks in it, screenshot, print.

Used by the report tests (no injected script may run; the page's own filters must work) and to look at a
report. `--remote-debugging-pipe` speaks CDP on file descriptors 3 (in) and 4 (out) as NUL-terminated JSON, so
nothing but the standard library and Debian's `chromium` is needed: no driver binary, no websocket, no port.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from swk.errors import SwkError

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe")  # fmt: skip
TIMEOUT = 60.0
_TRAMPOLINE = (
    "import os, sys\n"
    "a, b = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(a, 3); os.dup2(b, 4)\n"
    "[os.close(fd) for fd in (a, b) if fd > 4]\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)


class BrowserError(SwkError):
    """Chromium is missing, died, or did not answer."""

    hint = "install Debian's chromium (apt-get install -y chromium), or set SWK_CHROMIUM to a Chromium binary"


def find_binary() -> str:
    """The Chromium to run: $SWK_CHROMIUM, else the first of `BINARIES` on PATH."""
    explicit = os.environ.get("SWK_CHROMIUM")
    found = explicit or next((p for p in map(shutil.which, BINARIES) if p), None)
    if not found:
        raise BrowserError("no Chromium found on PATH (" + ", ".join(BINARIES) + ")")
    return found


class Chromium:
    """One browser process; `page()` opens tabs. Use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="swk-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        args = [find_binary(), *FLAGS, f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}"]
        # A trampoline puts our pipe ends on fds 3 and 4, where Chromium expects them (dup2 keeps them open
        # across exec; sh cannot redirect fds above 9).
        self.proc = subprocess.Popen([sys.executable, "-c", _TRAMPOLINE, str(to_child), str(from_child), *args],
                                     pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        os.close(to_child)
        os.close(from_child)
        self._next = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._pump, name="swk-cdp", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        buf = b""
        with os.fdopen(self._read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buf += chunk
                *messages, buf = buf.split(b"\0")
                with self._cond:
                    for raw in messages:
                        msg = json.loads(raw)
                        if "id" in msg:
                            self._replies[msg["id"]] = msg
                        else:
                            self.events.append(msg)
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = TIMEOUT) -> dict[str, Any]:  # fmt: skip
        """Send one CDP command and wait for its result."""
        with self._lock:
            self._next += 1
            ident = self._next
            msg: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(self._write, json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: ident in self._replies or not self._reader.is_alive(), timeout):
                raise BrowserError(f"Chromium did not answer {method} within {timeout:.0f} s")
            reply = self._replies.pop(ident, None)
        if reply is None:
            raise BrowserError(f"Chromium exited (status {self.proc.poll()}) during {method}")
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str | None, since: int, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first event `method` of `session` at or after position `since` of `events`."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events[since:] if e.get("method") == method
                         and e.get("sessionId") == session), None)  # fmt: skip

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None or not self._reader.is_alive(), timeout):
                raise BrowserError(f"no {method} within {timeout:.0f} s")
            event = found()
        if event is None:
            raise BrowserError(f"Chromium exited while waiting for {method}")
        return event

    def page(self, url: str) -> Page:
        """A new tab with the page domains enabled, `url` loaded."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        page.goto(url)
        return page

    def close(self) -> None:
        """End the browser and remove its profile."""
        with suppress(BrowserError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        self._profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: evaluate JavaScript, inspect what happened (dialogs, console, requests), capture it."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser, self.session = browser, session

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        since = len(self.browser.events)
        self.browser.call("Page.navigate", {"url": url}, self.session)
        self.browser.wait_event("Page.loadEventFired", self.session, since)

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (returned by value)."""
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                        "awaitPromise": True}, self.session)  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"page script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def happened(self, *methods: str) -> list[dict[str, Any]]:
        """Events of this tab with one of the given methods (all when none given)."""
        return [e for e in self.browser.events
                if e.get("sessionId") == self.session and (not methods or e.get("method") in methods)]  # fmt: skip

    def screenshot(self, path: Path, width: int = 1280, selector: str | None = None,
                   max_height: int = 16000) -> Path:  # fmt: skip
        """A PNG of the page at `width` CSS pixels (at most `max_height` tall): from the top, or the element
        `selector` picks."""
        height = int(self.eval("Math.ceil(document.documentElement.scrollHeight)"))
        self.browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": min(height, max_height),
                                                                 "deviceScaleFactor": 1, "mobile": False},
                          self.session)  # fmt: skip
        params: dict[str, Any] = {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(height, max_height), "scale": 1},
        }
        if selector:
            box = self.eval(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                ".getBoundingClientRect(); return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()"
            )
            params["clip"] = {"x": box[0], "y": box[1], "width": box[2], "height": min(box[3], max_height),
                              "scale": 1}  # fmt: skip
        data = self.browser.call("Page.captureScreenshot", params, self.session)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def pdf(self, path: Path) -> Path:
        """The page printed to PDF (A4, backgrounds on), as the print CSS lays it out."""
        data = self.browser.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True},
                                 self.session)["data"]  # fmt: skip
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)


@contextmanager
def open_report(path: Path) -> Iterator[Page]:
    """A browser with `path` loaded, closed afterwards."""
    with Chromium() as browser:
        yield browser.page(Path(path).resolve().as_uri())
