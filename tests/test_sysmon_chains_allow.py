"""The allow-list (README "Allow-list"): the built-in csrss CtrlRoutine entry, `--allow FILE` for analyze and
report, suppressed detections counted and listed on request, and exact one-line errors for a bad file.

Entries reach SQL as quoted literals only (`engine.sql_string`); a quote in a value is run against a live DuckDB.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swk.analyze.allow import AllowListError, load
from swk.analyze.testing import write_case
from swk.cli import cli

CSRSS = "C:\\Windows\\System32\\csrss.exe"
SVCHOST = "C:\\Windows\\System32\\svchost.exe"
KERNELBASE = "C:\\windows\\System32\\KERNELBASE.dll"
OUTSIDE = "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"
HINT = " (see `swk analyze --help` and README.md, 'Allow-list' for the format)"


def ctrl(ms: float, pid: int, **kw: Any) -> dict[str, Any]:
    """csrss delivering a console control event: a Sysmon 8 thread at kernelbase!CtrlRoutine."""
    return {"family": "thread", "kind": "sysmon:8", "ms": ms, "actor_pid": 500, "target_pid": pid, "tid": 9,
            "start_address": 0x7FFA1C0E1A10, "got_start": True, "start_module": KERNELBASE,
            "start_function": "CtrlRoutine", "actor_guid": "{csrss}", "target_guid": f"{{t{pid}}}",
            "actor_image": CSRSS, "target_image": SVCHOST, **kw}  # fmt: skip


INJECTOR = "C:\\Users\\o'brien\\in_ject.exe"  # a quote, and a LIKE wildcard (_) that must match only itself


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        ctrl(0, 601), ctrl(10, 602),  # allowed by the built-in entry
        ctrl(20, 603, actor_image="C:\\Users\\eve\\csrss.exe"),  # near-miss: a csrss.exe outside System32
        ctrl(30, 604, start_function="CtrlRoutineX"),  # near-miss: another routine
        ctrl(40, 605, start_module="C:\\Users\\eve\\kernelbase.dll"),  # near-miss: another module
        ctrl(50, 606, actor_pid=700, actor_guid="{inj}", actor_image=INJECTOR, start_module="",
             start_function=""),  # an injection from a path with a quote in it
    ]  # fmt: skip
    return write_case(tmp_path_factory.mktemp("allow") / "case.parquet", rows)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def _allow_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "benign's.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_builtin_csrss_entry_is_counted_not_listed(case):
    result = run("analyze", str(case), "--format", "json")
    listed = json.loads(result.stdout)
    assert sorted(d["target_pid"] for d in listed if d["rule"] == OUTSIDE) == [603, 604, 605, 606]
    assert all(d["allowed_by"] is None for d in listed)
    assert result.stderr.splitlines()[-1].endswith("; 2 allowed by the allow-list (--show-allowed lists them)")
    shown = json.loads(run("analyze", str(case), "--format", "json", "--show-allowed").stdout)
    allowed = sorted((d["target_pid"], d["allowed_by"]) for d in shown if d["allowed_by"])
    assert allowed == [(601, "csrss-ctrl-routine"), (602, "csrss-ctrl-routine")]


def test_the_summary_table_counts_allowed_detections_on_a_line_of_their_own(case):
    lines = run("analyze", str(case)).stdout.splitlines()
    header = lines[0].split()
    assert header[:7] == ["severity", "name", "rule", "host", "detections", "allowed", "confidence"]
    allowed = [line for line in lines if "csrss-ctrl-routine" in line]
    assert len(allowed) == 1 and allowed[0].split()[4:7] == ["0", "2", "sysmon-derived"]


def test_an_allow_file_extends_the_builtin_list_with_a_quote_in_a_value(case, tmp_path):
    path = _allow_file(tmp_path, """
