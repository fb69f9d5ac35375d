"""`swk capture` off Windows: one line and exit 1, usage errors exit 2, help and README for every command."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from swk.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"
NEEDS_WINDOWS = ("needs Windows (the Sleepwalker driver, its controller and ETW exist only there) (run it on the "
                 "monitored Windows host; here, `swk ingest` reads what was captured there)\n")  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_capture_live_says_in_one_line_that_it_needs_windows(tmp_path: Path):
    result = run("capture", "live", "-o", str(tmp_path / "case"), "--etw", "--ioctl", "4242")
    assert result.exit_code == 1
    assert result.stderr == f"Error: swk capture live {NEEDS_WINDOWS}"
    assert result.stdout == ""
    assert not (tmp_path / "case").exists()


@pytest.mark.parametrize("action", ["remove", "start", "stop"])
def test_service_commands_say_they_need_windows(action):
    result = run("capture", "service", action)
    assert (result.exit_code, result.stderr) == (1, f"Error: swk capture service {NEEDS_WINDOWS}")


def test_service_install_says_it_needs_windows(tmp_path: Path):
    result = run("capture", "service", "install", "-o", str(tmp_path), "--ioctl", "4242")
    assert (result.exit_code, result.stderr) == (1, f"Error: swk capture service {NEEDS_WINDOWS}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to capture: give --etw, --ioctl PID,... or both"),
        (["--ioctl", "4242,x"], "'x' is not a process id (1..4294967295)"),
        (["--ioctl", "4242", "--streams", "handle,disk"], "unknown stream 'disk': choose from handle, memory, thread"),
        (["--etw", "--rotate", "soon"], "'soon': give a duration (60s, 5m, 1h) or an event count (1e6, 250000)"),
        (["--ioctl", "4242", "--ti"], "--ti adds Threat-Intelligence to the --etw session: give --etw too"),
    ],
)
def test_options_that_cannot_work_are_usage_errors(tmp_path: Path, args, message):
    result = run("capture", "live", "-o", str(tmp_path / "case"), *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"


def _commands(group: click.Group, prefix: str):
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def test_every_capture_command_has_help_with_an_example_and_is_in_the_readme():
    readme = README.read_text()
    group = cli.commands["capture"]
    assert isinstance(group, click.Group)
    for path, command in [("swk capture", group), *_commands(group, "swk capture")]:
        assert command.help and "Example:" in command.help, path
        assert path in readme, path
