"""The report's HTML is safe by construction: one strict escaping environment, a hash-based CSP, sanitised classes.

Attacker-controlled strings (swk.reports.sample.HOSTILE: a script element, an attribute break-out with an onerror
image, a javascript: URL, U+202E) sit in an image path, a command line, a registry value, the host name and a live
detection name; the page is parsed with html.parser and must hold them only as text.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import jinja2
import pytest

from swk.reports.data import assemble
from swk.reports.render import ENV, css_class, render, visible
from swk.reports.sample import HOSTILE, write_incident

PACKAGE = Path(__file__).resolve().parents[1]


class Parsed(HTMLParser):
    """Every start tag with its attributes, the text, and the contents of script and style elements."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in][-1] += data
        else:
            self.text.append(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Parsed]:
    case = write_incident(tmp_path_factory.mktemp("report") / "case.parquet", hostile=True)
    report = assemble(case, title="Incident " + HOSTILE["script"])
    page = render(report)
    return report, page, Parsed(page)


def test_captured_markup_stays_text(hostile):
    _report, _page, parsed = hostile
    text = "".join(parsed.text)
    for payload in (HOSTILE["script"], HOSTILE["img"], HOSTILE["url"]):
        assert payload in text, payload  # shown to the analyst, as text
    assert [t for t, _ in parsed.tags].count("script") == 1
    assert not [t for t, _ in parsed.tags if t in ("img", "iframe", "object", "embed", "base", "frame")]
    assert [a for t, a in parsed.tags if t == "form"] == [{"class": "filters", "id": "filters", "role": "search"}]
    handlers = [(t, a) for t, attrs in parsed.tags for a in attrs if a.lower().startswith("on")]
    assert handlers == []
    urls = [v for _, attrs in parsed.tags for k, v in attrs.items() if k in ("href", "src", "xlink:href", "action")]
    assert urls and all(v.startswith(("#", "data:image/svg+xml,")) for v in urls), urls
    assert "alert(" not in "".join(parsed.raw["script"])


def test_bidi_and_controls_are_shown_not_obeyed(hostile):
    _report, page, parsed = hostile
    assert "\u202e" not in page
    assert "invoice<U+202E>gpj.exe<U+001B>]0;owned<U+0007><U+001B>[2J" in "".join(parsed.text)
    assert "\x1b" not in page and "\x07" not in page
    assert visible("a\u202eb\x1b[31mc\u200bd\te") == "a<U+202E>b<U+001B>[31mc<U+200B>d\te"


def test_csp_allows_only_the_pages_own_script_and_style(hostile):
    _report, _page, parsed = hostile
    meta = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(meta) == 1
    policy = dict(part.strip().split(" ", 1) for part in meta[0]["content"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "data:"
    assert "unsafe" not in meta[0]["content"]

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["script-src"] == digest(parsed.raw["script"][0])
    assert policy["style-src"] == digest(parsed.raw["style"][0])
    # The CSP tag comes before anything it governs.
    order = [t for t, _ in parsed.tags]
    assert order.index("meta") < order.index("style") < order.index("script")


def test_every_class_attribute_is_sanitised(hostile):
    _report, _page, parsed = hostile
    classes = [a["class"] for _, a in parsed.tags if a.get("class")]
    assert classes and all(re.fullmatch(r"[a-z0-9 -]+", c) for c in classes), [
        c for c in classes if not re.fullmatch(r"[a-z0-9 -]+", c)
    ]


def test_css_class_keeps_names_apart_and_safe():
    assert css_class("confirmed") == "confirmed"
    assert css_class(7) == "7"
    hostile = css_class(HOSTILE["img"])
    assert re.fullmatch(r"[a-z0-9-]+", hostile)
    assert css_class("a b") != css_class("a/b")  # both clean to "a-b"; the hash keeps them apart
    assert css_class("Live-Only") != "Live-Only" and re.fullmatch(r"[a-z0-9-]+", css_class("Live-Only"))


def test_one_strict_escaping_environment():
    assert ENV.autoescape is True
    assert ENV.undefined is jinja2.StrictUndefined
    sources = [*PACKAGE.glob("*.py"), *(p for d in ("kernel", "capture", "store", "analyze", "reports")
                                        for p in (PACKAGE / d).rglob("*.py"))]  # fmt: skip
    owners = [p for p in sources if "Environment(" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(PACKAGE).as_posix() for p in owners] == ["reports/render.py"]


def test_a_missing_field_fails_the_render(hostile):
    report, _page, _parsed = hostile
    broken = dict(report, cards=[{k: v for k, v in report["cards"][0].items() if k != "reason"}])
    with pytest.raises(jinja2.UndefinedError, match="reason"):
        render(broken)


def test_nothing_captured_is_marked_safe():
    for entry in (files("swk.reports") / "templates").iterdir():
        if entry.name.endswith(".html"):
            assert "|safe" not in entry.read_text(encoding="utf-8").replace(" ", ""), entry.name


def test_templates_and_queries_are_package_data():
    templates = {e.name for e in (files("swk.reports") / "templates").iterdir()}
    assert {"report.html", "detection.html", "_evidence_table.html", "report.css", "report.js"} <= templates
    queries = {e.name for e in (files("swk.reports") / "queries").iterdir()}
    assert {"shown.sql", "evidence.sql", "groups.sql", "rejects.sql"} <= queries


def test_page_is_self_contained(hostile):
    _report, page, parsed = hostile
    assert not re.search(r"(?i)\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", page.replace("http://www.w3.org/2000/svg", ""))
    assert not [a for t, a in parsed.tags if t == "link" and a.get("rel") != "icon"]
