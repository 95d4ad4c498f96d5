"""``list_runs(where=...)`` on PostgreSQL: the shared planner (``..query``)
with this backend's leaves, so the common shapes are SQL here too and both
backends fall back to the same Python evaluator for the rest.

The leaves read the typed ``search`` table (schema.py): one row per
non-null attribute with exactly one of ``num`` (numeric: ints and a
float's exact binary value), ``txt`` (strings, ``COLLATE "C"``: code point
order, as Python and SQLite compare) and ``raw`` (the compact JSON of
bools, lists and maps). A test of one kind reads that kind's column, so a
string never equals a number, ``true`` never equals ``1``, and ``amount >
5`` never matches a string: the expression language's meaning, with the
``(name, num)``, ``(name, txt)`` and ``(name, raw)`` indexes doing the work.

Built-ins read their ``runs`` column: ``workflow`` and ``status`` text,
``started_at`` and ``ended_at`` double precision, compared exactly with a
literal (an integer no double can hold becomes the bound on either side of
it). Every value is a bound parameter; only fixed SQL text is joined.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

from ..json_text import dumps
from ..query import BUILTIN_COLUMNS, NEVER, Dialect, Sql, ValueTest, WherePlan, plan_where

__all__ = ["POSTGRES", "PostgresDialect", "plan_postgres"]

_FALSE: Final[Sql] = NEVER
#: The built-ins' kinds: text, or a float that may be NULL (``ended_at``).
_TEXT_COLUMNS: Final = frozenset({"workflow", "status"})
_NULLABLE: Final = frozenset({"ended_at"})


def _search_condition(test: ValueTest) -> Sql:
    """The condition on a ``search s`` row whose value passes ``test``."""
    if test.kind == "order":
        (value,) = test.values
        if type(value) is str:
            return f"s.txt {test.operator} %s", (value,)
        return f"s.num {test.operator} %s", (Decimal(value),)
    texts = [v for v in test.values if type(v) is str]
    flags = [dumps(v) for v in test.values if type(v) is bool]
    numbers = [Decimal(v) for v in test.values if type(v) in (int, float)]
    parts: list[str] = []
    params: list[Any] = []
    for column, items in (("s.txt", texts), ("s.num", numbers), ("s.raw", flags)):
        if len(items) == 1:
            parts.append(f"{column} = %s")
        elif items:
            parts.append(f"{column} IN ({', '.join(['%s'] * len(items))})")
        params.extend(items)
    text = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    return text, tuple(params)


def _float_compare(column: str, operator: str, value: int | float) -> Sql:
    """``column OPERATOR value`` exactly, for a double precision column.

    A float (or an int a double holds) is bound as a double. Any other int
    lies strictly between two adjacent doubles ``low < value < high``: no
    double equals it, and ``x < value`` is ``x <= low``, ``x > value`` is
    ``x >= high``.
    """
    if type(value) is float:
        return f"{column} {operator} %s", (value,)
    near = float(value)
    if int(near) == value:
        return f"{column} {operator} %s", (near,)
    if operator == "=":
        return _FALSE
    low, high = (
        (math.nextafter(near, -math.inf), near)
        if near > value
        else (near, math.nextafter(near, math.inf))
    )
    if operator in ("<", "<="):
        return f"{column} <= %s", (low,)
    return f"{column} >= %s", (high,)


def _column_condition(name: str, test: ValueTest) -> Sql:
    """The condition that the built-in column of ``name`` passes ``test``
    (its value is not NULL here); FALSE when the kinds never meet."""
    column = BUILTIN_COLUMNS[name]
    text_column = name in _TEXT_COLUMNS
    if test.kind == "order":
        (value,) = test.values
        if (type(value) is str) != text_column:
            return _FALSE
        if text_column:
            return f"{column} {test.operator} %s", (value,)
        return _float_compare(column, test.operator, value)
    if text_column:
        texts = [v for v in test.values if type(v) is str]
        if not texts:
            return _FALSE
        if len(texts) == 1:
            return f"{column} = %s", (texts[0],)
        return f"{column} IN ({', '.join(['%s'] * len(texts))})", tuple(texts)
    parts = [_float_compare(column, "=", v) for v in test.values if type(v) in (int, float)]
    parts = [part for part in parts if part != _FALSE]
    if not parts:
        return _FALSE
    if len(parts) == 1:
        return parts[0]
    return (
        "(" + " OR ".join(text for text, _ in parts) + ")",
        tuple(param for _, params in parts for param in params),
    )


def _either(a: Sql, b: Sql) -> Sql:
    if a == _FALSE:
        return b
    if b == _FALSE:
        return a
    return f"({a[0]}) OR ({b[0]})", a[1] + b[1]


class PostgresDialect:
    """The leaves of a translated ``where`` in this backend's SQL."""

    true = "TRUE"
    false = "FALSE"

    def accepts(self, value: Any) -> bool:
        # PostgreSQL text cannot hold NUL: such a literal is left to Python.
        return type(value) is not str or "\x00" not in value

    def value_test(
        self, name: str, test: ValueTest | None, *, null: bool, alone: bool = False
    ) -> Sql:
        in_search: Sql = _FALSE
        if test is not None:
            condition, params = _search_condition(test)
            in_search = (
                f"r.key IN (SELECT s.run_key FROM search s WHERE s.name = %s AND {condition})",
                (name, *params),
            )
        # An anti-join on the primary key (run_key, name), never NOT IN:
        # a NOT IN subquery that outgrows work_mem is run once per run.
        absent: Sql = (
            "NOT EXISTS (SELECT 1 FROM search s WHERE s.run_key = r.key AND s.name = %s)",
            (name,),
        )
        if name not in BUILTIN_COLUMNS:
            return _either(in_search, absent) if null else in_search
        # A built-in: the run's own search attribute of that name wins.
        column = BUILTIN_COLUMNS[name]
        from_column = _FALSE if test is None else _column_condition(name, test)
        if name in _NULLABLE:
            if from_column != _FALSE:
                from_column = (f"{column} IS NOT NULL AND {from_column[0]}", from_column[1])
            if null:
                from_column = _either(from_column, (f"{column} IS NULL", ()))
        if alone:
            return from_column
        if from_column == _FALSE:
            return in_search
        return _either(
            in_search, (f"{absent[0]} AND ({from_column[0]})", absent[1] + from_column[1])
        )


#: This backend's leaves.
POSTGRES: Final[Dialect] = PostgresDialect()


def plan_postgres(text: str) -> WherePlan:
    """The plan of ``where`` text for this backend (ExpressionError when
    the text is invalid, as on SQLite)."""
    return plan_where(text, POSTGRES)
