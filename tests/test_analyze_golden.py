"""End to end: `swk analyze --format json` on a simulated process hollowing equals the committed golden file.

Paths and run times are not part of the output; a failure prints a unified diff. Regenerate on purpose only:
`SWK_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_analyze_golden.py` (never in CI).
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from swk.capture.simulate import Options, simulate
from swk.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "process-hollowing.analyze.json"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden")
    return simulate(out, Options(seed=1, scenarios=("process-hollowing",), benign=False, events=2_000)).case


def test_analyze_json_matches_the_golden_file(case):
    result = CliRunner().invoke(cli, ["analyze", str(case), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    got = json.dumps(json.loads(result.stdout), indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("SWK_REGENERATE_GOLDEN") and not os.environ.get("CI"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(got)
    want = GOLDEN.read_text()
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), str(GOLDEN), "swk analyze"))
    assert got == want, diff


def test_explain_of_the_controller_chain_shows_each_steps_marks(case):
    rows = json.loads(CliRunner().invoke(cli, ["analyze", str(case), "--format", "json"]).stdout)
    strong = next(r for r in rows if r["rule"] == "PROCESS_HOLLOWING_MARK_CHAIN_STRONG")
    text = CliRunner().invoke(cli, ["analyze", str(case), "--explain", str(strong["id"])]).stdout
    steps = [line.split("=>")[1].strip() for line in text.splitlines() if "marks +" in line]
    assert len(steps) >= 4 and len(steps) <= len(strong["evidence"])
    assert steps[-1].split("|") == [m for m in ("CREATE_SUSPENDED", "TI_ALLOC_RW_LARGE", "TI_WRITE_VM", "TI_PROTECT_RX",
                                                "THREAD_START_NON_IMAGE_EXEC", "THREAD_START_OUTSIDE_IMAGE",
                                                "THREAD_CONTEXT_INTENT", "REMOTE_THREAD_INTENT", "IMAGE_DRIFT")
                                    if m in steps[-1].split("|")]  # fmt: skip
    assert {"CREATE_SUSPENDED", "TI_WRITE_VM", "TI_PROTECT_RX"} <= set(steps[-1].split("|"))
    assert f"marks     0x{strong['marks']:X}" in text
