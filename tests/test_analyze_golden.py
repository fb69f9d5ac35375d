"""End to end: `swk analyze --format json` on a simulated process hollowing equals the committed golden file.

Paths and run times are not part of the output; a failure prints a unified diff. Regenerate on purpose only:
`SWK_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_analyze_golden.py` (never in CI).
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from click.testing import CliRunner

from swk.capture.simulate import Options, simulate
from swk.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "process-hollowing.analyze.json"


def test_analyze_json_matches_the_golden_file(tmp_path):
    case = simulate(tmp_path, Options(seed=1, scenarios=("process-hollowing",), benign=False, events=2_000)).case
    result = CliRunner().invoke(cli, ["analyze", str(case), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    got = json.dumps(json.loads(result.stdout), indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("SWK_REGENERATE_GOLDEN") and not os.environ.get("CI"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(got)
    want = GOLDEN.read_text()
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), str(GOLDEN), "swk analyze"))
    assert got == want, diff
