"""`swk sql`: one query with bound parameters in every format, and the interactive prompt driven with input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from swk.analyze.testing import write_case
from swk.cli import cli

RUN = r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [{"family": "registry", "ms": i, "actor_pid": 100 + i, "key_path": RUN + f"\\v{i}\x1b[2J"} for i in range(3)]
    rows.append({"family": "handle", "ms": 5, "actor_pid": 1, "target_pid": 2, "access_mask": 0x10, "class_id": 2})
    return write_case(tmp_path_factory.mktemp("sql") / "case.parquet", rows)


def run(*args: object, stdin: str | None = None) -> object:
    return CliRunner().invoke(cli, ["sql", *map(str, args)], input=stdin, catch_exceptions=False)


def test_query_with_bound_parameters_as_json(case):
    result = run(case, "select id, actor_pid, reason from detections where actor_pid >= $pid and reason like $like "
                       "order by id", "-p", "pid", "101", "-p", "like", "%v2%", "--format", "json")  # fmt: skip
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [{"id": 3, "actor_pid": 102, "reason": RUN + "\\v2\x1b[2J"}]


def test_a_parameter_value_is_never_sql(case):
    result = run(case, "select count(*) as n from detections where name = $n", "-p", "n", "x' or '1'='1",
                 "--format", "jsonl")  # fmt: skip
    assert json.loads(result.stdout) == {"n": 0}


def test_table_output_is_terminal_safe(case):
    result = run(case, "select reason from det_high_value_registry_activity order by trigger_event_id")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and result.stdout.splitlines()[2].endswith(r"\Run\v0")


def test_csv_and_views_other_than_detections(case):
    result = run(case, "select family, count(*) as n from events group by family order by family", "--format", "csv")
    assert result.stdout.splitlines() == ["family,n", "handle,1", "registry,3"]


def test_a_bad_query_is_one_line_on_stderr(case):
    result = run(case, "select nope from detections")
    assert result.exit_code == 1
    assert result.stderr.startswith('Error: Binder Error: Referenced column "nope" not found')
    assert len(result.stderr.splitlines()) == 1


def test_interactive_prompt_with_dot_commands(case, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    script = "\n".join([
        ".tables",
        ".schema catalogue",
        "select count(*) as n",
        "  from detections where actor_pid = $pid;",
        ".schema nothing_here",
        "select nope;",
        ".help",
        ".quit",
        "select 'never reached' as x;",
    ])  # fmt: skip
    result = run(case, "-p", "pid", "101", stdin=script)
    assert result.exit_code == 0
    out = result.stdout
    assert "detections\n" in out and "det_high_value_registry_activity\n" in out and "events\n" in out
    assert "catalogue  rule_order  INTEGER" in out
    assert "n\n-\n1\n" in out
    assert ".quit              leave" in out
    assert "never reached" not in out
    assert result.stderr.splitlines() == [
        "error: no view or table named 'nothing_here' (see .tables)",
        'error: Binder Error: Referenced column "nope" was not found because the FROM clause is missing',
    ]
    assert not (tmp_path / ".swk_history").exists()  # piped input keeps no history


def test_end_of_input_ends_the_prompt(case):
    result = run(case, "--format", "jsonl", stdin="select 41 + 1 as answer")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"answer": 42}
