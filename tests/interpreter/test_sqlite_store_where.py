"""list_runs(where=...) on SQLite: SQL translation, Python fallback and the language's meaning agree (generated queries on both backends: tests/interpreter/store/test_where_backends.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from wfdsl.dsl.expressions import parse_expression
from wfdsl.interpreter.store.query import WherePlan, plan_where
from wfdsl.interpreter.store.records import Definition, RunFilter, RunRow
from wfdsl.interpreter.store.sqlite.store import SqliteStore

from wfdsl.errors import ExpressionError


def python_model(text: str, runs: list[RunRow]) -> list[str]:
    """The meaning docs/reference.md §9 gives ``where``, evaluated run by run, newest first."""
    expression = parse_expression(text)
    matched = []
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True):
        scope: dict[str, Any] = {
            "workflow": run.workflow,
            "status": run.status,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
        }
        scope.update({k: v for k, v in run.search.items() if v is not None})
        for name in {use.name for use in expression.name_uses}:
            scope.setdefault(name, None)
        try:
            if expression.value_in(scope):
                matched.append(run.id)
        except ExpressionError:
            pass
    return matched


def only_python(text: str) -> WherePlan:
    return WherePlan(parse_expression(text), None, (), exact=False)


def open_store(runs: list[RunRow]) -> SqliteStore:
    store = SqliteStore()
    store.put_definition(Definition("h", "wf", None, ""))
    for run in runs:
        store.create_run(run, (), now=0.0)
    return store


def ids(store: SqliteStore, text: str, **criteria: Any) -> list[str]:
    return [run.id for run in store.list_runs(RunFilter(where=text, limit=1000, **criteria))]


def run(run_id: str, started_at: float, search: dict[str, Any], **fields: Any) -> RunRow:
    values: dict[str, Any] = {"workflow": "wf", "status": "waiting", "ended_at": None}
    values.update(fields)
    return RunRow(
        id=run_id, version=None, definition_hash="h", started_at=started_at, search=search, **values
    )


RUNS = [
    run("a", 1.0, {"email": "a@b.c", "amount": 10, "vip": True, "tags": ["x"]}),
    run(
        "b", 2.0, {"email": "b@b.c", "amount": 2.5, "vip": False}, status="completed", ended_at=9.0
    ),
    run("c", 3.0, {"email": "c@b.c", "amount": "ten"}),
    run("d", 4.0, {"amount": None, "status": "verified"}, workflow="other"),
    run("e", 5.0, {"email": "", "amount": -1}, status="failed", ended_at=7.0),
]


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = open_store(RUNS)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param("email == 'a@b.c'", ["a"], id="eq-string"),
        pytest.param("'a@b.c' == email", ["a"], id="literal-left"),
        pytest.param("email != 'a@b.c'", ["e", "d", "c", "b"], id="ne-includes-missing"),
        pytest.param("email == null", ["d"], id="missing-is-null"),
        pytest.param("amount == null", ["d"], id="null-attribute-is-null"),
        pytest.param("amount == 10.0", ["a"], id="int-equals-float"),
        pytest.param("amount > 2", ["b", "a"], id="gt-skips-strings-and-null"),
        pytest.param("not (amount > 2)", ["e"], id="not-gt-is-only-numbers"),
        pytest.param("amount < 'z'", ["c"], id="string-order"),
        pytest.param("vip == true", ["a"], id="bool-not-one"),
        pytest.param("amount == 1", [], id="one-not-true"),
        pytest.param("amount in [10, 'ten']", ["c", "a"], id="in-mixed"),
        pytest.param("amount in ['zzz', true]", [], id="in-stays-inside-its-attribute"),
        pytest.param("amount not in [10, null]", ["e", "c", "b"], id="not-in-with-null"),
        pytest.param("status == 'verified'", ["d"], id="search-status-shadows-builtin"),
        pytest.param("status == 'waiting'", ["c", "a"], id="builtin-status"),
        pytest.param("workflow == 'other'", ["d"], id="builtin-workflow"),
        pytest.param("ended_at > 8", ["b"], id="builtin-ended-at"),
        pytest.param(
            "ended_at == null and started_at >= 3", ["d", "c"], id="builtin-null-and-time"
        ),
        pytest.param("amount > 2 or email == 'c@b.c'", ["b", "a"], id="or-stops-at-an-error"),
        pytest.param("amount > 5 and amount < 100", ["a"], id="range"),
        pytest.param("'x' in tags", ["a"], id="fallback-member-of-list"),
        pytest.param("len(email) > 4 and amount > 0", ["b", "a"], id="fallback-with-sql-narrowing"),
        pytest.param("vip", ["a"], id="fallback-truthy-name"),
    ],
)
def test_where_examples(store: SqliteStore, where: str, expected: list[str]) -> None:
    assert ids(store, where) == expected
    assert python_model(where, RUNS) == expected


def test_where_combines_with_status_workflow_limit_and_offset(store: SqliteStore) -> None:
    assert ids(store, "amount != null", status="waiting") == ["c", "a"]
    assert ids(store, "amount != null", workflow="other") == []
    assert [
        r.id for r in store.list_runs(RunFilter(where="amount != null", limit=2, offset=1))
    ] == [
        "c",
        "b",
    ]
    # Same on the Python path (offset counts matches, not candidates).
    fallback = "len(email) > 0"
    assert python_model(fallback, RUNS) == ["c", "b", "a"]
    assert [r.id for r in store.list_runs(RunFilter(where=fallback, limit=2, offset=1))] == [
        "b",
        "a",
    ]


def test_blank_where_is_no_filter(store: SqliteStore) -> None:
    assert len(ids(store, "  ")) == len(RUNS)


def test_invalid_where_raises_expression_error(store: SqliteStore) -> None:
    with pytest.raises(ExpressionError):
        store.list_runs(RunFilter(where="email == "))


@pytest.mark.parametrize(
    ("where", "message"),
    [
        pytest.param(
            "lenght(workflow) > 0", "unknown function 'lenght'; did you mean len()?", id="function"
        ),
        pytest.param(
            "emial == 'a@b.c'",
            "unknown search attribute 'emial'; did you mean 'email'?",
            id="attribute",
        ),
        pytest.param("stauts == 'waiting'", "did you mean 'status'?", id="builtin"),
        pytest.param("len(email, 2) > 0", "len() takes", id="arity"),
        pytest.param("started_at > now()", "now() is only available inside a run", id="now"),
    ],
)
def test_unknown_names_and_functions_are_errors_with_a_suggestion(
    store: SqliteStore, where: str, message: str
) -> None:
    # Before, each of these matched nothing, silently (exit 0, API 200 []).
    with pytest.raises(ExpressionError) as raised:
        ids(store, where)
    assert message in str(raised.value)
    assert raised.value.column is not None and raised.value.expression == where


def test_a_name_some_run_has_even_only_as_null_is_known(store: SqliteStore) -> None:
    assert ids(store, "email == null") == ["d"]  # d lacks it; others have it
    only_null = open_store([run("n", 1.0, {"approver": None})])
    try:
        assert ids(only_null, "approver == null") == ["n"]
        with pytest.raises(ExpressionError, match="unknown search attribute 'aprover'"):
            ids(only_null, "aprover == null")
    finally:
        only_null.close()


@pytest.mark.parametrize(
    "where",
    [
        "email == 'a'",
        "status == 'waiting' and email == 'a@b.c'",
        "not (n < 3 or n >= 10.5) and s in ['a', 'b', null]",
        "ended_at != null",
        "n not in [true, false, 1]",
    ],
)
def test_common_shapes_translate_to_sql(where: str) -> None:
    plan = plan_where(where)
    assert plan.exact and plan.sql


def test_equality_uses_the_search_index() -> None:
    store = open_store(RUNS)
    plan = plan_where("email == 'a@b.c'")
    conn = store._conn
    assert conn is not None and plan.sql is not None
    steps = conn.execute(
        f"EXPLAIN QUERY PLAN SELECT r.id FROM runs r WHERE {plan.sql}", plan.params
    ).fetchall()
    assert any("search_by_value" in str(step) for step in steps), steps
    store.close()
