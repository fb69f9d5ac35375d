"""The strings the report shows as inert text reach a terminal through `swk analyze` with their escape sequences,
controls and bidi overrides removed (the sample's hostile host name and registry value name carry an OSC title
change, a screen clear and U+202E)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from swk.cli import cli
from swk.reports.sample import HOSTILE, write_incident

UNSAFE = ("\x1b", "\x07", "\u202e")


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):
    return str(write_incident(tmp_path_factory.mktemp("terminal") / "case.parquet", hostile=True))


def test_analyze_table_is_terminal_safe(case):
    result = CliRunner().invoke(cli, ["analyze", case])
    assert result.exit_code == 0, result.output
    for stream in (result.stdout, result.stderr):
        assert not [c for c in UNSAFE if c in stream]
    assert "WS01" + HOSTILE["img"] in result.stdout  # the printable rest is kept, escapes gone


def test_analyze_explain_is_terminal_safe(case):
    listing = CliRunner().invoke(cli, ["analyze", case, "--format", "jsonl"])
    registry = [d for d in map(json.loads, listing.stdout.splitlines()) if d["name"] == "HIGH_VALUE_REGISTRY_ACTIVITY"]
    assert len(registry) == 1
    result = CliRunner().invoke(cli, ["analyze", case, "--explain", str(registry[0]["id"])])
    assert result.exit_code == 0, result.output
    assert not [c for c in UNSAFE if c in result.stdout]
    assert "Updaterinvoicegpj.exe" in result.stdout
    # The machine format keeps the exact captured bytes, escaped by JSON's own syntax.
    assert registry[0]["host"] == "WS01" + HOSTILE["img"] + HOSTILE["escape"]
