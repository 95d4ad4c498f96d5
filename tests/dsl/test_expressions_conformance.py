"""Runs tests/dsl/expressions_conformance.yaml: the expression language by example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from wfdsl.dsl.expressions import NO_HOOKS, FixedHooks, Hooks, compile_string, parse_expression

from wfdsl.errors import ExpressionError

SPEC = YAML(typ="safe", pure=True).load(
    (Path(__file__).parent / "expressions_conformance.yaml").read_text(encoding="utf-8")
)


def _case_id(case: dict[str, Any]) -> str:
    text = case["expr"] if "expr" in case else f"string: {case['string']}"
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


CASES = [pytest.param(case, id=_case_id(case)) for case in SPEC["cases"]]


def _hooks(case: dict[str, Any]) -> Hooks:
    if "hooks" not in case:
        return NO_HOOKS
    return FixedHooks(**case["hooks"])


def _same(actual: Any, expected: Any) -> bool:
    """Equality that also compares types: 3 is not 3.0, true is not 1."""
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_same, actual, expected))
    if isinstance(expected, dict):
        return list(actual) == list(expected) and all(
            _same(actual[k], expected[k]) for k in expected
        )
    return bool(actual == expected)


def _evaluate(case: dict[str, Any]) -> Any:
    scope = case.get("scope", SPEC["scope"])
    if "expr" in case:
        return parse_expression(case["expr"]).evaluate(scope, _hooks(case))
    return compile_string(case["string"]).evaluate(scope, _hooks(case))


def test_the_specification_has_at_least_150_cases_each_with_one_expectation() -> None:
    assert len(SPEC["cases"]) >= 150
    for case in SPEC["cases"]:
        assert ("expr" in case) != ("string" in case), case
        assert ("value" in case) != ("error" in case), case


@pytest.mark.parametrize("case", CASES)
def test_conformance(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ExpressionError) as raised:
            _evaluate(case)
        assert case["error"] in raised.value.message
    else:
        result = _evaluate(case)
        assert _same(result, case["value"]), f"got {result!r}, expected {case['value']!r}"
