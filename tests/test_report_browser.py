"""The report in a real browser (headless Chromium over the DevTools pipe): nothing injected runs or appears, the
page's own filters and collapsibles work, and it looks like a report (screenshot kept at .bench/report.png, PDF).

The harness is checked to catch what it looks for: an unescaped script outside the CSP raises a dialog, and the
same script inside the report's CSP is blocked and reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swk.reports.browser import Chromium, Page
from swk.reports.data import assemble
from swk.reports.render import render, write
from swk.reports.report import write_report
from swk.reports.sample import HOSTILE, write_incident

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
SIDE_EFFECTS = ("Page.javascriptDialogOpening", "Runtime.consoleAPICalled", "Runtime.exceptionThrown")


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser")
    out = {}
    for name, hostile in (("clean", False), ("hostile", True)):
        case = write_incident(root / f"{name}.parquet", hostile=hostile)
        title = "Incident " + (HOSTILE["img"] if hostile else "WS01")
        out[name] = write(render(assemble(case, title=title)), root / f"{name}.html")
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make demo` reports on: a simulated host with every injection technique and benign noise (small)."""
    from swk.capture.simulate.run import Options, simulate

    root = tmp_path_factory.mktemp("demo")
    result = simulate(root, Options(events=5_000))
    return write_report(result.case, root / "incident.html").path


def load(browser: Chromium, path: Path) -> Page:
    page = browser.page(path.resolve().as_uri())
    page.eval("document.readyState")  # one round trip after load, so events of the load have arrived
    return page


def test_harness_sees_a_script_that_runs(browser, tmp_path):
    canary = tmp_path / "canary.html"
    canary.write_text("<!DOCTYPE html><title>c</title><script>console.log('ran')</script>", encoding="utf-8")
    page = load(browser, canary)
    assert [e["params"]["args"][0]["value"] for e in page.happened("Runtime.consoleAPICalled")] == ["ran"]


def test_csp_blocks_a_script_that_escaping_missed(browser, pages, tmp_path):
    page_text = pages["hostile"].read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"  # as if escaping had failed: a raw script element in the body
    broken.write_text(page_text.replace("<main>", "<main><script>console.log('injected')</script>", 1),
                      encoding="utf-8")  # fmt: skip
    page = load(browser, broken)
    assert page.happened(*SIDE_EFFECTS) == []
    assert any("Content Security Policy" in e["params"]["entry"]["text"] for e in page.happened("Log.entryAdded"))


def test_no_injected_script_runs_or_appears(browser, pages):
    page = load(browser, pages["hostile"])
    assert page.happened(*SIDE_EFFECTS) == []
    assert page.happened("Log.entryAdded") == []  # no CSP violation: nothing even tried
    requests = [e["params"]["request"]["url"] for e in page.happened("Network.requestWillBeSent")]
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests
    counts = page.eval("""({
        scripts: document.scripts.length,
        injected: document.querySelectorAll('img, iframe, object, embed, base, frame').length,
        handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length,
        jsUrls: [...document.querySelectorAll('[href], [src]')].filter(e => /^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src'))).length,
    })""")
    assert counts == {"scripts": 1, "injected": 0, "handlers": 0, "jsUrls": 0}
    text = page.eval("document.body.textContent")  # closed cards too
    assert HOSTILE["script"] in text and HOSTILE["img"] in text and HOSTILE["url"] in text
    assert "\u202e" not in text and "<U+202E>" in text
    assert page.eval("document.title") == "Incident " + HOSTILE["img"]


def visible_cards(page: Page) -> list[dict]:
    return page.eval(
        "[...document.querySelectorAll('details.card')].filter(c => !c.hidden)"
        ".map(c => ({id: c.id, severity: +c.dataset.severity, status: c.dataset.status, open: c.open}))"
    )


def set_filter(page: Page, element: str, value: str, event: str) -> None:
    page.eval(
        f"(() => {{ const el = document.getElementById('{element}'); el.value = {value!r};"
        f" el.dispatchEvent(new Event('{event}')); }})()"
    )


