"""Reports of real public captures (shared/data/otrf, Sysmon via NXLog JSON lines): the manifest's hash is the
published one, the process tree is the capture's, and the page parses with nothing but our one script in it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from swk.capture.ingest import Options, ingest
from swk.reports.data import assemble
from swk.reports.render import render

CAPTURES = {  # file -> a parent -> child creation the capture holds (Sysmon 1)
    "purplesharp_pe_injection_createremotethread.zip": ("PurpleSharp.exe", "notepad.exe"),
    "covenant_lolbin_wuauclt_createremotethread.zip": None,
    "cmd_process_herpaderping_mimiexplorer.zip": None,
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def published(shared_data, name: str) -> str:
    for line in (shared_data / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        if path == f"otrf/{name}":
            return digest
    raise AssertionError(f"{name} is not in SHA256SUMS")


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_real_capture_report(shared_data, tmp_path, name):
    source = shared_data / "otrf" / name
    assert source.is_file(), f"test data missing: {source}"
    case = tmp_path / "case.parquet"
    ingest([source], case, Options())
    report = assemble(case)
    [entry] = report["summary"]["inputs"]
    assert entry["sha256"] == published(shared_data, name)
    assert entry["read"] == entry["written"] + entry["rejected"]
    assert report["total"] == sum(s["n"] for s in report["severity"])
    nodes = report["tree"]["nodes"]
    assert nodes, "every capture here starts processes"
    pair = CAPTURES[name]
    if pair:
        labels = {n["label"].split(" (")[0]: n for n in nodes}
        parent, child = labels[pair[0]], labels[pair[1]]
        assert child["parent"] == parent["pid"] and child["depth"] == parent["depth"] + 1
    tags = Tags()
    tags.feed(render(report))
    assert tags.tags.count("script") == 1 and "img" not in tags.tags
