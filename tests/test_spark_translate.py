"""DuckDB -> Spark SQL: each correction swk.analyze.translate makes to sqlglot's output, and what it refuses.

No JVM here: these check the text; tests/test_spark_engine.py runs every view on Spark and compares the answers.
"""

from __future__ import annotations

import duckdb
import pytest

from swk.analyze import engine
from swk.analyze.translate import TranslationError, to_spark

pytestmark = pytest.mark.spark


def test_ordered_list_aggregate_keeps_its_order_and_its_nulls():
    # sqlglot alone gives COLLECT_LIST(x): unordered, and Spark's collect_list drops NULLs (DuckDB keeps them)
    assert to_spark("SELECT array_agg(x ORDER BY k, j) FROM t") == (
        "SELECT TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT((k) IS NULL AS n0, k AS k0, (j) IS NULL AS n1, j AS k1, "
        "x AS v))), e -> e.v) FROM t"
    )
    with pytest.raises(TranslationError, match="only ascending"):
        to_spark("SELECT array_agg(x ORDER BY k DESC) FROM t")


def test_list_subscripts_stay_one_based():
    # sqlglot alone gives j[0] for j[1] but j[i] for j[i]: Spark's subscript is 0-based, so the second is off by one
    assert to_spark("SELECT j[1], j[-1], j[i] FROM t") == (
        "SELECT TRY_ELEMENT_AT(j, 1), TRY_ELEMENT_AT(j, -1), TRY_ELEMENT_AT(j, CAST(i AS INT)) FROM t"
    )
    assert to_spark("SELECT s['name'] FROM t") == "SELECT s['name'] FROM t"  # a struct field is not a position
    con = duckdb.connect()  # and DuckDB agrees on what those mean
    assert con.execute("SELECT l[1], l[-1], l[i], l[5] FROM (SELECT [10, 20, 30] AS l, 2 AS i)").fetchall() == [
        (10, 30, 20, None)
    ]


def test_duckdb_names_and_hints():
    assert to_spark("WITH a AS MATERIALIZED (SELECT epoch_us(ts) AS us FROM t) SELECT us // 1000 FROM a") == (
        "WITH a AS (SELECT UNIX_MICROS(ts) AS us FROM t) SELECT us DIV 1000 FROM a"
    )
    assert to_spark("SELECT * FROM detections WHERE severity >= $s") == "SELECT * FROM detections WHERE severity >= :s"


@pytest.mark.parametrize("sql, message", [
    ("SELECT * FROM a ASOF JOIN b ON a.t >= b.t", "ASOF JOIN"),
    ("SELECT len(evidence) FROM detections", "array_length"),
    ("SELECT 1; SELECT 2", "one statement"),
    ("SELEC 1", "cannot parse"),
])  # fmt: skip
def test_what_does_not_translate_is_refused_with_the_reason(sql, message):
    with pytest.raises(TranslationError, match=message):
        to_spark(sql)


def test_every_view_translates():
    for view in engine.views():
        assert to_spark(view.sql).startswith("CREATE"), view.file


def test_materialised_views_need_a_shared_scratch_directory_off_a_local_master():
    import shutil
    from pathlib import Path

    from swk.analyze.spark import SCRATCH_CONF, SparkEngineError, _scratch

    with pytest.raises(SparkEngineError) as err:
        _scratch("spark://head:7077", {})
    assert SCRATCH_CONF in err.value.hint
    shared = _scratch("yarn", {SCRATCH_CONF: "hdfs:///tmp/swk/"})
    assert shared.startswith("hdfs:///tmp/swk/swk-") and shared != _scratch("yarn", {SCRATCH_CONF: "hdfs:///tmp/swk"})
    local = Path(_scratch("local[2]", {}))
    assert local.is_absolute() and local.is_dir()  # a temp directory of its own
    shutil.rmtree(local)
