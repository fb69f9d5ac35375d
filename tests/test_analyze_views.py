"""The view files as package data: naming, order, headers, the Spark-minded SQL rules, the catalogue copies, and the
`events` relation over single files, hive directories and paths with a quote in them."""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files
from pathlib import Path

import duckdb
import pytest

from swk.analyze import engine
from swk.analyze.testing import write_case
from swk.kernel.catalogue import CATALOGUE, HIGH_VALUE_REGISTRY_NEEDLES
from swk.store.reader import open_case

ROOT = Path(__file__).resolve().parents[1]
VIEWS = engine.views()

# Constructs that are DuckDB's own and must carry a `-- duckdb:` note on their line (Spark runs these views later).
DUCKDB_ONLY = [r"\bepoch_us\(", r"\w //", r"MATERIALIZED \(", r"\bEXCLUDE\b", r"\bunnest\(", r"\blist_sort\(",
               r"\barg_max\(", r"count\(DISTINCT \(", r"\[[a-z]\.event_id", r"\[event_id\]", r"\[m\.trigger_event_id\]"]  # fmt: skip


def test_views_load_through_importlib_resources_from_package_data():
    entries = sorted(e.name for e in (files("swk.analyze") / "views").iterdir() if e.name.endswith(".sql"))
    assert [v.file for v in VIEWS] == entries
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "views/*.sql" in data["swk.analyze"]


@pytest.mark.parametrize("view", VIEWS, ids=[v.file for v in VIEWS])
def test_each_file_creates_the_view_its_stem_names_and_opens_with_a_why_header(view):
    stem = view.file.removesuffix(".sql")
    number, name = stem.split("_", 1)
    assert len(number) == 3 and number.isdigit()
    assert re.findall(r"CREATE OR REPLACE VIEW (\w+) AS", view.sql) == [name]
    assert len(duckdb.connect().extract_statements(view.sql)) == 1
    header = view.sql[: view.sql.index("CREATE OR REPLACE VIEW")]
    assert header.startswith("-- ") and all(line.startswith("--") for line in header.strip().splitlines())
    assert re.search(r"spec 3\.\d+|docs/detections\.md|kernel/catalogue\.py", header), "header names its source"


@pytest.mark.parametrize("view", VIEWS, ids=[v.file for v in VIEWS])
def test_duckdb_only_syntax_is_marked_and_spark_traps_are_avoided(view):
    for n, line in enumerate(view.sql.splitlines(), 1):
        code = line.split("--", 1)[0]
        for pattern in DUCKDB_ONLY:
            if re.search(pattern, code):
                assert "-- duckdb:" in line, f"{view.file}:{n}: {pattern} without a '-- duckdb:' note"
        assert "ASOF" not in code.upper(), f"{view.file}:{n}: ASOF JOIN does not translate to Spark"
        assert not re.search(r"\blen\(", code), f"{view.file}:{n}: len() becomes LENGTH on Spark"


def test_numbers_leave_gaps_and_dependencies_load_in_order(tmp_path):
    numbers = [int(v.file[:3]) for v in VIEWS]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    con = engine.connect(write_case(tmp_path / "c.parquet", [{"family": "handle", "ms": 0}]))
    loaded = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() UNION SELECT table_name FROM "
                                        "duckdb_tables()").fetchall()}  # fmt: skip
    assert {v.name for v in VIEWS} <= loaded


def test_every_catalogue_rule_has_its_det_view():
    names = {v.name for v in VIEWS}
    for d in CATALOGUE:
        assert "det_" + d.rule.lower().replace("/", "_") in names


def test_catalogue_and_needles_views_equal_kernel_catalogue(tmp_path):
    con = engine.connect(write_case(tmp_path / "c.parquet", [{"family": "handle", "ms": 0}]))
    rows = con.execute("SELECT rule_order, rule, name, severity, engine, reason, attack FROM catalogue "
                       "ORDER BY rule_order").fetchall()  # fmt: skip
    assert rows == [(i + 1, d.rule, d.name, d.severity, d.emitter, d.reason, d.attack) for i, d in enumerate(CATALOGUE)]
    needles = con.execute("SELECT needle, attack FROM high_value_needles ORDER BY needle_order").fetchall()
    assert needles == list(HIGH_VALUE_REGISTRY_NEEDLES)


ROWS = [
    {"family": "image", "ms": 0, "actor_pid": 8, "target_pid": 8, "image_path": r"\Windows\System32\ntdll.dll"},
    {
        "family": "registry",
        "ms": 1,
        "actor_pid": 8,
        "key_path": r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows"
        r"\CurrentVersion\Run",
    },
]


def test_events_path_with_a_quote_is_escaped(tmp_path):
    folder = tmp_path / "it's a case'); DROP TABLE x; --"
    folder.mkdir()
    case = write_case(folder / "o'brien.parquet", ROWS)
    con = engine.connect(case)
    assert con.execute("SELECT count(*) FROM events").fetchall() == [(2,)]
    assert con.execute("SELECT count(*) FROM detections").fetchall() == [(2,)]


def test_hive_partitioned_case_takes_host_from_the_folder(tmp_path):
    case = write_case(tmp_path / "hive", ROWS, host="WS 01/x", partitioned=True)
    opened = open_case(case)
    assert opened.partitioned
    con = engine.connect(opened)
    assert con.execute("SELECT DISTINCT host FROM events").fetchall() == [("WS 01/x",)]
    assert con.execute("SELECT DISTINCT host FROM detections").fetchall() == [("WS 01/x",)]


def test_connection_settings_for_duckdb_2(tmp_path):
    con = engine.connect(write_case(tmp_path / "c.parquet", ROWS))
    assert con.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
    assert con.execute("SELECT current_setting('asof_loop_join_threshold')").fetchall() == [(0,)]


def test_a_view_file_that_names_another_view_is_refused(tmp_path):
    bad = engine.View("500_x.sql", "x", "-- docs/detections.md\nCREATE OR REPLACE VIEW x AS SELECT nope FROM y;")
    con = engine.connect(write_case(tmp_path / "c.parquet", ROWS))
    with pytest.raises(engine.ViewError, match=r"views/500_x\.sql: .*"):
        engine.load(con, bad)
