"""The public interface of wfdsl.dsl.expressions, as the validator and the interpreter use it."""

from __future__ import annotations

import io
from typing import Any

import pytest
import wfdsl.dsl.expressions as expressions
from ruamel.yaml import YAML
from wfdsl.dsl.expressions import (
    BUILTIN_FUNCTIONS,
    NO_HOOKS,
    SCOPE_NAMES,
    Call,
    CompiledValue,
    Constant,
    Expression,
    FixedHooks,
    ListValue,
    MappingValue,
    NameUse,
    Template,
    compile_string,
    compile_value,
    contains_expression,
    explain,
    parse_expression,
)

from wfdsl.errors import ExpressionError


@pytest.fixture
def scope() -> dict[str, Any]:
    return {
        "input": {"email": "a@b.c", "country": "FR", "lines": [{"price": 3}]},
        "vars": {"total": 1500, "payment": {"id": "p-1"}, "items": [1, 2]},
        "run": {"id": "r-1", "attempt": 2},
    }


# -- the exported surface ------------------------------------------------------------


def test_every_exported_name_exists_and_nothing_private_is_exported() -> None:
    for name in expressions.__all__:
        assert hasattr(expressions, name), name
        assert not name.startswith("_")


def test_every_function_named_in_the_language_reference_is_built_in() -> None:
    documented = {
        "len",
        "str",
        "int",
        "float",
        "bool",
        "abs",
        "min",
        "max",
        "sum",
        "round",
        "lower",
        "upper",
        "strip",
        "split",
        "join",
        "replace",
        "startswith",
        "endswith",
        "keys",
        "values",
        "get",
        "contains",
        "sorted",
        "unique",
        "range",
        "now",
        "today",
        "duration",
        "timestamp",
        "format_time",
        "uuid",
        "json",
        "parse_json",
        "coalesce",
        "secret",
        # language 1.1: types and presence
        "is_number",
        "is_string",
        "is_bool",
        "is_list",
        "is_map",
        "is_null",
        "has",
    }
    assert set(BUILTIN_FUNCTIONS) == documented


def test_function_specs_unpack_as_min_and_max_argument_counts() -> None:
    min_args, max_args, *_ = BUILTIN_FUNCTIONS["get"]
    assert (min_args, max_args) == (2, 3)
    assert BUILTIN_FUNCTIONS["coalesce"].max_args is None
    assert not BUILTIN_FUNCTIONS["now"].deterministic
    assert BUILTIN_FUNCTIONS["len"].deterministic
    assert BUILTIN_FUNCTIONS["format_time"].accepts(1) and not BUILTIN_FUNCTIONS[
        "format_time"
    ].accepts(3)


def test_builtin_functions_cannot_be_replaced() -> None:
    with pytest.raises(TypeError):
        BUILTIN_FUNCTIONS["len"] = BUILTIN_FUNCTIONS["str"]  # type: ignore[index]


def test_scope_names_are_the_ones_the_language_defines() -> None:
    assert {"input", "vars", "run", "result", "error", "args"} == SCOPE_NAMES


# -- parse_expression: what the validator reads ----------------------------------------------


def test_references_are_the_longest_static_paths() -> None:
    expression = parse_expression(
        "vars.payment.id + vars.items[0] + vars[input.key].x + vars['odd key'] + run.id"
    )
    assert expression.references == {
        ("vars", "payment", "id"),
        ("vars", "items", 0),
        ("vars",),
        ("input", "key"),
        ("vars", "odd key"),
        ("run", "id"),
    }
    assert expression.root_names == {"vars", "input", "run"}


def test_name_uses_and_calls_carry_columns_within_the_source() -> None:
    source = "len(vars.items) > 2 and  nope(input.a, 1)"
    expression = parse_expression(source)
    assert expression.name_uses == (
        NameUse("vars", ("vars", "items"), 5),
        NameUse("input", ("input", "a"), 31),
    )
    assert expression.calls == (Call("len", 1, 1), Call("nope", 2, 26))
    for use in expression.name_uses:
        assert source[use.column - 1 :].startswith(use.name)


def test_names_used_only_as_map_keys_or_function_names_are_not_name_uses() -> None:
    expression = parse_expression("{'vars': str(1)}")
    assert expression.name_uses == ()
    assert expression.calls == (Call("str", 1, 10),)


