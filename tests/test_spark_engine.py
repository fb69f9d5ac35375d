"""The Spark engine (local[2]) runs the same views as DuckDB and gives the same answers.

One hive case holds every agreement scenario of tests/test_analyze_agreement.py on a host of its own (each
technique alone, all of them in benign noise, the dense random edge cases), a fleet whose hosts reuse the same pids
at the same times, and a host name that hive has to percent-encode. Every stateful rule runs per host, so hosts are
independent and one Spark start-up serves them all (CI has 2 cores). DuckDB and Spark must agree on every column of
every detection, every view must run on Spark, and Spark must read every column of the case schema in its own type.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from swk.analyze import engine
from swk.analyze import spark as spark_engine
from swk.analyze.queries import COLUMNS
from swk.analyze.testing import write_case
from swk.capture.simulate import SCENARIOS, Options, simulate
from swk.cli import cli
from swk.store.combine import combine
from swk.store.schema import EVENTS

pytestmark = pytest.mark.spark

# Small shuffles for small cases; the rest is what `swk analyze --engine spark` sets for a local master.
TEST_CONF = [("spark.sql.shuffle.partitions", "2"), ("spark.driver.memory", "2g")]
FLEET = ("FLEET-A", "FLEET-B")  # one simulated host filed twice: the same pids at the same times
ODD_HOST = "DESKTOP 07/ü"  # hive writes host=DESKTOP%2007%2F%C3%BC


def _agreement_module() -> Any:
    """tests/test_analyze_agreement.py, for its dense random edge-case rows (tests are not a package)."""
    path = Path(__file__).with_name("test_analyze_agreement.py")
    spec = importlib.util.spec_from_file_location("_swk_agreement", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def spark_session():
    """The one Spark session of the test run (a JVM per process; connections get their own temp views)."""
    return spark_engine.session("local[2]", TEST_CONF)


@pytest.fixture(scope="module")
def fleet_case(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    parts: list[tuple[str, Path]] = []
    for name in sorted(SCENARIOS):
        result = simulate(root / name, Options(seed=1, scenarios=(name,), benign=False, events=2_000))
        parts.append((f"S-{name}", result.case))
    parts.append(("MIXED", simulate(root / "mixed", Options(seed=7, events=30_000)).case))
    agreement = _agreement_module()
    for seed in range(4):
        parts.append((f"EDGE{seed}", write_case(root / f"edge{seed}.parquet", agreement._random_rows(seed, 3_000))))
    busy = simulate(root / "busy", Options(seed=3, events=20_000)).case
    parts += [(host, busy) for host in FLEET]
    parts.append((ODD_HOST, simulate(root / "odd", Options(seed=4, events=5_000)).case))
    combine(parts, root / "case")
    return root / "case"


@pytest.fixture(scope="module")
def both(fleet_case, spark_session):
    """The case opened on DuckDB and on Spark."""
    con = spark_engine.connect(fleet_case, conf=TEST_CONF)
    yield engine.connect(fleet_case), con
    con.close()


def _plain(value: Any) -> Any:
    """Values as comparable Python: times as UTC µs (the two engines' tzinfo objects differ), lists as tuples."""
    if isinstance(value, datetime):
        return int(value.timestamp()) * 1_000_000 + value.microsecond
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    return value


def _rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v) for v in row) for row in con.execute(sql).fetchall()]


def test_every_view_translates_and_runs_on_spark(both):
    duck, spark = both
    for view in engine.views():
        sql = f"SELECT count(*) FROM {view.name}"
        assert _rows(spark, sql) == _rows(duck, sql), f"views/{view.file}: row counts differ"


@pytest.fixture(scope="module")
def detections(both) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every column of every detection, from DuckDB and from Spark (fetched once: Spark recomputes the view)."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM detections ORDER BY id"
    return _rows(both[0], sql), _rows(both[1], sql)


def test_detections_are_identical_in_every_column(detections):
    expected, got = detections
    assert len(got) == len(expected) > 3_000
    differing = [(a, b) for a, b in zip(expected, got, strict=True) if a != b]
    assert not differing, f"{len(differing)} rows differ, first: duckdb {differing[0][0]} spark {differing[0][1]}"
    hosts = {row[COLUMNS.index("host")] for row in got}
    assert {*FLEET, ODD_HOST, "MIXED", "EDGE0"} <= hosts
    for name, scenario in SCENARIOS.items():  # each technique still raises what it promises on its own host
        raised = {row[COLUMNS.index("rule")] for row in got if row[COLUMNS.index("host")] == f"S-{name}"}
        assert raised >= {r for r in scenario.expects if not r.startswith("DRIVER_DISPATCH")}, name


def test_hosts_reusing_pids_at_the_same_times_never_mix(detections):
    # FLEET-B is FLEET-A's rows again under another host: a join without the host would pair them, and the two
    # hosts' detections would differ from each other (cross-host evidence, matches, cooldowns or windows).
    _, got = detections
    per_host = {}
    for host in FLEET:
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in got if r[COLUMNS.index("host")] == host]
        base = min(r["trigger_event_id"] for r in rows)
        per_host[host] = [_shift(r, base) for r in rows]
    assert per_host[FLEET[0]] == per_host[FLEET[1]]
    assert len(per_host[FLEET[0]]) > 100


