"""Opens a case in Spark: `events` over `spark.read.parquet(CASE)` (hive `host=` folders included), then every view of
`views/*.sql` translated by `swk.analyze.translate`, the same views DuckDB runs and the same ones materialised.

pyspark is an optional extra (`swk[spark]`) imported only here, inside functions, so DuckDB use never needs it.
`SparkConnection` answers the small part of DuckDB's connection API that `swk analyze` and `swk sql` use
(`execute(sql, params)` with `$name` parameters, then `description`, `fetchall`, `fetchmany`), so the same queries
run on either engine. Results come back through Arrow, so times are UTC-aware datetimes as DuckDB returns them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from swk.analyze import engine, translate
from swk.errors import CaseError, SwkError
from swk.store.reader import Case, open_case

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from swk.analyze.allow import Entry

DEFAULT_MASTER = "local[2]"
SCRATCH_CONF = "spark.swk.scratch"  # a directory every executor can read, for the materialised views

# Settings every run needs: UTC session time (the views compare UTC µs), host partition values kept as strings
# (a host named 1234 must not become an integer), no console progress bars between our own lines.
REQUIRED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# Defaults a user may override with --conf: a local driver holds the whole case, and 200 shuffle partitions cost
# more than they spread on one box; on a cluster set executor memory and shuffle partitions for the fleet.
LOCAL_DEFAULTS = {
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
}
_LOG4J = """\
rootLogger.level = fatal
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = spark: %p %c{1}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = fatal
"""


class SparkEngineError(SwkError):
    """The Spark engine cannot start or a statement fails on it."""


def _require() -> Any:
    try:
        import pyspark
    except ImportError:
        raise SparkEngineError("--engine spark needs pyspark", hint="pip install 'swk[spark]'") from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise SparkEngineError("--engine spark needs Java 17 (no java on PATH and no JAVA_HOME)",
                               hint="install a JRE, e.g. apt-get install openjdk-17-jre-headless")  # fmt: skip
    return pyspark


def _log_config() -> str:
    # Spark's errors reach us as exceptions; its own log lines (query context, task failures) would repeat them.
    path = Path(tempfile.gettempdir()) / "swk-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.write_text(_LOG4J)
    return str(path)


def _jvm_log() -> Path:
    return Path(tempfile.gettempdir()) / "swk-spark.log"


def _launch(builder: Any) -> SparkSession:
    """The session, with the JVM's own stderr (launcher warnings, log4j's start-up lines) in `_jvm_log()`.

    The JVM inherits file descriptor 2 when pyspark starts it, and swk's stderr is for swk's warnings and counts.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(_jvm_log(), "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            return builder.getOrCreate()
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def session(master: str = DEFAULT_MASTER, conf: Iterable[tuple[str, str]] = ()) -> SparkSession:
    """The Spark session for `master` with swk's settings (an existing one is reused: one JVM per process)."""
    _require()
    from pyspark.sql import SparkSession

    settings = {**(LOCAL_DEFAULTS if master.startswith("local") else {}), **dict(conf), **REQUIRED}
    extra = settings.get("spark.driver.extraJavaOptions", "")
    settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{_log_config()} {extra}".strip()
    builder = SparkSession.builder.master(master).appName("swk")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = _launch(builder)
    except Exception as exc:  # pyspark raises its own types for a JVM that does not start
        raise SparkEngineError(f"Spark did not start ({str(exc).splitlines()[0]}; see {_jvm_log()})") from None
    spark.sparkContext.setLogLevel("FATAL")
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):  # pyspark logs every failed query as JSON
        PySparkLogger.getLogger(name).disabled = True
    return spark


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Cursor:
    """The rows of one statement, fetched through Arrow on first use."""

    def __init__(self, frame: DataFrame | None) -> None:
        self.description = None if frame is None or not frame.columns else [(c,) for c in frame.columns]
        self._frame = frame
        self._rows: Iterator[tuple[Any, ...]] | None = None

    def _iter(self) -> Iterator[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = iter(()) if self.description is None else self._arrow_rows()
        return self._rows

    def _arrow_rows(self) -> Iterator[tuple[Any, ...]]:
        assert self._frame is not None
        for batch in self._frame.toArrow().to_batches():
            yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row."""
        return list(self._iter())

    def fetchmany(self, size: int = 10_000) -> list[tuple[Any, ...]]:
        """Up to `size` more rows."""
        rows = self._iter()
        return [row for _, row in zip(range(size), rows, strict=False)]


class SparkConnection:
    """A case's views in one Spark session, queried with DuckDB SQL translated to Spark's."""

    def __init__(self, spark: SparkSession, case: Case, scratch: str) -> None:
        self.spark = spark
        self.case = case
        self.scratch = scratch.rstrip("/")
        self._written = False

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Cursor:
        """Run one DuckDB statement on Spark; `$name` parameters are bound by name."""
        tree = translate.parse(sql)
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
            self.create(tree.this.name, tree.expression, materialize=tree.kind == "TABLE")
            return Cursor(None)
        return Cursor(self._sql(translate.to_spark(tree), params))

    def create(self, name: str, query: exp.Expression | str, *, materialize: bool) -> None:
        """A temporary view of `query` (DuckDB SQL), or with `materialize` a table computed now.

        Views are registered from their analysed DataFrames, not as SQL text: a text view is analysed again at every
        reference, and the detections reference the family views dozens of times over. A materialised view is
        written to the scratch directory as Parquet and read back, so what reads it starts from its rows with fresh
        column ids: a local checkpoint keeps its source's ids, and two checkpoints of views over the same `events`
        in one query failed at run time ("key not found: ts#1").
        """
        frame = self._sql(translate.to_spark(query))
        if materialize:
            path = f"{self.scratch}/{name}"
            try:
                frame.write.mode("overwrite").parquet(path)
                frame = self.spark.read.parquet(path)
            except Exception as exc:
                raise SparkEngineError(_one_line(exc)) from None
            self._written = True
        frame.createOrReplaceTempView(name)

    def _sql(self, text: str, params: dict[str, Any] | None = None) -> DataFrame:
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(text, args=params or None)
        except PySparkException as exc:
            raise SparkEngineError(_one_line(exc)) from None

    def close(self) -> None:
        """Drop this case's views and its scratch directory (the JVM stays up for the next case)."""
        for table in self.spark.catalog.listTables():
            if table.isTemporary:
                self.spark.catalog.dropTempView(table.name)
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        if not self._written:
            return
        self._written = False
        if "://" not in self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            return
        try:  # a shared filesystem (hdfs://, s3a://): through Hadoop's client in the JVM
            jvm = self.spark.sparkContext._jvm
            path = jvm.org.apache.hadoop.fs.Path(self.scratch)
            path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
        except Exception:  # best effort at exit: the JVM may already be gone
            return


def _utf8_host() -> Any:
    """The hive `host` value as the writer meant it: Spark turns each %XX into one character, not a UTF-8 byte."""
    from pyspark.sql import functions as F  # noqa: N812 (pyspark's own convention)

    return F.expr("CASE WHEN host RLIKE '[\\\\x{80}-\\\\x{FF}]' "
                  "THEN decode(encode(host, 'ISO-8859-1'), 'UTF-8') ELSE host END")  # fmt: skip


def _scratch(master: str, conf: dict[str, str]) -> str:
    """Where this connection writes its materialised views: `spark.swk.scratch`, else a local temp directory."""
    base = conf.get(SCRATCH_CONF)
    if base is None and not master.startswith("local"):
        raise SparkEngineError("a cluster needs a directory every executor can read for the materialised views",
                               hint=f"--conf {SCRATCH_CONF}=hdfs:///tmp/swk (or another shared path)")  # fmt: skip
    if base is None:
        return tempfile.mkdtemp(prefix="swk-spark-")
    return f"{base.rstrip('/')}/swk-{uuid.uuid4().hex[:12]}"


def connect(case: Case | str | Path, *, master: str = DEFAULT_MASTER, conf: Iterable[tuple[str, str]] = (),
            materialize: bool = True, allow: Sequence[Entry] = ()) -> SparkConnection:  # fmt: skip
    """A Spark session over the case with `events` and every view loaded (the heavy ones written and read back);
    `allow` adds allow-list file entries to the built-in ones, as on DuckDB."""
    if not isinstance(case, Case):
        case = open_case(case)
    conf = list(conf)
    spark = session(master, conf).newSession()  # its own temp views; the JVM and its cache are shared
    con = SparkConnection(spark, case, _scratch(master, dict(conf)))
    atexit.register(con._remove_scratch)  # swk analyze exits without closing; runs before pyspark stops the JVM
    reader = spark.read.option("basePath", str(case.root)) if case.partitioned else spark.read
    try:
        events = reader.parquet(*(str(f) for f in case.files))
        if case.partitioned:
            events = events.withColumn("host", _utf8_host())
        events.createOrReplaceTempView("events")
    except Exception as exc:
        raise CaseError(f"{case.path}: cannot be read by Spark ({_one_line(exc)})") from None
    for view in engine.views(allow):
        try:
            con.create(view.name, translate.parse(view.sql).expression,
                       materialize=materialize and view.name in engine.MATERIALIZED)  # fmt: skip
        except SparkEngineError as exc:
            raise engine.ViewError(f"views/{view.file} on Spark: {exc}") from None
    return con
