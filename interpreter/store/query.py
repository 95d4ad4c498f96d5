"""``list_runs(where=...)``: expression text over search attributes, as SQL.

docs/reference.md §9: ``--where "status == 'waiting' and email == 'a@b.c'"`` uses the
expression grammar over search attribute names and the built-ins
``workflow``, ``status``, ``started_at``, ``ended_at``. The meaning is the
expression language's own, evaluated per run over a scope of the built-ins
overlaid with the run's non-null search attributes, where a missing name
reads as null; a run matches when the value is truthy, and a run for which
evaluation raises (``amount > 5`` on a string) does not match.

The common shapes (``name OP literal`` with ``== != < <= > >= in, not in``,
combined with ``and``, ``or``, ``not``) are translated to SQL over the
``search`` table so its ``(name, value)`` index does the work. Because
evaluation can fail, each sub-expression becomes TWO SQL conditions: "is
true" and "is false", both false where evaluation would raise; ``not`` swaps
them and ``and``/``or`` follow Python's short-circuit (``a and b`` is false
when ``a`` is false, whatever ``b`` would do). Anything else is evaluated in
Python over candidate rows (only the id, search JSON and built-in columns are
read); conjuncts of a top-level ``and`` that do translate still narrow the
candidates in SQL.

Value encoding in ``search.value`` (a column without a declared type, so
values keep their storage class): numbers and strings as themselves, bools,
lists and maps as their compact JSON in a BLOB, null attributes not stored.
SQLite's cross-type order is NULL < numbers < TEXT < BLOB, which is what the
range bounds below rely on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from wfdsl.dsl.expressions import BUILTIN_FUNCTIONS, Expression, parse_expression
from wfdsl.dsl.expressions.nodes import (
    Comparison,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    Unary,
)
from wfdsl.dsl.suggest import closest

from wfdsl.errors import ExpressionError

__all__ = [
    "BUILTIN_COLUMNS",
    "NEVER",
    "SQLITE",
    "Dialect",
    "Sql",
    "SqliteDialect",
    "ValueTest",
    "WherePlan",
    "check_names",
    "encode_search",
    "plan_where",
    "unshadow",
    "where_matches",
]

#: Built-in names and the ``runs`` column each reads (a run's own search
#: attribute of the same name shadows it).
BUILTIN_COLUMNS: Mapping[str, str] = {
    "workflow": "r.workflow",
    "status": "r.status",
    "started_at": "r.started_at",
    "ended_at": "r.ended_at",
}

# Past this, nested not/and/or would make SQL text larger than evaluating in
# Python costs (each level may repeat its operands' conditions).
_MAX_SQL = 20_000
_INT64 = 2**63
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

#: A condition and its parameters.
Sql = tuple[str, tuple[Any, ...]]
_TRUE: Sql = ("1", ())
_FALSE: Sql = ("0", ())
#: The condition that never holds, as dialects return it (it folds away in
#: and/or/not, and is spelled ``Dialect.false`` when it is all that is left).
NEVER: Final[Sql] = _FALSE


def encode_search(search: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(name, stored value) rows for a run's search attributes (nulls omitted)."""
    rows: list[tuple[str, Any]] = []
    for name, value in search.items():
        kind = type(value)
        if value is None:
            continue
        if kind is str or kind is float:
            rows.append((name, value))
        elif kind is int:
            # SQLite integers are 64-bit; the expression language allows up to
            # 2**63 in magnitude, which only a REAL can hold.
            rows.append((name, value if -_INT64 < value < _INT64 else float(value)))
        else:
            rows.append((name, _dumps(value).encode()))
    return rows


@dataclass(frozen=True, slots=True)
class WherePlan:
    """How to run one ``where``: ``sql`` (a condition over ``runs r``, or
    None) with ``params``; when ``exact`` the SQL alone decides, otherwise it
    only narrows the candidates and ``expression`` decides per row."""

    expression: Expression
    sql: str | None
    params: tuple[Any, ...]
    exact: bool
    #: The leaves it was translated with (None: no SQL was tried).
    dialect: Dialect | None = None


@dataclass(frozen=True, slots=True)
class ValueTest:
    """What a run's value of one name must be for an atom to hold:
    ``kind`` is ``"eq"`` (JSON-equal to ``values[0]``), ``"in"`` (equal to
    one of ``values``) or ``"order"`` (``value OPERATOR values[0]``, both
    numbers or both strings). ``values`` are non-null scalar literals."""

    kind: str
    values: tuple[Any, ...]
    operator: str = ""


