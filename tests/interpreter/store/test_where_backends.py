"""``list_runs(where=...)`` gives the same runs on SQLite and PostgreSQL.

The same runs go into a SQLite store and a PostgreSQL store; every query
runs on both, by each backend's SQL and by its Python fallback, and the run
ids must equal those of the reference: the expression language's own
evaluator applied run by run (docs/reference.md §9). A fixed list covers
each operator and edge (type mismatches, missing and null attributes,
numbers against strings, ints against floats, exact large numbers, code
point order, built-ins and the attributes that shadow them, and/or/not,
``in``), and Hypothesis generates more over generated attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wfdsl.dsl.expressions import parse_expression
from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.postgres import store as postgres_store
from wfdsl.interpreter.store.postgres.query import plan_postgres
from wfdsl.interpreter.store.protocol import Store
from wfdsl.interpreter.store.query import WherePlan, plan_where, unshadow
from wfdsl.interpreter.store.records import Definition, RunFilter, RunRow
from wfdsl.interpreter.store.sqlite import store as sqlite_store

from wfdsl.errors import ExpressionError

BIG = 2**53 + 1  # no double holds it


def reference(text: str, runs: list[RunRow]) -> list[str]:
    """The meaning of ``where``, run by run, newest first: the language's
    evaluator over the built-ins overlaid with the non-null attributes, a
    missing name null, an evaluation that raises a non-match."""
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
        for name in expression.root_names:
            scope.setdefault(name, None)
        try:
            if expression.value_in(scope):
                matched.append(run.id)
        except ExpressionError:
            pass
    return matched


def run(run_id: str, started_at: float, search: dict[str, Any], **fields: Any) -> RunRow:
    values: dict[str, Any] = {"workflow": "wf", "status": "waiting", "ended_at": None}
    values.update(fields)
    return RunRow(
        id=run_id, version=None, definition_hash="h", started_at=started_at, search=search, **values
    )


RUNS = [
    run("a", 1.0, {"email": "a@b.c", "amount": 10, "vip": True, "tags": ["x"], "n": 0.1}),
    run(
        "b",
        2.0,
        {"email": "b@b.c", "amount": 2.5, "vip": False, "n": BIG},
        status="completed",
        ended_at=9.0,
    ),
    run("c", 3.0, {"email": "c@b.c", "amount": "ten", "n": float(BIG)}),
    run("d", 4.0, {"amount": None, "status": "verified", "n": -0.0}, workflow="other"),
    run("e", 5.0, {"email": "", "amount": -1, "n": 1e300}, status="failed", ended_at=7.0),
    run("f", 6.0, {"email": "Zed", "amount": 1, "n": "0.1", "workflow": 3}),
    run("g", 7.0, {"email": "é", "amount": True, "n": [1], "started_at": "late"}),
    run("h", 8.0, {"email": "\U0001d11e", "amount": {"k": 1}, "n": {"k": 1}}, status="paused"),
    run("i", float(BIG), {"email": "z", "ended_at": None}, status="cancelled", ended_at=float(BIG)),
]

#: (where, the ids it selects, whether both backends' SQL decides alone)
EXAMPLES = [
    ("email == 'a@b.c'", ["a"], True),
    ("'a@b.c' == email", ["a"], True),
    ("email != 'a@b.c'", ["i", "h", "g", "f", "e", "d", "c", "b"], True),
    ("email == null", ["d"], True),
    ("email != null", ["i", "h", "g", "f", "e", "c", "b", "a"], True),
    ("amount == null", ["i", "d"], True),
    ("amount == 10.0", ["a"], True),
    ("amount == 1", ["f"], True),  # not g's true
    ("amount == true", ["g"], True),  # not f's 1
    ("amount > 2", ["b", "a"], True),  # no strings, bools, maps or nulls
    ("not (amount > 2)", ["f", "e"], True),  # only the numbers that are not
    ("amount <= 2.5", ["f", "e", "b"], True),
    ("amount < 'z'", ["c"], True),
    ("amount >= 'ten'", ["c"], True),
    ("amount > null", [], True),
    ("amount < true", [], True),
    ("not (amount < true)", [], True),  # raises both ways
    ("amount in [10, 'ten', true]", ["g", "c", "a"], True),
    ("amount in ['zzz', false]", [], True),
    ("amount not in [10, null]", ["h", "g", "f", "e", "c", "b"], True),
    ("amount in []", [], True),
    ("amount not in []", ["i", "h", "g", "f", "e", "d", "c", "b", "a"], True),
    ("n == 0.1", ["a"], True),  # the float, not the string
    ("n == 0", ["d"], True),  # -0.0
    ("n == 9007199254740993", ["b"], True),  # exact: not c's float
    ("n > 9007199254740992", ["e", "b"], True),
    ("n == 9007199254740992", ["c"], True),
    ("n >= 1e300", ["e"], True),
    ("n == '0.1'", ["f"], True),
    ("email < 'a'", ["f", "e"], True),  # code point order: 'Z' < 'a'
    ("email > 'z'", ["h", "g"], True),  # 'é' and '𝄞' after 'z'
    ("email >= 'é'", ["h", "g"], True),
    ("email in ['', 'Zed', 'nobody']", ["f", "e"], True),
    ("status == 'verified'", ["d"], True),  # d's own attribute shadows the built-in
    ("status == 'waiting'", ["g", "f", "c", "a"], True),
    ("status in ['paused', 'failed']", ["h", "e"], True),
    ("status < 'd'", ["i", "b"], True),
    ("workflow == 'other'", ["d"], True),
    ("workflow == 3", ["f"], True),  # f's attribute, a number
    ("workflow == 'wf'", ["i", "h", "g", "e", "c", "b", "a"], True),
    ("started_at >= 7", ["i", "h"], True),  # g's started_at is its string attribute
    ("started_at == 'late'", ["g"], True),
    ("started_at > 9007199254740991", ["i"], True),
    ("started_at > 9007199254740992", [], True),  # i started at 2**53 exactly
    ("started_at < 9007199254740993", ["i", "h", "f", "e", "d", "c", "b", "a"], True),
    ("started_at == 9007199254740993", [], True),
    ("ended_at > 8", ["i", "b"], True),
    ("ended_at == null", ["h", "g", "f", "d", "c", "a"], True),  # i's null does not shadow
    ("ended_at in [7, 9.0]", ["e", "b"], True),
    ("ended_at == null and started_at >= 3", ["h", "f", "d", "c"], True),
    ("amount > 2 or email == 'c@b.c'", ["b", "a"], True),  # c's 'ten' > 2 raises first
    ("email == 'c@b.c' or amount > 2", ["c", "b", "a"], True),
    ("amount > 5 and amount < 100", ["a"], True),
    ("not (amount > 5 and email == 'a@b.c')", ["f", "e", "b"], True),
    ("not (vip == true or status == 'waiting')", ["i", "h", "e", "d", "b"], True),
    ("vip == true and not (amount in [1, 2])", ["a"], True),
    # Shapes no SQL decides: the Python fallback, narrowed by the conjuncts SQL can.
    ("'x' in tags", ["a"], False),
    ("vip", ["a"], False),
    ("len(email) > 4 and amount > 0", ["b", "a"], False),
    ("amount + 1 > 3", ["b", "a"], False),
    ("email == amount", ["d"], False),  # null == null
    ("amount in [[1], {'k': 1}]", ["h"], False),
    ("n == [1]", ["g"], False),
    ("startswith(email, 'a') or status == 'paused'", ["h", "a"], False),
]


def fill(store: Store, runs: list[RunRow]) -> None:
    store.put_definition(Definition("h", "wf", None, ""))
    for one in runs:
        store.create_run(one, (), now=0.0)


@pytest.fixture
def stores(tmp_path: Path, postgres_store_url: str) -> Iterator[dict[str, Store]]:
    opened = {
        "sqlite": open_store(str(tmp_path / "runs.db")),
        "postgresql": open_store(postgres_store_url),
    }
    try:
        yield opened
    finally:
        for store in opened.values():
            store.close()


def only_python(text: str, *_: object) -> WherePlan:
    return WherePlan(parse_expression(text), None, (), exact=False)


@contextmanager
def python_path_only() -> Iterator[None]:
    """Both backends evaluate every ``where`` in Python while inside."""
    saved = sqlite_store.plan_where, postgres_store.plan_postgres
    sqlite_store.plan_where = only_python
    postgres_store.plan_postgres = only_python
    try:
        yield
    finally:
        sqlite_store.plan_where, postgres_store.plan_postgres = saved


def ids(store: Store, text: str, **criteria: Any) -> list[str]:
    return [r.id for r in store.list_runs(RunFilter(where=text, limit=1000, **criteria))]


def each_path(stores: dict[str, Store], text: str, **criteria: Any) -> dict[str, list[str]]:
    """The ids ``text`` selects on every backend, by SQL and by Python."""
    found = {name: ids(store, text, **criteria) for name, store in stores.items()}
    with python_path_only():
        for name, store in stores.items():
            found[f"{name} (python)"] = ids(store, text, **criteria)
    return found


def test_the_fixed_queries_select_the_same_runs_on_both_backends(
    stores: dict[str, Store],
) -> None:
    for store in stores.values():
        fill(store, RUNS)
    for text, expected, exact in EXAMPLES:
        assert reference(text, RUNS) == expected, text
        assert plan_where(text).exact is exact, text
        assert plan_postgres(text).exact is exact, text
        found = each_path(stores, text)
        assert found == dict.fromkeys(found, expected), text


def test_limit_offset_status_and_workflow_combine_alike(stores: dict[str, Store]) -> None:
    for store in stores.values():
        fill(store, RUNS)
    for text in ("amount != null", "len(email) > 0"):
        for criteria in (
            {"status": "waiting"},
            {"workflow": "other"},
            {"limit": 2, "offset": 1},
            {"status": "completed", "limit": 1},
        ):
            limit = criteria.pop("limit", 1000)
            found = {
                name: [r.id for r in s.list_runs(RunFilter(where=text, limit=limit, **criteria))]
                for name, s in stores.items()
            }
            assert found["sqlite"] == found["postgresql"], (text, criteria)
    found = each_path(stores, "amount != null", status="waiting")
    assert found == {path: ["g", "f", "c", "a"] for path in found}


def test_mistakes_are_the_same_error_on_both_backends(stores: dict[str, Store]) -> None:
    for store in stores.values():
        fill(store, [*RUNS, run("n", 9.0, {"approver": None})])
    for text, message in (
        ("emial == 'a@b.c'", "unknown search attribute 'emial'; did you mean 'email'?"),
        ("lenght(email) > 0", "unknown function 'lenght'"),
        ("started_at > now()", "now() is only available inside a run"),
        ("email == ", "the expression is incomplete"),
    ):
        messages = []
        for store in stores.values():
            with pytest.raises(ExpressionError) as raised:
                ids(store, text)
            messages.append(str(raised.value))
        assert message in messages[0] and messages[0] == messages[1]
    # A name some run has only as null is known, and is null everywhere.
    found = each_path(stores, "approver == null")
    expected = ["i", "n", "h", "g", "f", "e", "d", "c", "b", "a"]
    assert found == dict.fromkeys(found, expected)


# --- generated ----------------------------------------------------------------------

MISSING = object()
NAMES = ["a", "b", "status", "started_at", "ended_at", "workflow", "missing"]
SCALARS = st.sampled_from(
    [
        0,
        1,
        1.0,
        2.5,
        -3,
        0.1,
        BIG,
        float(BIG),
        -0.0,
        1e300,
        "x",
        "y",
        "X",
        "",
        "é",
        "0.1",
        True,
        False,
        None,
    ]
)
VALUES = st.one_of(
    SCALARS, st.sampled_from([[1], {"k": 1}, [True], "\U0001d11e"]), st.just(MISSING)
)


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value == 0:
        return "0.0"
    return repr(value)


@st.composite
def atoms(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from([*NAMES[:-1], "a", "b"]))
    shape = draw(st.sampled_from(["cmp", "cmp", "cmp", "mirror", "in", "bare", "names"]))
    if shape == "in":
        items = draw(st.lists(SCALARS, max_size=3))
        operator = draw(st.sampled_from(["in", "not in"]))
        return f"{name} {operator} [{', '.join(literal(item) for item in items)}]"
    if shape == "bare":
        return name
    operator = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if shape == "names":
        return f"{name} {operator} {draw(st.sampled_from(NAMES))}"
    value = literal(draw(SCALARS))
    return f"{value} {operator} {name}" if shape == "mirror" else f"{name} {operator} {value}"


wheres = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        inner.map(lambda e: f"not ({e})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"
        ),
    ),
    max_leaves=5,
)


@st.composite
def run_sets(draw: st.DrawFn, *, shadowing: bool = True) -> list[RunRow]:
    """1 to 6 runs; with ``shadowing`` some have search attributes named
    like the built-ins."""
    runs = []
    for number in range(draw(st.integers(1, 6))):
        search = {}
        names = ("a", "b", "status", "started_at", "workflow") if shadowing else ("a", "b")
        for name in names:
            chosen = (
                VALUES if name in ("a", "b") else st.sampled_from([MISSING, MISSING, "x", None, 1])
            )
            value = draw(chosen)
            if value is not MISSING:
                search[name] = value
        finished = draw(st.booleans())
        runs.append(
            run(
                f"r{number}",
                float(number) + draw(st.sampled_from([0.0, 0.5])),
                search,
                workflow=draw(st.sampled_from(["wf", "x"])),
                status=draw(st.sampled_from(["completed", "failed"]))
                if finished
                else draw(st.sampled_from(["running", "waiting", "x"])),
                ended_at=draw(st.sampled_from([-1.0, 0.5, 2.0, float(BIG)])) if finished else None,
            )
        )
    return runs


class Generated:
    """One pair of stores for all of a test's examples: each example's runs
    get ids of their own and are selected by id prefix afterwards."""

    def __init__(self, stores: dict[str, Store]) -> None:
        self.stores = stores
        self.examples = 0
        self.names: set[str] = {"workflow", "status", "started_at", "ended_at"}
        for store in stores.values():
            store.put_definition(Definition("h", "wf", None, ""))

    def add(self, runs: list[RunRow]) -> tuple[str, list[RunRow]]:
        self.examples += 1
        prefix = f"x{self.examples}-"
        mine = [replace(r, id=prefix + r.id) for r in runs]
        for store in self.stores.values():
            for one in mine:
                store.create_run(one, (), now=0.0)
        for one in mine:
            self.names.update(one.search)
        return prefix, mine


@pytest.fixture
def generated(stores: dict[str, Store]) -> Generated:
    return Generated(stores)


def check_generated(generated: Generated, runs: list[RunRow], where: str) -> None:
    prefix, mine = generated.add(runs)
    if not parse_expression(where).root_names <= generated.names:
        for store in generated.stores.values():
            with pytest.raises(ExpressionError, match="unknown search attribute"):
                ids(store, where)
        return
    expected = reference(where, mine)
    found = {
        path: [run_id for run_id in selected if run_id.startswith(prefix)]
        for path, selected in each_path(generated.stores, where).items()
    }
    assert found == dict.fromkeys(found, expected), (where, plan_postgres(where))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(runs=run_sets(), where=wheres)
@example(runs=[run("r0", 0.0, {"a": 0, "status": 1})], where="a in [1, 'x']")
@example(runs=[run("r0", 0.0, {"a": BIG})], where="a > 9007199254740992.0")
@example(
    runs=[run("r0", 0.0, {}, status="completed", ended_at=float(BIG))],
    where="ended_at < 9007199254740993",
)
def test_generated_queries_select_the_same_runs_on_both_backends(
    generated: Generated, runs: list[RunRow], where: str
) -> None:
    check_generated(generated, runs, where)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(runs=run_sets(shadowing=False), where=wheres)
def test_generated_queries_agree_where_built_ins_are_read_from_their_columns_alone(
    generated: Generated, runs: list[RunRow], where: str
) -> None:
    # No run has an attribute named like a built-in, so the built-ins'
    # SQL is their column alone (one index range, no test of every run).
    check_generated(generated, runs, where)


def test_a_built_in_no_run_shadows_is_its_column_alone(stores: dict[str, Store]) -> None:
    plain = [replace(r, search={"email": r.search.get("email")}) for r in RUNS]
    for store in stores.values():
        fill(store, plain)
    for text in ("status == 'waiting'", "ended_at > 8", "started_at <= 3 and workflow != 'wf'"):
        for plan in (plan_where(text), plan_postgres(text)):
            assert "search" in str(plan.sql)
            assert "search" not in str(unshadow(plan, {"email"}).sql)
            # Once some run has every built-in as an attribute, nothing changes.
            every = {"status", "ended_at", "started_at", "workflow"}
            assert unshadow(plan, every).sql == plan.sql
        found = each_path(stores, text)
        assert found == dict.fromkeys(found, reference(text, plain)), text


def test_a_string_holding_nul_is_stored_and_compared_alike(stores: dict[str, Store]) -> None:
    # PostgreSQL text cannot hold U+0000: such a run could not be created
    # there (nor copied to it), while SQLite took it.
    runs = [
        run("p", 1.0, {"email": "a\x00b", "later": None}),
        run("q", 2.0, {"email": "a"}),
        run("r", 3.0, {"email": "b"}),
    ]
    for store in stores.values():
        fill(store, runs)
    for text in (
        "email == 'a'",
        "email != 'a'",
        "email < 'b'",
        "email > 'a'",
        "not (email >= 'a\\u0000')",
        "email == 'a\\u0000b'",
        "email in ['a', 'b']",
        "later == null",
        "email == null",
    ):
        found = each_path(stores, text)
        assert found == dict.fromkeys(found, reference(text, runs)), text
