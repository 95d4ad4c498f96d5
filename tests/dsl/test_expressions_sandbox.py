"""Known ways out of expression sandboxes, each refused (or harmless) and cheaply.

An expression comes from a workflow document, which may be written by
someone other than the operator. Every attempt below must end in an
ExpressionError, or evaluate to plain data (a dict key that does not exist
is just null), within a loose bound on the work done (function calls
counted, memory allocated: the same on a busy machine as on a quiet one),
without touching Python objects.
"""

from __future__ import annotations

from typing import Any

import pytest
from wfdsl.dsl.expressions import NO_HOOKS, FixedHooks, compile_string, parse_expression
from work_bounds import measure_work

from wfdsl.errors import ExpressionError

SCOPE: dict[str, Any] = {
    "input": {"name": "x", "__class__": "data, not a class"},
    "vars": {"items": [1, 2, 3], "text": "abc"},
    "run": {"id": "r-1"},
}

# Generous: the point is "not a hang, not the expansion asked for". The
# costliest case here (parsing 5,000 nested `2 **`) makes ~1.2 million
# calls, loading the grammar ~0.5 million; a runaway loop makes billions.
CALL_LIMIT = 4_000_000
MEMORY_LIMIT = 200 * 2**20  # bytes: two lists of 1 M integers are ~80 MiB


def _attempt(
    text: str, scope: dict[str, Any] | None = None, *, memory: bool = False
) -> tuple[str, Any]:
    """('error', message) or ('value', result), its work bounded (and its
    memory with ``memory``: tracing it is slow, so only for the huge cases)."""

    def evaluate() -> tuple[str, Any]:
        try:
            return ("value", parse_expression(text).evaluate(scope or SCOPE, FixedHooks()))
        except ExpressionError as error:
            return ("error", error.message)

    outcome, work = measure_work(evaluate, memory=memory)
    assert work.calls < CALL_LIMIT, f"{text[:60]!r} made {work}"
    assert work.peak_bytes < MEMORY_LIMIT, f"{text[:60]!r} made {work}"
    return outcome


REFUSED = [
    # Python object graphs: no attributes, no methods.
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "vars.__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "'a'.upper()",
    "vars.items.append(4)",
    "vars.text.format(1)",
    "'{0.__class__}'.format(1)",
    "'%s' % vars",
    "'{}' % 1",
    "vars.items[0].__class__",
    "vars.text.__len__",
    "str.join(',', ['a'])",
    "json.__globals__",
    "__builtins__",
    "__builtins__['eval']('1')",
    # Functions that do not exist here.
    "__import__('os')",
    "__import__('os').system('true')",
    "eval('1 + 1')",
    "exec('x = 1')",
    "compile('1', 'f', 'eval')",
    "open('/etc/passwd')",
    "getattr(vars, '__class__')",
    "globals()",
    "locals()",
    "vars()",
    "type(1)",
    "dir()",
    "breakpoint()",
    "format('{0.__class__}', 1)",
    # Syntax the language does not have.
    "lambda: 1",
    "(lambda x: x)(1)",
    "[x for x in range(10) for y in range(10)]",
    "[[x for x in range(1000)] for y in range(1000)]",
    "[x.__class__ for x in [1]]",
    "(x for x in [1])",
    "{x: 1 for x in [1]}",
    "{1, 2}",
    "(x := 1)",
    "f'{1}'",
    "b'abc'",
    "import os",
    "a; b",
    "`ls`",
    "1 if True",
    "yield 1",
    "await x",
    "del vars",
    "vars.items[::-1]",
    "*vars.items",
    "print(1)",
    "\\x00",
]

# Huge numbers, strings and lists, refused before the value is built:
# checked for memory too.
HUGE = [
    "2 ** 10 ** 9",
    "9 ** 9 ** 9",
    "10 ** 10 ** 10",
    "(2 ** 62) ** 2",
    "2.0 ** 10 ** 9",
    "'a' * 10 ** 9",
    "'a' * 1000000 * 1000000",
    "[1] * 10 ** 9",
    "[vars.items] * 10 ** 8",
    "range(10 ** 9)",
    "range(-10 ** 18, 10 ** 18)",
    "replace('a' * 1000000, 'a', 'aaaa')",
    "join([vars.text * 300000] * 1000, '')",
    "parse_json('[' * 100000 + ']' * 100000)",
    "parse_json('1' * 5000)",
    "int('9' * 100000)",
    "float('9' * 100000)",
    "format_time(0, '%c' * 100000)",
    "upper('ß' * 1000000)",
    "'x' * 2 ** 63",
]