class Dialect(Protocol):
    """One backend's SQL for the leaves of a translated ``where``; the
    and/or/not structure and the meaning of null are shared."""

    #: Conditions that always hold / never hold, in this backend's SQL.
    true: str
    false: str

    def accepts(self, value: Any) -> bool:
        """Whether a literal can be bound as a parameter here (else the
        expression is evaluated in Python)."""
        ...

    def value_test(
        self, name: str, test: ValueTest | None, *, null: bool, alone: bool = False
    ) -> Sql:
        """The condition on ``runs r`` that the run's value of ``name`` (its
        search attribute, else the built-in of that name) passes ``test``
        (None: no value passes), or, when ``null``, that it has no value.
        ``alone``: ``name`` is a built-in no run has a search attribute for,
        so its column alone decides."""
        ...


def plan_where(
    text: str, dialect: Dialect | None = None, *, alone: frozenset[str] = frozenset()
) -> WherePlan:
    """Translate ``where`` text (for SQLite unless ``dialect`` says;
    ``alone``: built-ins no run has a search attribute for, see
    :func:`unshadow`); raises ExpressionError when it does not
    parse, or calls a function that does not exist, with the wrong number of
    arguments, or one that only has a value inside a run (``now()``): such a
    call would fail on every run, and a filter that silently matches nothing
    is a mistake nobody sees."""
    expression = parse_expression(text)
    _check_calls(expression)
    leaves = SQLITE if dialect is None else dialect
    tree = expression.program.tree
    whole = _translate(tree, leaves, alone)
    if whole is not None and len(whole[0][0]) <= _MAX_SQL:
        true_sql, true_params = _render(whole[0], leaves)
        return WherePlan(expression, true_sql, true_params, exact=True, dialect=leaves)
    # Narrow with the conjuncts that translate: each is necessary for a match.
    conjuncts = tree.operands if isinstance(tree, Logical) and tree.operator == "and" else ()
    parts: list[Sql] = []
    for operand in conjuncts:
        pair = _translate(operand, leaves, alone)
        if pair is not None and len(pair[0][0]) <= _MAX_SQL:
            parts.append(_render(pair[0], leaves))
    if not parts:
        return WherePlan(expression, None, (), exact=False, dialect=leaves)
    return WherePlan(
        expression,
        " AND ".join(f"({sql})" for sql, _ in parts),
        tuple(param for _, params in parts for param in params),
        exact=False,
        dialect=leaves,
    )


def unshadow(plan: WherePlan, names: set[str]) -> WherePlan:
    """``plan`` again, its built-ins read from their columns alone when no
    run has a search attribute of that name (``names``: those some run has
    a value for, read in the same snapshot as the query). The meaning is
    the same; the SQL loses an OR, so ``status == 'waiting'`` is one range
    of the status index instead of a test of every run."""
    if plan.dialect is None:
        return plan
    alone = (plan.expression.root_names & BUILTIN_COLUMNS.keys()) - names
    if not alone:
        return plan
    return plan_where(plan.expression.source, plan.dialect, alone=frozenset(alone))


def _render(sql: Sql, dialect: Dialect) -> Sql:
    """``sql`` with the always/never constants in the dialect's spelling
    (they only survive folding as a whole condition)."""
    if sql == _TRUE:
        return dialect.true, ()
    if sql == _FALSE:
        return dialect.false, ()
    return sql


def _check_calls(expression: Expression) -> None:
    for call in expression.calls:
        spec = BUILTIN_FUNCTIONS.get(call.name)
        if spec is None:
            match = closest(call.name, BUILTIN_FUNCTIONS)
            hint = f"; did you mean {match}()?" if match else ""
            message = (
                f"unknown function '{call.name}'{hint} (only built-in functions can be called)"
            )
        elif not spec.accepts(call.arg_count):
            message = f"{call.name}() takes {spec.arity()}, got {call.arg_count}: {spec.signature}"
        elif not spec.deterministic:
            message = f"{call.name}() is only available inside a run, not in a where filter"
        else:
            continue
        raise ExpressionError(message, expression=expression.source, column=call.column)


def check_names(
    expression: Expression,
    known: Callable[[], set[str]],
    present: Callable[[str], bool],
) -> None:
    """Raise ExpressionError for a name that is neither a built-in nor a
    search attribute of any run in the store, with the closest known name.

    ``known()``: the attribute names runs have a value for (cheap: the
    search index); ``present(name)``: whether some run has ``name`` at all,
    null included (asked only for names ``known`` lacks). A name some run
    has reads as null on the runs that lack it, as before.
    """
    candidates = sorted(expression.root_names - BUILTIN_COLUMNS.keys())
    if not candidates:
        return
    names = known()
    for name in candidates:
        if name in names or present(name):
            continue
        match = closest(name, [*names, *BUILTIN_COLUMNS])
        hint = f"; did you mean '{match}'?" if match else ""
        column = next(use.column for use in expression.name_uses if use.name == name)
        raise ExpressionError(
            f"unknown search attribute '{name}'{hint} (no run in this store has it; "
            f"built-ins: {', '.join(BUILTIN_COLUMNS)})",
            expression=expression.source,
            column=column,
        )


