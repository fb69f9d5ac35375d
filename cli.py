"""The `swk` command line: a thin click layer over capture/, store/, analyze/ and reports/.

This is the only module that imports click. Library errors (`SwkError`) become one line on stderr and exit 1;
flags that conflict are usage errors (exit 2). Data goes to stdout; progress and warnings to stderr.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from swk import __version__
from swk.errors import SwkError
from swk.safe import for_terminal


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a `SwkError` into click's one-line error (exit 1), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SwkError as exc:
            raise click.ClickException(for_terminal(exc.one_line())) from None

    return wrapper


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--format table|json|jsonl|csv` (`nl` accepted for jsonl), shared by every tabular command."""
    from swk.output import FORMATS

    return click.option("--format", "fmt", type=click.Choice([*FORMATS, "nl"]), default="table",
                        show_default=True, help="output format")(fn)  # fmt: skip


def parse_utc(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """A click callback for ISO-8601 times with an explicit UTC offset or Z."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 time, e.g. 2026-03-02T08:00:00Z") from None
    if when.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset; add Z or +00:00")
    return when


class Progress:
    """A byte-progress line on stderr, drawn only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        pct = min(100, done * 100 // total)
        if pct != self.last:
            self.last = pct
            sys.stderr.write(f"\r{pct:3d}% {done / 1e6:,.1f} / {total / 1e6:,.1f} MB")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last >= 0:
            sys.stderr.write("\n")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="swk")
def cli() -> None:
    """swk: after-the-fact analysis of Sleepwalker kernel telemetry and Sysmon logs."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="case to write: a .parquet file, or a directory for a hive-partitioned case",
)
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    help="input format: auto (sniff each file's content) or a reader name (see `swk formats`)",
)
@click.option("--host", help="host name for rows whose source does not carry one [default: unknown]")
@click.option(
    "--boot-time",
    callback=parse_utc,
    help="UTC time of QPC 0 on the captured host, to put IOCTL records on the wall clock",
)
@click.option(
    "--qpc-frequency",
    type=click.IntRange(min=1),
    default=10_000_000,
    show_default=True,
    help="QPC ticks per second of the captured host (IOCTL records carry none)",
)
@click.option("--partition", is_flag=True, help="write a hive-partitioned directory (host=<name>/part-*.parquet)")
@click.option("-q", "--quiet", is_flag=True, help="no progress or per-input lines on stderr")
@reports_errors
def ingest(
    inputs: tuple[Path, ...],
    output: Path,
    fmt: str,
    host: str | None,
    boot_time: datetime | None,
    qpc_frequency: int,
    partition: bool,
    quiet: bool,
) -> None:
    """Read captured inputs of any supported format into one case.

    \b
    Example:
        swk ingest events.bin -o case.parquet --host WS01
        swk ingest logs/ more.bin -o case_dir --partition
    """  # fmt: skip
    from swk import capture
    from swk.capture.ingest import Options
    from swk.capture.ingest import ingest as run

    if fmt != "auto" and fmt not in capture.FORMATS:
        raise click.BadParameter(f"{fmt!r}: choose auto or one of {', '.join(capture.FORMATS)}", param_hint="--format")
    progress = Progress(not quiet)
    say = None if quiet else (lambda msg: click.echo(for_terminal(msg), err=True))
    try:
        manifest = run(
            list(inputs),
            output,
            Options(fmt=fmt, host=host, boot_time=boot_time, qpc_frequency=qpc_frequency, partitioned=partition),
            progress=progress,
            announce=say,
        )
    finally:
        progress.close()
    if not quiet:
        click.echo(f"wrote {for_terminal(output)}: {manifest['rows']:,} events, {manifest['rejects']:,} rejects",
                   err=True)  # fmt: skip


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reports_errors
def info(case: Path, fmt: str) -> None:
    """Summarise a case: inputs with hashes and counts, rows per family, time span, hosts, pids.

    \b
    Example:
        swk info case.parquet
        swk info case_dir --format json
    """
    from swk.output import write_document
    from swk.store.reader import open_case
    from swk.store.summary import render, summarize

    summary = summarize(open_case(case))
    if fmt == "json":
        write_document(summary, sys.stdout)
    else:
        click.echo(render(summary))


@cli.command()
def formats() -> None:
    """List the input formats `swk ingest` can read, in sniffing order.

    \b
    Example:
        swk formats
    """
    from swk import capture

    for name in capture.FORMATS:
        click.echo(f"{name:<10} {capture.load(name).DESCRIPTION}")


def capture_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `swk capture live`, also taken by `swk capture service install`."""
    options = [
        click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
                     help="case directory to write (host=<name>/part-*.parquet); an existing case is appended to"),
        click.option("--etw", is_flag=True, help="a real-time ETW session on the Sleepwalker.Kernel provider"),
        click.option("--ioctl", metavar="PID,...", help="IOCTL records of these processes (at most 64)"),
        click.option("--streams", default="handle,memory,thread", show_default=True, help="IOCTL streams to subscribe"),
        click.option("--ti", is_flag=True,
                     help="add Microsoft-Windows-Threat-Intelligence to the ETW session (Windows refuses it to "
                          "unprotected processes; the capture then goes on without it)"),
        click.option("--rotate", default="60s", show_default=True,
                     help="close a part every duration (60s, 5m, 1h) or every N events (1e6)"),
        click.option("--via", type=click.Choice(["auto", "broker", "device"]), default="auto", show_default=True,
                     help="IOCTL transport: the controller's pipe (preferred), or the device"),
        click.option("--host", help="host name for the case [default: this computer's name]"),
        click.option("--health", type=click.FloatRange(min=0), default=5.0, show_default=True,
                     help="seconds between health lines on stderr (0: none)"),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _live_options(output: Path, etw: bool, ioctl: str | None, streams: str, ti: bool, rotate: str, via: str,
                  host: str | None, health: float) -> Any:  # fmt: skip
    from swk.capture.live.protocol import stream_mask
    from swk.capture.live.run import LiveOptions, parse_pids

    try:
        options = LiveOptions(output=str(output), etw=etw, ioctl_pids=parse_pids(ioctl) if ioctl else [],
                              streams=stream_mask(streams), ti=ti, rotate=rotate, via=via, host=host,
                              health_seconds=health)  # fmt: skip
        options.check()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return options


@cli.group()
def capture() -> None:
    """Capture live Sleepwalker telemetry on a Windows host into a case.

    \b
    Example:
        swk capture live -o case_dir --etw --ioctl 4242
    """


@capture.command("live")
@capture_options
@reports_errors
def capture_live(**kwargs: Any) -> None:
    """Capture ETW events and IOCTL records into rolling Parquet parts until Ctrl-C.

    Needs Windows with the Sleepwalker driver (and its controller for the pipe). The directory is a case that
    `swk info` reads at any time, also while the capture runs.

    \b
    Example:
        swk capture live -o case_dir --etw --ioctl 4242,5150 --rotate 60s
        swk capture live -o case_dir --ioctl 4242 --via device --rotate 1e6
    """
    from swk.capture.live.run import capture_live as run

    options = _live_options(**kwargs)
    manifest = run(options, say=lambda msg: click.echo(for_terminal(msg), err=True))
    click.echo(f"wrote {for_terminal(options.output)}: {manifest['rows']:,} events, {manifest['rejects']:,} rejects "
               f"in {len(manifest['parts'])} parts", err=True)  # fmt: skip


@capture.group("service")
def capture_service() -> None:
    """Run the live capture as a Windows service (needs the `windows` extra: pywin32).

    \b
    Example:
        swk capture service install -o C:\\cases\\ws01 --etw --ioctl 4242
        swk capture service start
    """


@capture_service.command("install")
@capture_options
@reports_errors
def service_install(**kwargs: Any) -> None:
    """Install the capture service (auto start, LocalSystem) with these capture options.

    \b
    Example:
        swk capture service install -o C:\\cases\\ws01 --etw --ioctl 4242 --health 300
    """
    from swk.capture.live.run import service_command

    click.echo(for_terminal(service_command("install", _live_options(**kwargs))), err=True)


def _service_action(action: str, summary: str) -> None:
    @reports_errors
    def command() -> None:
        from swk.capture.live.run import service_command

        click.echo(for_terminal(service_command(action)), err=True)

    command.__doc__ = f"{summary}\n\n    \b\n    Example:\n        swk capture service {action}\n    "
    capture_service.command(action)(command)


_service_action("remove", "Remove the capture service.")
_service_action("start", "Start the capture service.")
_service_action("stop", "Stop the capture service; it closes its last part before it ends.")


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--engine duckdb|spark` with Spark's `--master URL` and `--conf KEY=VALUE`, shared by analyze and sql."""
    options = [
        click.option("--engine", "engine_name", type=click.Choice(["duckdb", "spark"]), default="duckdb",
                     show_default=True, help="run the views on DuckDB, or on Spark (the spark extra and Java 17)"),
        click.option("--master", metavar="URL", help="Spark master, e.g. spark://head:7077 [default: local[2]]"),
        click.option("--conf", "spark_conf", multiple=True, metavar="KEY=VALUE",
                     help="a Spark setting, e.g. spark.executor.memory=8g (repeatable)"),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def spark_args(engine_name: str, master: str | None, spark_conf: tuple[str, ...]) -> dict[str, Any]:
    """What `swk.analyze.spark.connect` takes from the engine options (nothing for DuckDB)."""
    if engine_name != "spark":
        if master or spark_conf:
            raise click.UsageError("--master and --conf need --engine spark")
        return {}
    pairs = []
    for item in spark_conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--conf")
        pairs.append((key.strip(), value))
    return {"master": master or "local[2]", "conf": pairs}


def allow_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--allow FILE` (repeatable): allow-list entries added to the built-in ones, shared by analyze and report."""
    return click.option("--allow", multiple=True, metavar="FILE",
                        type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="allow-list file (TOML [[allow]] entries, see README 'Allow-list'); repeatable")(fn)  # fmt: skip


def allow_entries(paths: tuple[Path, ...]) -> list[Any]:
    """The entries of the allow-list files, in the order given."""
    from swk.analyze.allow import load

    return [entry for path in paths for entry in load(path)]


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@output_options
@click.option("--min-severity", type=int, help="only detections of at least this severity")
@click.option("--detection", metavar="NAME", help="only this detection name (or rule, e.g. THREAD_HIJACK_INTENT/apc)")
@click.option("--pid", type=int, help="only detections whose actor or target is this pid")
@click.option("--since", callback=parse_utc, help="only detections at or after this UTC time")
@click.option("--until", callback=parse_utc, help="only detections at or before this UTC time")
@click.option("--explain", "explain_id", type=int, metavar="ID", help="one detection's chain, evidence decoded")
@allow_options
@click.option("--show-allowed", is_flag=True, help="list the detections the allow-list suppresses too (allowed_by)")
@engine_options
@reports_errors
def analyze(
    case: Path,
    fmt: str,
    min_severity: int | None,
    detection: str | None,
    pid: int | None,
    since: datetime | None,
    until: datetime | None,
    explain_id: int | None,
    allow: tuple[Path, ...],
    show_allowed: bool,
    engine_name: str,
    master: str | None,
    spark_conf: tuple[str, ...],
) -> None:
    """Reconstruct every detection from a case's rows and reconcile it with what was raised live.

    The table is one line per rule, host and confidence (and process pair), most severe first;
    json, jsonl and csv give every detection with its evidence event ids. Detections an
    allow-list entry suppresses are counted (the `allowed` column, stderr) and listed with
    --show-allowed. Warnings and the reconciliation counts go to stderr.

    \b
    Example:
        swk analyze case.parquet
        swk analyze case.parquet --format json --min-severity 6
        swk analyze case.parquet --explain 17
        swk analyze case.parquet --allow benign.toml --show-allowed --format jsonl
        swk analyze case_dir --engine spark --master spark://head:7077
    """  # fmt: skip
    from swk.analyze import explain, queries
    from swk.output import write_rows

    connect = spark_args(engine_name, master, spark_conf)
    if explain_id is not None and engine_name == "spark":
        raise click.UsageError("--explain runs on the duckdb engine; drop --engine spark")
    analysis = queries.open_analysis(case, on=engine_name, allow=allow_entries(allow), **connect)
    for line in analysis.warnings:
        click.echo(f"warning: {for_terminal(line)}", err=True)
    if explain_id is not None:
        click.echo("\n".join(explain.explain(analysis.con, explain_id)))
        return
    filters = queries.Filters(min_severity=min_severity, detection=detection, pid=pid, since=since, until=until,
                              show_allowed=show_allowed)  # fmt: skip
    if fmt == "table":
        write_rows(queries.summary(analysis.con, filters), queries.SUMMARY_COLUMNS, fmt, sys.stdout)
    else:
        write_rows(queries.detections(analysis.con, filters), queries.OUTPUT_COLUMNS, fmt, sys.stdout)
    click.echo(queries.counts_line(queries.status_counts(analysis.con, filters)), err=True)


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (one self-contained file: no network needed to open it)",
)
@click.option("--title", help="the report's title [default: Incident report: <hosts>]")
@click.option(
    "--min-severity",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="only detections of at least this severity get cards (the summary still counts every one)",
)
@allow_options
@reports_errors
def report(case: Path, output: Path, title: str | None, min_severity: int, allow: tuple[Path, ...]) -> None:
    """Write one self-contained HTML incident report of a case, to read offline or attach to a ticket.

    \b
    Example:
        swk report case.parquet -o incident.html
        swk report case_dir -o ws01.html --title "WS01 hollowing" --min-severity 5
        swk report case.parquet -o incident.html --allow benign.toml
    """  # fmt: skip
    from swk.reports.report import write_report

    written = write_report(case, output, title=title, min_severity=min_severity, allow=allow_entries(allow))
    for line in written.warnings:
        click.echo(f"warning: {for_terminal(line)}", err=True)
    click.echo(f"wrote {for_terminal(written.path)}: {written.cards:,} detection cards of {written.detections:,}, "
               f"{written.size / 1e6:,.1f} MB", err=True)  # fmt: skip


@cli.command()
@click.argument("case", type=click.Path(path_type=Path))
@click.argument("query", required=False)
@output_options
@click.option(
    "-p",
    "--param",
    "params",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="bind VALUE to $NAME in the query (integers are bound as integers)",
)
@engine_options
@reports_errors
def sql(
    case: Path,
    query: str | None,
    fmt: str,
    params: tuple[tuple[str, str], ...],
    engine_name: str,
    master: str | None,
    spark_conf: tuple[str, ...],
) -> None:
    """Query a case with SQL: `events`, the family views, `detections` and one view per rule.

    Without QUERY, an interactive prompt (.tables, .schema [view], .help, .quit; history in
    ~/.swk_history). User values reach SQL only as bound parameters.

    \b
    Example:
        swk sql case.parquet "select * from detections where severity >= 6"
        swk sql case.parquet "select * from detections where actor_pid = $pid" -p pid 4242
        swk sql case.parquet
        swk sql case_dir "select host, count(*) from detections group by host" --engine spark
    """  # fmt: skip
    import duckdb

    from swk.analyze import engine, shell

    connect = spark_args(engine_name, master, spark_conf)
    if engine_name == "spark":
        if query is None:
            raise click.UsageError("--engine spark needs a QUERY (the interactive prompt runs on duckdb)")
        from swk.analyze import spark

        con = spark.connect(case, **connect)
    else:
        con = engine.connect(case)
    bound = {name: int(value) if value.lstrip("-").isdigit() else value for name, value in params}
    if query is None:
        shell.run(con, fmt=fmt, params=bound, out=sys.stdout, err=sys.stderr)
        return
    try:
        shell.query(con, query, bound, fmt, sys.stdout)
    except duckdb.Error as exc:
        raise click.ClickException(for_terminal(str(exc).splitlines()[0])) from None


@cli.command()
@click.argument("scenarios", nargs=-1)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="directory to write case.parquet, truth.json and the requested outputs into",
)
@click.option("--seed", type=int, default=1, show_default=True, help="the same seed gives the same host and events")
@click.option(
    "--events",
    type=click.IntRange(min=0),
    default=200_000,
    show_default=True,
    help="approximate events of benign background activity (0: the techniques alone)",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    help="simulated seconds [default: events / 1000; never shorter than the techniques need]",
)
@click.option("--host", default="WS-ALICE01", show_default=True, help="host name")
@click.option("--start", callback=parse_utc, help="UTC start of the capture [default: 2026-03-02T09:00:00Z]")
@click.option(
    "--formats",
    default="ioctl,jsonl,console,printer,suite,controller,etl",
    show_default=True,
    help="Sleepwalker outputs to write, comma-separated (empty: none); jsonl writes the client's main and "
    "high-priority logs",
)
@click.option("--list", "list_", is_flag=True, help="list the scenarios (name, ATT&CK id, description) and exit")
@reports_errors
def simulate(
    scenarios: tuple[str, ...],
    output: Path | None,
    seed: int,
    events: int,
    duration: float | None,
    host: str,
    start: datetime | None,
    formats: str,
    list_: bool,
) -> None:
    """Simulate a Windows 11 host under Sleepwalker: techniques with known detections, benign noise around them.

    With no SCENARIO, every technique runs on a busy host. Writes DIR/case.parquet (one row per event the driver
    recorded, and every detection it and its controller raised), DIR/truth.json (those detections with their
    evidence event ids) and Sleepwalker's own outputs of the run, all of them unless --formats names some (ioctl:
    DIR/events.bin, jsonl: DIR/events.swk.jsonl and DIR/high_priority.swk.jsonl, etl: DIR/events.etl, ...).

    \b
    Example:
        swk simulate --list
        swk simulate -o sim --events 200000
        swk simulate process-hollowing crt-shellcode -o sim --events 0 --formats ioctl,jsonl,console
    """  # fmt: skip
    from swk.capture.simulate import run

    if list_:
        click.echo("\n".join(for_terminal(line) for line in run.scenario_lines()))
        return
    if output is None:
        raise click.UsageError("give -o DIR (or --list)")
    options = run.Options(
        seed=seed,
        host=host,
        events=events,
        duration_s=duration,
        benign=events > 0,
        scenarios=scenarios or None,
        formats=tuple(f for f in formats.split(",") if f.strip()),
    )
    if start is not None:
        options.start = start
    result = run.simulate(output, options)
    click.echo("\n".join(for_terminal(line) for line in run.summary_lines(result)), err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="swk")