REFUSED += [
    # Walks over values that share structure: bounded by counted calls
    # (tracing their memory would be slow, and they build nothing big).
    "json([range(1000000)] * 1000)",
    "str([range(1000000)] * 1000)",
    "[range(1000000)] * 1000 == [range(1000000)] * 1000",
    "unique([range(1000000)] * 1000)",
    "sorted([range(100000)] * 100)",
    "range(999999) + [5] in [range(1000000)] * 1000",
    "[range(1000000)] * 1000",
    "{'a': [range(1000000)] * 1000}",
    # Secrets and the clock stay behind the hooks.
    "secret('PATH')",
    # More shapes from the advisories (issue 6): JS-style constructor chains
    # (n8n), Jinja filters and format_map (CVE-2019-10906, CVE-2025-27516),
    # pickling hooks (asteval #86), NFKC-folded identifiers Python would
    # accept as `eval`, generator frames, operator/module reach-arounds.
    "this.constructor.constructor('return process')()",
    "vars.constructor.constructor('x')()",
    "vars.text | attr('format')",
    "vars.text|attr('__class__')",
    "'{0.__class__}'.format_map(vars)",
    "vars.text.format_map({})",
    "vars.items.__reduce__()",
    "vars.items.__reduce_ex__(2)",
    "().__class__.mro()",
    "\uff45\uff56\uff41\uff4c('1')",
    "(x for x in [1]).gi_frame.f_globals",
    "operator.attrgetter('__class__')(1)",
    "sys.modules['os']",
    "{{ 7 * 7 }}",
    "${ 7 * 7 }",
    "`${7*7}`",
    "'a' % (1,)",
    "vars.items[0:2]",
    "vars.__getitem__('items')",
    "get(vars, '__class__')()",
    "json(vars).__class__",
    "range(10)[0].__class__",
]

DEEP = [
    "(" * 10_000 + "1" + ")" * 10_000,
    "[" * 10_000 + "]" * 10_000,
    "{'a': " * 10_000 + "1" + "}" * 10_000,
    "len(" * 10_000 + "1" + ")" * 10_000,
    "vars" + "[0]" * 65 + "[" * 5000 + "0" + "]" * 5000,
    "not " * 10_000 + "true",
    "- " * 5_000 + "vars.items[0]",
    "2 ** " * 5_000 + "2",
    "1 if true else " * 5_000 + "2",
    "a" * 100_000,
    "1 + " * 20_000 + "1",
]


@pytest.mark.parametrize("text", [pytest.param(text, id=text[:50]) for text in REFUSED + HUGE])
def test_escape_attempt_is_refused(text: str) -> None:
    kind, detail = _attempt(text, memory=text in HUGE)
    assert kind == "error", f"{text!r} evaluated to {detail!r}"


@pytest.mark.parametrize(
    "text", [pytest.param(text, id=f"{text[:20]}...x{len(text)}") for text in DEEP]
)
def test_deeply_nested_or_very_long_text_is_refused_fast(text: str) -> None:
    kind, detail = _attempt(text)
    assert kind == "error", f"evaluated to {detail!r}"


@pytest.mark.parametrize(
    "text",
    [
        "vars.__class__",
        "vars['__dict__']",
        "run.__globals__",
        "vars.pop",
        "vars.keys",
        "input.get",
        "vars['__getitem__']",
    ],
)
def test_dunder_and_method_names_are_only_missing_dict_keys(text: str) -> None:
    assert _attempt(text) == ("value", None)


def test_a_key_named_like_a_dunder_is_plain_data() -> None:
    assert _attempt("input.__class__") == ("value", "data, not a class")
    assert _attempt("{'__class__': 1}.__class__") == ("value", 1)


def test_a_long_flat_chain_of_unary_minus_on_a_number_is_just_a_number() -> None:
    # Folded while parsing: no nesting is built, so nothing deep happens.
    assert _attempt("-" * 10_000 + "1") == ("value", 1)


class _Trap:
    """A Python object that records any attempt to look inside it."""

    touched: list[str]

    def __init__(self) -> None:
        object.__setattr__(self, "touched", [])

    def __getattr__(self, name: str) -> Any:
        self.touched.append(f"getattr {name}")
        raise AttributeError(name)

    def __getitem__(self, key: Any) -> Any:
        self.touched.append(f"getitem {key!r}")
        return "leaked"

    def __str__(self) -> str:
        self.touched.append("str")
        return "leaked"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        self.touched.append("eq")
        return True

    __hash__ = object.__hash__


@pytest.mark.parametrize(
    "text",
    [
        "vars.trap.anything",
        "vars.trap['key']",
        "vars.trap[0]",
        "str(vars.trap)",
        "json(vars)",
        "vars.trap + 1",
        "vars.trap == 1",
        "'x' in vars.trap",
        "len(vars.trap)",
        "vars.trap",
    ],
)
def test_python_objects_in_the_scope_are_never_looked_into(text: str) -> None:
    trap = _Trap()
    kind, _ = _attempt(text, {"vars": {"trap": trap}})
    assert kind == "error"
    assert trap.touched == []


def test_templates_refuse_the_same_attempts() -> None:
    with pytest.raises(ExpressionError):
        compile_string("hello ${ ''.__class__.__mro__ }").evaluate(SCOPE)
    with pytest.raises(ExpressionError, match="more than 1,048,576"):
        compile_string("${ 'a' * 1000000 } and ${ 'b' * 100000 }").evaluate(SCOPE)


def test_hooks_are_the_only_way_to_the_clock_and_secrets() -> None:
    with pytest.raises(ExpressionError, match="only available inside a run"):
        parse_expression("secret('HOME')").evaluate(SCOPE, NO_HOOKS)
    with pytest.raises(ExpressionError, match="only available inside a run"):
        parse_expression("now()").evaluate(SCOPE)