def _shift(row: dict[str, Any], base: int) -> dict[str, Any]:
    """The row without its id and host, event ids relative to the host's first trigger."""
    del row["id"], row["host"]
    for name in ("trigger_event_id", "live_event_id"):
        row[name] = None if row[name] is None else row[name] - base
    row["evidence"] = tuple(e - base for e in row["evidence"])
    return row


SPARK_TYPES = {pa.int64(): "bigint", pa.int32(): "int", pa.string(): "string", pa.bool_(): "boolean",
               pa.binary(): "binary", pa.timestamp("us", tz="UTC"): "timestamp"}  # fmt: skip


def _spark_type(type_: pa.DataType) -> str:
    if pa.types.is_list(type_):
        return f"array<{_spark_type(type_.value_type)}>"
    if pa.types.is_struct(type_):
        return "struct<" + ",".join(f"{f.name}:{_spark_type(f.type)}" for f in type_) + ">"
    return SPARK_TYPES[type_]


def test_spark_reads_every_column_of_the_case_schema_natively(both):
    duck, spark = both
    read = {f.name: f.dataType.simpleString() for f in spark.spark.table("events").schema.fields}
    assert set(read) == set(EVENTS.names)
    for field in EVENTS:
        assert read[field.name] == _spark_type(field.type), field.name  # no decimal(20,0), no int96, no strings
    # and the values are DuckDB's, column by column (negative kernel addresses, µs times, frames, registers)
    sql = f"SELECT {', '.join(EVENTS.names)} FROM events WHERE host = 'MIXED' AND event_id % 7 = 0 ORDER BY event_id"
    expected, got = _rows(duck, sql), _rows(spark, sql)
    assert len(got) == len(expected) > 3_000
    for name, column in zip(EVENTS.names, zip(*got, strict=True), strict=True):
        assert list(column) == [row[EVENTS.names.index(name)] for row in expected], name


def test_swk_analyze_and_sql_print_the_same_on_both_engines(both, fleet_case, monkeypatch):
    _, shared = both
    calls = []

    def connect(case, **kwargs):  # the views are loaded once for the module; the CLI path is the same
        calls.append(kwargs)
        return shared

    monkeypatch.setattr(spark_engine, "connect", connect)
    runner = CliRunner()
    for args in (["analyze", str(fleet_case)], ["analyze", str(fleet_case), "--format", "csv", "--min-severity", "6"],
                 ["sql", str(fleet_case), "SELECT host, count(*) AS n FROM detections WHERE severity >= $s "
                  "GROUP BY host ORDER BY host", "-p", "s", "5", "--format", "json"]):  # fmt: skip
        duck = runner.invoke(cli, args)
        spark = runner.invoke(cli, [*args, "--engine", "spark", "--conf", "spark.sql.shuffle.partitions=2"])
        assert duck.exit_code == spark.exit_code == 0, spark.stderr
        assert spark.stdout == duck.stdout, args
        assert spark.stderr == duck.stderr, args
    assert calls[0] == {"master": "local[2]", "conf": [("spark.sql.shuffle.partitions", "2")], "allow": []}
    rows = json.loads(spark.stdout)
    assert {r["host"] for r in rows} >= {*FLEET, ODD_HOST}


def test_an_allow_list_file_suppresses_the_same_detections_on_both_engines(fleet_case, spark_session, tmp_path):
    allow = tmp_path / "benign.toml"
    allow.write_text('[[allow]]\nname = "its \'own\' noise"\nrule = "REMOTE_THREAD_*"\n', encoding="utf-8")
    args = ["analyze", str(fleet_case), "--allow", str(allow), "--show-allowed", "--format", "json"]
    runner = CliRunner()
    duck = runner.invoke(cli, args)
    spark = runner.invoke(cli, [*args, "--engine", "spark", *(f"--conf={k}={v}" for k, v in TEST_CONF)])
    assert duck.exit_code == spark.exit_code == 0, spark.stderr
    assert spark.stdout == duck.stdout and spark.stderr == duck.stderr
    allowed = [r for r in json.loads(spark.stdout) if r["allowed_by"]]
    assert allowed and {r["allowed_by"] for r in allowed} == {"its 'own' noise"}
    assert all(r["rule"].startswith("REMOTE_THREAD_") for r in allowed)


def test_engine_options_are_checked(tmp_path):
    case = write_case(tmp_path / "c.parquet", [{"family": "handle", "ms": 0}])
    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", str(case), "--master", "local[1]"])
    assert result.exit_code == 2 and "--master and --conf need --engine spark" in result.stderr
    result = runner.invoke(cli, ["sql", str(case), "SELECT 1", "--engine", "spark", "--conf", "no-equals"])
    assert result.exit_code == 2 and "'no-equals' is not KEY=VALUE" in result.stderr
    result = runner.invoke(cli, ["analyze", str(case), "--engine", "spark", "--explain", "1"])
    assert result.exit_code == 2 and "--explain runs on the duckdb engine" in result.stderr
    result = runner.invoke(cli, ["sql", str(case), "--engine", "spark"])
    assert result.exit_code == 2 and "needs a QUERY" in result.stderr


def test_without_pyspark_spark_says_so_in_one_line_and_duckdb_never_needs_it(tmp_path, monkeypatch):
    case = write_case(tmp_path / "c.parquet", [{"family": "handle", "ms": 0}])
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", str(case), "--engine", "spark"])
    assert result.exit_code == 1
    assert result.stderr == "Error: --engine spark needs pyspark (pip install 'swk[spark]')\n"
    result = runner.invoke(cli, ["analyze", str(case), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