class _Scope(dict[str, Any]):
    """A where scope: a name no run attribute or built-in gives reads as null."""

    def __missing__(self, name: str) -> None:
        return None


def where_matches(
    expression: Expression,
    search: Mapping[str, Any],
    *,
    workflow: str,
    status: str,
    started_at: float,
    ended_at: float | None,
) -> bool:
    """The Python meaning of ``where`` for one run (the SQL must agree)."""
    scope = _Scope(workflow=workflow, status=status, started_at=started_at, ended_at=ended_at)
    for name, value in search.items():
        if value is not None:
            scope[name] = value
    try:
        return bool(expression.value_in(scope))
    except ExpressionError:
        return False


# --- translation ------------------------------------------------------------------
# Each translated node is a pair (is_true, is_false) of SQL conditions.

Pair = tuple[Sql, Sql]


def _translate(node: Node, dialect: Dialect, alone: frozenset[str]) -> Pair | None:
    if isinstance(node, Unary) and node.operator == "not":
        inner = _translate(node.operand, dialect, alone)
        return None if inner is None else (inner[1], inner[0])
    if isinstance(node, Logical):
        pairs = [_translate(operand, dialect, alone) for operand in node.operands]
        if any(pair is None for pair in pairs):
            return None
        result = pairs[0]
        assert result is not None
        for pair in pairs[1:]:
            assert pair is not None
            result = _and(result, pair) if node.operator == "and" else _or(result, pair)
            if len(result[0][0]) + len(result[1][0]) > 2 * _MAX_SQL:
                return None
        return result
    if isinstance(node, Comparison) and len(node.rest) == 1:
        operator, right = node.rest[0].operator, node.rest[0].operand
        left = node.first
        if isinstance(right, Name) and not isinstance(left, Name):
            mirrored = _MIRROR.get(operator)
            if mirrored is None:
                return None
            left, right, operator = right, left, mirrored
        if isinstance(left, Name):
            return _atom(left.name, operator, right, dialect, left.name in alone)
    return None


def _and(a: Pair, b: Pair) -> Pair:
    # `a and b` gives a when a is falsy (b is never evaluated), else b.
    return _all(a[0], b[0]), _any(a[1], _all(a[0], b[1]))


def _or(a: Pair, b: Pair) -> Pair:
    # `a or b` gives a when a is truthy, else b.
    return _any(a[0], _all(a[1], b[0])), _all(a[1], b[1])


def _all(a: Sql, b: Sql) -> Sql:
    if a == _FALSE or b == _FALSE:
        return _FALSE
    if a == _TRUE:
        return b
    if b == _TRUE:
        return a
    return f"({a[0]}) AND ({b[0]})", a[1] + b[1]


def _any(a: Sql, b: Sql) -> Sql:
    if a == _TRUE or b == _TRUE:
        return _TRUE
    if a == _FALSE:
        return b
    if b == _FALSE:
        return a
    return f"({a[0]}) OR ({b[0]})", a[1] + b[1]


def _negate(a: Sql) -> Sql:
    if a == _TRUE:
        return _FALSE
    if a == _FALSE:
        return _TRUE
    return f"NOT ({a[0]})", a[1]


_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPPOSITE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_NUMERIC = "typeof({v}) IN ('integer', 'real')"


def _literal(node: Node, dialect: Dialect) -> tuple[bool, Any]:
    """(True, value) for a scalar literal SQL can compare exactly."""
    if not isinstance(node, Literal):
        return False, None
    value = node.value
    if type(value) is int and not -_INT64 < value < _INT64:
        return False, None
    if value is None or (type(value) in (bool, int, float, str) and dialect.accepts(value)):
        return True, value
    return False, None