[[allow]]
name = "o'brien's packer"
rule = "REMOTE_THREAD_*"
actor_image = "?:\\\\users\\\\o'brien\\\\in_ject.exe"
note = "the lab's own 'injector' (ticket 1)"
""")  # fmt: skip
    result = run("analyze", str(case), "--format", "json", "--show-allowed", "--allow", str(path))
    assert result.exit_code == 0, result.output
    got = {d["target_pid"]: d["allowed_by"] for d in json.loads(result.stdout) if d["rule"] == OUTSIDE}
    assert got == {601: "csrss-ctrl-routine", 602: "csrss-ctrl-routine", 603: None, 604: None, 605: None,
                   606: "o'brien's packer"}  # fmt: skip


@pytest.mark.parametrize(("pattern", "allowed"), [
    ("*\\\\in_ject.exe", True),
    ("*\\\\in%ject.exe", False),  # `%` is a character, not LIKE's wildcard
    ("*\\\\inXject.exe", False),  # `_` in the value is matched by itself only
    ("*\\\\in?ject.exe", True),  # `?` is one character
    ("*\\\\in_ject", False),  # the whole value: no implicit trailing wildcard
    ("C:\\\\USERS\\\\*", True),  # case-insensitive
])  # fmt: skip
def test_glob_patterns_are_literal_but_for_star_and_question_mark(case, tmp_path, pattern, allowed):
    path = _allow_file(tmp_path, f'[[allow]]\nname = "p"\nactor_image = "{pattern}"\n')
    shown = json.loads(run("analyze", str(case), "--format", "json", "--show-allowed", "--allow", str(path)).stdout)
    (det,) = [d for d in shown if d["rule"] == OUTSIDE and d["target_pid"] == 606]
    assert (det["allowed_by"] == "p") is allowed


@pytest.mark.parametrize(("text", "message"), [
    ("[[allow]\n", "not TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)"),
    ('[[allow]]\nname = "a"\nrule = "X"\n[[allow]]\nname = "b"\nactr_image = "x"\n',
     "[[allow]] entry 2: unknown key 'actr_image' (known: name, rule, actor_image, target_image, start_module, "
     "start_function, note)"),
    ('[[allow]]\nname = "a"\nrule = 3\n', "[[allow]] entry 1: rule must be a string, not int"),
    ('[[allow]]\nrule = "X"\n', "[[allow]] entry 1: needs a name (it is what allowed_by shows)"),
    ('[[allow]]\nname = "a"\nnote = "n"\n', "[[allow]] entry 1 (a): needs at least one pattern (rule, actor_image, "
     "target_image, start_module, start_function); an entry without one would allow every detection"),
    ('[[allwo]]\nname = "a"\n', "unknown table 'allwo'; entries are [[allow]] tables"),
    ('allow = "x"\n', "'allow' must be an array of tables ([[allow]])"),
])  # fmt: skip
def test_a_bad_allow_file_is_one_line_naming_the_file_and_entry(case, tmp_path, text, message):
    path = _allow_file(tmp_path, text)
    with pytest.raises(AllowListError):
        load(path)
    for command in (["analyze", str(case)], ["report", str(case), "-o", str(tmp_path / "r.html")]):
        result = run(*command, "--allow", str(path))
        assert result.exit_code == 1
        assert result.stderr == f"Error: {path}: {message}{HINT}\n"
    assert not (tmp_path / "r.html").exists()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_counts_allowed_detections_without_cards(case, tmp_path):
    path = _allow_file(tmp_path, '[[allow]]\nname = "<b>lab</b>"\nactor_image = "*o\'brien*"\n')
    out = tmp_path / "r.html"
    result = run("report", str(case), "-o", str(out), "--allow", str(path))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    parser = _Text()
    parser.feed(page)
    text = " ".join(t.strip() for t in parser.text if t.strip())
    assert "csrss-ctrl-routine REMOTE_THREAD_OUTSIDE_MAIN_IMAGE WS01 sysmon-derived 2" in text
    assert "<b>lab</b> REMOTE_THREAD_OUTSIDE_MAIN_IMAGE WS01 sysmon-derived 1" in text  # escaped, as text
    assert "<b>lab</b>" not in page
    cards = page.count('class="confidence confidence-')
    assert cards == 3 and "derived: outside:start-module" in text  # 603, 604, 605; none for the allowed four
