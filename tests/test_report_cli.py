"""`swk report` through the CLI: the file, the stderr lines, the one-line error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from swk.cli import cli
from swk.reports.sample import write_incident

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_incident(tmp_path_factory.mktemp("cli") / "case.parquet")


def test_report_writes_one_file(case, tmp_path):
    out = tmp_path / "sub" / "incident.html"
    result = CliRunner().invoke(cli, ["report", str(case), "-o", str(out), "--title", "WS01 <hollowing>",
                                      "--min-severity", "5"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    *warnings, wrote = result.stderr.splitlines()
    assert warnings == [
        "warning: 2 rows have no time and cannot be placed in any window; they are not analysed",
        "warning: 1 live anti-tamper detections are not reconstructible: the driver emits no telemetry for its "
        "integrity checks",
    ]
    assert re.fullmatch(rf"wrote {re.escape(str(out))}: 10 detection cards of 10, 0\.\d MB", wrote), wrote
    page = out.read_text(encoding="utf-8")
    assert "<title>WS01 &lt;hollowing&gt;</title>" in page
    assert [p.name for p in out.parent.iterdir()] == ["incident.html"]  # no temporary file left beside it


def test_missing_case_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope.parquet"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'nope.parquet'}: no such case file or directory (pass a .parquet "
                             "case written by `swk ingest` or `swk simulate`, or a directory of them)\n")  # fmt: skip
    assert not (tmp_path / "r.html").exists()


def test_output_is_required(case):
    result = CliRunner().invoke(cli, ["report", str(case)])
    assert result.exit_code == 2 and "Missing option '-o' / '--output'" in result.stderr


def test_readme_documents_the_command():
    text = README.read_text(encoding="utf-8")
    assert "## Incident reports: swk report" in text
    assert "swk report case.parquet -o incident.html" in text