def test_unknown_functions_parse_so_the_validator_can_report_them_and_fail_when_run() -> None:
    expression = parse_expression("lenn(vars.items)")
    assert expression.calls == (Call("lenn", 1, 1),)
    with pytest.raises(ExpressionError, match="did you mean len"):
        expression.evaluate({"vars": {"items": []}})


def test_parsing_is_cached_by_text() -> None:
    first = parse_expression("vars.total * 2")
    second = parse_expression("vars.total * 2")
    assert first == second
    assert first.program is second.program


def test_syntax_errors_carry_the_expression_and_a_column() -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_expression("vars.total >> 2")
    error = raised.value
    assert error.expression == "vars.total >> 2"
    assert error.column == 13
    assert explain(error).splitlines()[1:] == ["  vars.total >> 2", "              ^"]


def test_evaluation_errors_point_at_the_failing_operation() -> None:
    source = "vars.n + (vars.name + 1)"
    with pytest.raises(ExpressionError) as raised:
        parse_expression(source).evaluate({"vars": {"n": 1, "name": "x"}})
    assert raised.value.column == 21
    assert source[raised.value.column - 1 :] == "+ 1)"  # the inner '+', not the outer one
    assert raised.value.expression == source
    assert "cannot apply '+' to a string and a number" in raised.value.message


# -- evaluate: what the interpreter gets -------------------------------------------------------


def test_the_choice_condition_of_the_language_reference(scope: dict[str, Any]) -> None:
    condition = parse_expression("vars.total > 1000 and input.country in ['DE', 'FR']")
    assert condition.evaluate(scope) is True
    scope["input"]["country"] = "US"
    assert condition.evaluate(scope) is False


def test_results_never_share_state_with_the_scope_or_the_expression(scope: dict[str, Any]) -> None:
    items = parse_expression("vars.items").evaluate(scope)
    items.append(99)
    assert scope["vars"]["items"] == [1, 2]
    constant = parse_expression("{'a': [1]}")
    constant.evaluate({})["a"].append(2)
    assert constant.evaluate({}) == {"a": [1]}


def test_scope_values_of_other_json_like_types_come_back_as_plain_dicts_and_lists() -> None:
    loaded = YAML().load("items: [1, 2.5, true]\nnested: {a: b}\n")
    result = parse_expression("vars").evaluate({"vars": loaded})
    assert result == {"items": [1, 2.5, True], "nested": {"a": "b"}}
    assert type(result) is dict and type(result["items"]) is list
    assert [type(item) for item in result["items"]] == [int, float, bool]


def test_hooks_supply_time_identifiers_and_secrets() -> None:
    hooks = FixedHooks(now=1_714_564_800.0, uuids=["u-1"], secrets={"TOKEN": "t"})
    assert parse_expression("[now(), today(), uuid(), secret('TOKEN')]").evaluate({}, hooks) == [
        1_714_564_800.0,
        "2024-05-01",
        "u-1",
        "t",
    ]
    with pytest.raises(ExpressionError, match="all used"):
        parse_expression("uuid()").evaluate({}, hooks)


def test_without_hooks_time_and_secrets_are_refused() -> None:
    for text in ("now()", "today()", "uuid()", "secret('X')"):
        with pytest.raises(ExpressionError, match="only available inside a run"):
            parse_expression(text).evaluate({}, NO_HOOKS)


def test_fixed_hooks_never_show_secret_values() -> None:
    assert "hunter2" not in repr(FixedHooks(secrets={"PASSWORD": "hunter2"}))


def test_a_hook_may_raise_its_own_wfdsl_error_unchanged() -> None:
    from wfdsl.errors import WfdslError

    class Replaying(WfdslError):
        pass

    class Hooks(FixedHooks):
        def now(self) -> float:
            raise Replaying("not recorded yet")

    with pytest.raises(Replaying):
        parse_expression("now()").evaluate({}, Hooks())


def test_python_errors_from_hooks_surface_as_expression_errors() -> None:
    class Broken(FixedHooks):
        def uuid(self) -> str:
            raise RuntimeError("no entropy")

    with pytest.raises(ExpressionError, match="uuid\\(\\) failed: RuntimeError: no entropy"):
        parse_expression("uuid()").evaluate({}, Broken())


# -- strings and templates --------------------------------------------------------------------


def test_contains_expression_ignores_escaped_openers() -> None:
    assert contains_expression("hi ${ vars.x }")
    assert contains_expression("${ unterminated")
    assert not contains_expression("price: $${ 5 }")
    assert not contains_expression("plain {text} $5")