def test_filters_by_severity_status_and_name(browser, pages):
    page = load(browser, pages["clean"])
    assert len(visible_cards(page)) == 19
    set_filter(page, "f-severity", "6", "change")
    cards = visible_cards(page)
    assert len(cards) == 4 and all(c["severity"] >= 6 for c in cards)
    assert page.eval("document.getElementById('f-count').textContent") == "4 of 19 shown"
    set_filter(page, "f-severity", "0", "change")
    set_filter(page, "f-status", "live-only", "change")
    assert [c["status"] for c in visible_cards(page)] == ["live-only"]
    set_filter(page, "f-status", "", "change")
    set_filter(page, "f-name", "ntdll", "input")
    names = page.eval("[...document.querySelectorAll('details.card:not([hidden]) .card-title .name')]"
                      ".map(e => e.textContent)")  # fmt: skip
    assert sorted(names) == ["MULTIPLE_NTDLL_IMAGE_MAPPINGS", "SUSPICIOUS_NTDLL_IMAGE_PATH"]
    set_filter(page, "f-name", "rundll32 T1055.004", "input")  # every word must match: process and ATT&CK id
    assert [c["id"] for c in visible_cards(page)] == ["det-16"]
    set_filter(page, "f-name", "no such detection", "input")
    assert visible_cards(page) == [] and page.eval("document.getElementById('no-match').hidden") is False
    set_filter(page, "f-name", "", "input")
    assert len(visible_cards(page)) == 19


def test_cards_collapse_expand_and_open_from_links(browser, pages):
    page = load(browser, pages["clean"])
    cards = visible_cards(page)
    closed = [c["id"] for c in cards if not c["open"]]
    assert len(closed) == 19 - 12
    page.eval(f"document.querySelector('#{closed[0]} > summary').click()")
    assert page.eval(f"document.getElementById('{closed[0]}').open") is True
    page.eval("document.getElementById('collapse-all').click()")
    assert not any(c["open"] for c in visible_cards(page))
    page.eval("document.getElementById('expand-all').click()")
    assert all(c["open"] for c in visible_cards(page))
    page.eval("document.getElementById('collapse-all').click()")
    page.eval("location.hash = '#det-11'")
    page.eval("new Promise(r => setTimeout(r, 50))")  # let hashchange run
    assert page.eval("document.getElementById('det-11').open") is True


def test_screenshot_and_print_layout(browser, demo):
    page = load(browser, demo)
    assert page.happened(*SIDE_EFFECTS) == []
    boxes = page.eval("""Object.fromEntries(['summary', 'detections', 'tree', 'timeline', 'gaps'].map(id => {
        const r = document.getElementById(id).getBoundingClientRect();
        return [id, {w: Math.round(r.width), h: Math.round(r.height), top: Math.round(r.top + scrollY)}];
    }))""")
    tops = [b["top"] for b in boxes.values()]
    assert tops == sorted(tops) and all(b["w"] > 900 and b["h"] > 100 for b in boxes.values()), boxes
    assert page.eval("document.querySelectorAll('svg.tree path.edge').length") >= 5  # one per technique at least
    assert page.eval("document.querySelectorAll('svg.pair-svg').length") >= 5
    assert page.eval("document.querySelectorAll('details.card').length") >= 20
    shot = ROOT / ".bench" / "report.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(shot, max_height=8000)  # the top of the page: header, summary, the first cards
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 1280
    print(f"\nreport screenshot: {shot}")
    pdf = page.pdf(shot.with_suffix(".pdf"))
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.read_bytes().count(b"/Type /Page\n") + \
        pdf.read_bytes().count(b"/Type /Page>") + pdf.read_bytes().count(b"/Type /Page/") > 1  # fmt: skip
    print(f"report PDF: {pdf}")
    browser.call("Emulation.setEmulatedMedia", {"media": "print"}, page.session)
    hidden = page.eval("['.toc', '#filters'].map(s => getComputedStyle(document.querySelector(s)).display)")
    assert hidden == ["none", "none"]
    page.eval("window.dispatchEvent(new Event('beforeprint'))")
    assert page.eval("[...document.querySelectorAll('details')].every(d => d.open && !d.hidden)") is True
