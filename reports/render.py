"""Renders a report: the only Jinja environment in swk, strict and escaping, and one self-contained HTML file.

Everything captured (paths, command lines, registry values, host and detection names) reaches the page only
through autoescaping; nothing captured is marked safe. The page's own CSS and JS are inlined and allowed by their
sha256 in a Content Security Policy, so nothing else can run or load even if escaping ever failed: no other
script, no inline handler, no `javascript:` URL, no network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

_CLASS_OK = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CLASS_BAD = re.compile(r"[^a-z0-9-]+")


def css_class(value: object) -> str:
    """A class-name fragment (templates prefix it: `sev-`, `fam-`, `status-`) from any, possibly captured, value:
    lowercase letters, digits and hyphens only, distinct inputs kept distinct."""
    text = str(value)
    if _CLASS_OK.match(text):
        return text
    cleaned = _CLASS_BAD.sub("-", text.lower()).strip("-")[:48] or "x"
    # Different names can clean to the same text; a short hash of the original keeps their classes apart.
    return f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


# Bidi overrides and isolates, zero-width marks and C0/C1 controls in captured text would reorder or hide what the
# analyst reads (invoice\u202egpj.exe shows as invoiceexe.jpg): every one is shown as a visible <U+XXXX> instead.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    """`text` with invisible and reordering characters written out as `<U+XXXX>`."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _finalize(value: object) -> object:
    """Applied to every `{{ ... }}` before escaping, so no captured string can skip it."""
    return visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _num(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def environment() -> Environment:
    """The report environment: package templates, autoescape on, undefined names an error."""
    env = Environment(loader=PackageLoader("swk.reports", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, finalize=_finalize)  # fmt: skip
    env.filters["css"] = css_class
    env.filters["num"] = _num
    return env


ENV = environment()


def _asset(name: str) -> str:
    source, _, _ = ENV.loader.get_source(ENV, name)  # type: ignore[union-attr]
    return source


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def render(report: dict[str, Any]) -> str:
    """The report as one HTML document."""
    css, js = _asset("report.css"), _asset("report.js")
    csp = ("default-src 'none'; "
           f"script-src '{_sha256(js)}'; style-src '{_sha256(css)}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")  # fmt: skip
    # Our own files, not captured data: the only Markup in the report.
    return ENV.get_template("report.html").render(r=report, css=Markup(css), js=Markup(js), csp=csp)


def write(html: str, output: Path) -> Path:
    """Write the page atomically (a temporary sibling moved into place), so a half-written report never exists."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output