def test_compile_string_returns_constant_expression_or_template(scope: dict[str, Any]) -> None:
    assert compile_string("plain") == Constant("plain")
    single = compile_string(" ${ vars.items } ")
    assert isinstance(single, Expression)
    assert single.evaluate(scope) == [1, 2]
    template = compile_string("total: ${ vars.total }")
    assert isinstance(template, Template)
    assert template.evaluate(scope) == "total: 1500"


def test_expression_offsets_locate_each_source_in_its_string() -> None:
    text = "from ${input.email} to ${  vars.payment.id }"
    found = list(compile_string(text).expressions())
    assert [(path, offset, expression.source) for path, offset, expression in found] == [
        ((), 7, "input.email"),
        ((), 27, "vars.payment.id"),
    ]
    for _, offset, expression in found:
        assert text[offset : offset + len(expression.source)] == expression.source


def test_errors_in_a_template_point_into_the_whole_string() -> None:
    with pytest.raises(ExpressionError) as raised:
        compile_string("Dear ${ input.name }, you owe ${ vars.total + }")
    assert raised.value.expression == "Dear ${ input.name }, you owe ${ vars.total + }"
    assert raised.value.column == 45  # the '+' with nothing after it


# -- compile_value: document values ------------------------------------------------------------


def test_compile_value_folds_constants_and_locates_expressions(scope: dict[str, Any]) -> None:
    compiled = compile_value(
        {
            "to": "${ input.email }",
            "template": "verify",
            "lines": [{"price": "${ input.lines[0].price * 2 }"}, 5],
            "meta": {"fixed": [1, 2]},
        }
    )
    assert isinstance(compiled, MappingValue)
    assert compiled.evaluate(scope) == {
        "to": "a@b.c",
        "template": "verify",
        "lines": [{"price": 6}, 5],
        "meta": {"fixed": [1, 2]},
    }
    assert [(path, offset, e.source) for path, offset, e in compiled.expressions()] == [
        (("to",), 3, "input.email"),
        (("lines", 0, "price"), 3, "input.lines[0].price * 2"),
    ]
    assert dict(compiled.entries)["meta"] == Constant({"fixed": [1, 2]})
    assert isinstance(dict(compiled.entries)["lines"], ListValue)


def test_every_compiled_value_follows_the_protocol() -> None:
    for value in (
        compile_value(1),
        compile_value("${ 1 }"),
        compile_value("a ${ 1 }"),
        compile_value({"a": "${ 1 }"}),
        compile_value(["${ 1 }"]),
    ):
        assert isinstance(value, CompiledValue)
    assert compile_value({"a": [1, "x"]}).is_constant
    assert not compile_value(["${ 1 }"]).is_constant


def test_constants_hand_out_copies() -> None:
    compiled = compile_value({"a": [1, {"b": 2}]})
    first = compiled.evaluate({})
    first["a"][1]["b"] = "changed"
    assert compiled.evaluate({}) == {"a": [1, {"b": 2}]}


def test_compile_value_accepts_what_ruamel_yaml_loads() -> None:
    document = YAML().load(
        io.StringIO(
            "flag: &yes true\nagain: *yes\nratio: 1.5\nhex: 0x10\nwhen: 2024-05-01\n"
            'at: 2024-05-01T12:00:00Z\n200: ok\nquoted: "${ vars.total }"\n'
        )
    )
    compiled = compile_value(document)
    assert compiled.evaluate({"vars": {"total": 3}}) == {
        "flag": True,
        "again": True,
        "ratio": 1.5,
        "hex": 16,
        "when": "2024-05-01",
        "at": "2024-05-01T12:00:00+00:00",
        "200": "ok",
        "quoted": 3,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"a": float("inf")}, "no infinity or NaN"),
        ([2**64], "out of range"),
        ({"a": {1, 2}}, "Python type set"),
        ({"a": b"bytes"}, "Python type bytes"),
        ("${ 1 +", "never closed"),
    ],
)
def test_compile_value_refuses_what_json_cannot_hold(raw: Any, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_value(raw)


def test_compile_value_refuses_values_nested_deeper_than_64() -> None:
    deep: Any = "leaf"
    for _ in range(65):
        deep = [deep]
    with pytest.raises(ExpressionError, match="nested deeper than 64"):
        compile_value(deep)
    assert compile_value(deep[0]).is_constant
