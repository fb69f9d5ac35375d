"""DuckDB SQL to Spark SQL: sqlglot's `duckdb -> spark` transpilation plus the corrections it does not make itself.

The views are written for DuckDB and marked `-- duckdb:` where the syntax is DuckDB's own; sqlglot translates most
of that. What it gets wrong (sqlglot 30, found by running every view on Spark 4.3) is fixed here on the syntax tree,
so the Spark engine runs the very same definitions instead of copies:
  * `array_agg(x ORDER BY k)` loses its ORDER BY (`COLLECT_LIST(x)`, which also drops NULLs): built as a sorted
    list of (k IS NULL, k, x) structs projected back to x, which keeps NULL elements and sorts NULL keys last;
  * `list[i]` with a computed index keeps DuckDB's 1-based index on Spark's 0-based subscript (and a literal
    `[-1]` becomes `[-2]`): every list subscript becomes `try_element_at(list, CAST(i AS INT))`, 1-based and NULL
    out of range as in DuckDB;
  * `epoch_us(ts)` has no Spark name: `unix_micros(ts)`;
  * `WITH x AS MATERIALIZED (...)` is DuckDB's hint: dropped.
ASOF JOIN is passed through verbatim and `len(list)` becomes LENGTH (shared/notes/libraries.md): both are refused.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from swk.errors import SwkError


class TranslationError(SwkError):
    """A DuckDB statement that has no faithful Spark translation."""

    hint = "write it without that construct (see docs/scale.md, 'Two engines, one SQL')"


def _ordered_list(node: exp.ArrayAgg) -> exp.Expression:
    order = node.this
    keys = []
    for i, ordered in enumerate(order.expressions):
        if ordered.args.get("desc"):
            raise TranslationError(f"array_agg(... ORDER BY {ordered.sql('duckdb')}): only ascending order translates")
        key = ordered.this.sql("spark")
        keys.append(f"'n{i}', ({key}) IS NULL, 'k{i}', {key}")
    value = order.this.sql("spark")
    text = f"TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT({', '.join(keys)}, 'v', {value}))), e -> e.v)"
    return sqlglot.parse_one(text, read="spark")


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        return _ordered_list(node)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and not node.expressions[0].is_string:
        index = node.expressions[0]
        if index.is_int:  # sqlglot stored a literal index 0-based; a computed one is as written (1-based)
            index = exp.Literal.number(index.to_py() + 1)
        else:  # Spark's element_at takes an INT index; list positions and pointers are BIGINT
            index = exp.cast(index, exp.DataType.build("INT"))
        return exp.Anonymous(this="TRY_ELEMENT_AT", expressions=[node.this, index])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_us":
        return exp.Anonymous(this="UNIX_MICROS", expressions=node.expressions)
    if isinstance(node, exp.CTE) and node.args.get("materialized"):
        node.set("materialized", None)
    return node


def _refuse(tree: exp.Expression, text: str) -> None:
    for join in tree.find_all(exp.Join):
        if (join.args.get("method") or "").upper() == "ASOF":
            raise TranslationError("ASOF JOIN does not translate to Spark; write a range join and row_number()")
    for fn in tree.find_all(exp.Length):
        if "len(" in text.lower():
            raise TranslationError(f"{fn.sql('duckdb')}: len() of a list becomes LENGTH on Spark; use array_length()")


def parse(sql: str) -> exp.Expression:
    """One DuckDB statement as a syntax tree."""
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"cannot parse: {str(exc).splitlines()[0]}") from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise TranslationError(f"expected one statement, got {len(trees)}")
    return trees[0]


def to_spark(sql: str | exp.Expression) -> str:
    """One DuckDB statement (text or tree) as Spark SQL."""
    tree = parse(sql) if isinstance(sql, str) else sql.copy()
    _refuse(tree, sql if isinstance(sql, str) else tree.sql("duckdb"))
    return tree.transform(_fix).sql("spark", comments=False)
