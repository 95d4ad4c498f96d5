"""Property tests: whatever the text, the scope or the template, the only failure is ExpressionError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfdsl.dsl.expressions import (
    BUILTIN_FUNCTIONS,
    ExpressionSpan,
    FixedHooks,
    compile_string,
    escape_text,
    join_template,
    parse_expression,
    split_template,
)

from wfdsl.errors import ExpressionError

FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# -- arbitrary text ------------------------------------------------------------------

EXPRESSION_CHARACTERS = st.sampled_from(
    [
        *"abcxyz_019 .,:;[](){}'\"\\+-*/%<>=!&|@$#`~^?\n\t",
        "and",
        "or",
        "not",
        "in",
        "if",
        "else",
        "true",
        "null",
        "vars",
        "len(",
        "**",
        "//",
    ]
)


@FUZZ
@given(st.text(max_size=200))
def test_parsing_any_text_raises_only_expression_error(text: str) -> None:
    # Most random text is not an expression; whatever parses is fine too.
    try:
        parse_expression(text)
    except ExpressionError as error:
        assert error.message


@FUZZ
@given(st.lists(EXPRESSION_CHARACTERS, max_size=60).map("".join))
def test_parsing_expression_like_text_raises_only_expression_error(text: str) -> None:
    try:
        expression = parse_expression(text)
    except ExpressionError as error:
        assert error.column is None or 1 <= error.column <= max(len(text), 1)
    else:
        assert expression.source == text


# -- generated expressions over generated scopes ----------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "items", "x", "0"]), children, max_size=4)
    ),
    max_leaves=12,
)

SCOPES = st.fixed_dictionaries(
    {
        "input": JSON_VALUES,
        "vars": st.dictionaries(
            st.sampled_from(["a", "b", "items", "total", "name"]), JSON_VALUES, max_size=5
        ),
        "run": st.just({"id": "r-1", "attempt": 1}),
    }
)

LITERALS = (
    st.integers(-(2**40), 2**40).map(str)
    | st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr)
    | st.text(alphabet="ab c'\\\"}{$", max_size=5).map(lambda s: repr(s))
    | st.sampled_from(["true", "false", "null", "None", "[]", "{}"])
)
PATHS = st.builds(
    lambda root, keys: root + "".join(keys),
    st.sampled_from(["input", "vars", "run", "vars.items", "vars.total", "input.a"]),
    st.lists(st.sampled_from([".a", ".b", "[0]", "[-1]", "['x']", "[1]"]), max_size=3),
)
OPERATORS = st.sampled_from(
    [
        "+",
        "-",
        "*",
        "/",
        "//",
        "%",
        "**",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "not in",
        "and",
        "or",
    ]
)
FUNCTION_NAMES = st.sampled_from([*BUILTIN_FUNCTIONS, "nope"])


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, OPERATORS, children),
        st.builds(lambda a: f"(-{a})", children),
        st.builds(lambda a: f"(not {a})", children),
        st.builds(lambda a, c, b: f"({a} if {c} else {b})", children, children, children),
        st.builds(lambda items: "[" + ", ".join(items) + "]", st.lists(children, max_size=3)),
        st.builds(lambda k, v: "{" + f"{k}: {v}" + "}", children, children),
        st.builds(lambda a, i: f"{a}[{i}]", children, children),
        st.builds(
            lambda name, args: f"{name}(" + ", ".join(args) + ")",
            FUNCTION_NAMES,
            st.lists(children, max_size=3),
        ),
    )


EXPRESSIONS = st.recursive(LITERALS | PATHS, _compound, max_leaves=8)


def _assert_plain_json(value: Any) -> None:
    json.dumps(value, allow_nan=False)


@FUZZ
@given(EXPRESSIONS, SCOPES)
def test_generated_expressions_evaluate_to_json_or_raise_expression_error(
    text: str, scope: dict[str, Any]
) -> None:
    expression = parse_expression(text)  # the generator only writes valid syntax
    before = json.dumps(scope, sort_keys=True)
    try:
        value = expression.evaluate(scope, FixedHooks(secrets={"A": "b"}))
    except ExpressionError as error:
        assert error.message
        assert error.expression == text
    else:
        _assert_plain_json(value)
        if isinstance(value, (list, dict)):
            value.clear()  # the result is the caller's to change...
    assert json.dumps(scope, sort_keys=True) == before  # ...and the scope is never changed


@FUZZ
@given(EXPRESSIONS)
def test_static_references_start_with_a_name_that_is_read(text: str) -> None:
    expression = parse_expression(text)
    for path in expression.references:
        assert path[0] in expression.root_names
    assert {call.name for call in expression.calls} <= {*BUILTIN_FUNCTIONS, "nope"}


# -- templates ------------------------------------------------------------------------------

TEMPLATE_TEXT = st.text(alphabet="ab ${}'\"\\", max_size=40)


@FUZZ
@given(TEMPLATE_TEXT)
def test_splitting_any_string_round_trips(text: str) -> None:
    try:
        parts = split_template(text)
    except ExpressionError as error:
        assert error.expression == text
        return
    assert join_template(parts) == text
    for part in parts:
        if isinstance(part, ExpressionSpan):
            assert text[part.start : part.end] == "${" + part.body + "}"


@FUZZ
@given(st.text(alphabet="a ${}", max_size=30))
def test_escaped_text_renders_as_itself(text: str) -> None:
    assert compile_string(escape_text(text)).evaluate({}) == text


BODIES = st.sampled_from(["vars.a", " 1 + 2 ", "'}'", "{'k': 1}['k']", '"${"', "len('{')"])


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab $}{", min_size=1, max_size=8), BODIES.map(lambda b: ("expr", b))
        ),
        max_size=6,
    )
)
def test_joining_parts_then_splitting_gives_the_parts_back(pieces: list[Any]) -> None:
    parts: list[str | ExpressionSpan] = []
    for piece in pieces:
        if isinstance(piece, tuple):
            parts.append(ExpressionSpan(0, 0, piece[1]))
        elif parts and isinstance(parts[-1], str):
            parts[-1] += piece  # split_template merges adjacent text
        else:
            parts.append(piece)
    text = join_template(parts)
    again = split_template(text)
    assert [p if isinstance(p, str) else p.body for p in again] == [
        p if isinstance(p, str) else p.body for p in parts
    ]


@FUZZ
@given(TEMPLATE_TEXT, SCOPES)
def test_compiling_and_rendering_any_string_raises_only_expression_error(
    text: str, scope: dict[str, Any]
) -> None:
    try:
        value = compile_string(text).evaluate(scope, FixedHooks())
    except ExpressionError:
        return
    _assert_plain_json(value)