def _atom(name: str, operator: str, right: Node, dialect: Dialect, alone: bool) -> Pair | None:
    """(true, false) for ``name OP right`` with a literal right side
    (``alone``: no run has a search attribute ``name`` to shadow its built-in)."""
    test: ValueTest | None  # what a present value must pass for "true"
    null_true: bool  # a missing/null value makes it true (else false)
    if operator in ("in", "not in"):
        if not isinstance(right, ListLiteral):
            return None
        values = []
        for item in right.items:
            ok, value = _literal(item, dialect)
            if not ok:
                return None
            values.append(value)
        present = tuple(value for value in values if value is not None)
        test = ValueTest("in", present) if present else None
        null_true = None in values
    else:
        ok, value = _literal(right, dialect)
        if not ok:
            return None
        if operator in ("==", "!="):
            if value is None:
                test, null_true = None, True
            else:
                test, null_true = ValueTest("eq", (value,)), False
        elif type(value) in (int, float, str):
            # Ordering only holds between two numbers or two strings; any
            # other pair (null included) raises, which matches nothing.
            true = dialect.value_test(
                name, ValueTest("order", (value,), operator), null=False, alone=alone
            )
            false = dialect.value_test(
                name, ValueTest("order", (value,), _OPPOSITE[operator]), null=False, alone=alone
            )
            return true, false
        else:
            return _FALSE, _FALSE
    true = dialect.value_test(name, test, null=null_true, alone=alone)
    false = _negate(true)
    if operator in ("!=", "not in"):
        true, false = false, true
    return true, false


# --- SQLite's leaves --------------------------------------------------------------


def _equals(value: Any) -> Sql:
    """Condition on ``{v}``: JSON-equal to a non-null scalar literal."""
    if type(value) is str:
        return "(typeof({v}) = 'text' AND {v} = ?)", (value,)
    if type(value) is bool:
        return "(typeof({v}) = 'blob' AND {v} = ?)", (_dumps(value).encode(),)
    return f"({_NUMERIC} AND {{v}} = ?)", (value,)


def _member(values: Sequence[Any]) -> Sql:
    """Condition on ``{v}``: equal to one of the non-null scalar literals."""
    groups: dict[str, list[Any]] = {"text": [], "number": [], "blob": []}
    for value in values:
        if type(value) is str:
            groups["text"].append(value)
        elif type(value) is bool:
            groups["blob"].append(_dumps(value).encode())
        else:
            groups["number"].append(value)
    parts: list[str] = []
    params: list[Any] = []
    for kind, items in groups.items():
        if not items:
            continue
        marks = ", ".join("?" * len(items))
        test = _NUMERIC if kind == "number" else f"typeof({{v}}) = '{kind}'"
        parts.append(f"({test} AND {{v}} IN ({marks}))")
        params.extend(items)
    if not parts:
        return _FALSE
    # Parenthesised: it is spliced after "name = ? AND".
    return "(" + " OR ".join(parts) + ")", tuple(params)


def _ordered(operator: str, value: Any) -> Sql:
    """Condition on ``{v}``: same kind as the literal and ordered as asked.

    The extra bound keeps an index range scan inside the literal's kind.
    """
    if type(value) is str:
        bound = "{v} >= ''" if operator in ("<", "<=") else "{v} < x''"
        return f"(typeof({{v}}) = 'text' AND {{v}} {operator} ? AND {bound})", (value,)
    bound = "{v} < ''" if operator in (">", ">=") else "{v} IS NOT NULL"
    return f"({_NUMERIC} AND {{v}} {operator} ? AND {bound})", (value,)


class SqliteDialect:
    """The leaves over SQLite's ``search (run_key, name, value)`` table,
    values keeping their storage class (see the module)."""

    true = "1"
    false = "0"

    def accepts(self, value: Any) -> bool:
        return True

    def value_test(
        self, name: str, test: ValueTest | None, *, null: bool, alone: bool = False
    ) -> Sql:
        if test is None:
            present = _FALSE
        elif test.kind == "eq":
            present = _equals(test.values[0])
        elif test.kind == "in":
            present = _member(test.values)
        else:
            present = _ordered(test.operator, test.values[0])
        return _value_test(name, present, null=null, alone=alone)


#: SQLite's leaves (the default of :func:`plan_where`).
SQLITE: Final = SqliteDialect()


def _value_test(name: str, present: Sql, *, null: bool, alone: bool = False) -> Sql:
    """``present`` applied to the run's value of ``name``, or ``null`` when it
    has none (a missing attribute, or a built-in column that is NULL)."""
    condition, params = present
    in_search: Sql = (
        "r.key IN (SELECT run_key FROM search WHERE name = ? AND "
        + condition.replace("{v}", "value")
        + ")",
        (name, *params),
    )
    if present == _FALSE:
        in_search = _FALSE
    absent: Sql = ("r.key NOT IN (SELECT run_key FROM search WHERE name = ?)", (name,))
    column = BUILTIN_COLUMNS.get(name)
    if column is None:
        return _any(in_search, absent) if null else in_search
    # A built-in: the run's own search attribute of that name wins.
    from_column: Sql = (
        f"{column} IS NOT NULL AND " + condition.replace("{v}", column),
        params,
    )
    if present == _FALSE:
        from_column = _FALSE
    if null:
        from_column = _any(from_column, (f"{column} IS NULL", ()))
    if alone:
        return from_column
    return _any(in_search, _all(absent, from_column))
