"""Reads of input fields the declared input schema does not have (WF403)."""

from __future__ import annotations

import pytest
from test_check_support import assert_findings, findings

SCHEMA = """
wfdsl: "1"
name: t
input:
  type: object
  properties:
    order: {$ref: "#/$defs/order"}
    lines: {type: array, items: {type: object, properties: {sku: {type: string}}}}
    labels: {type: object, additionalProperties: {type: object, properties: {text: {}}}}
    extra: {type: object, patternProperties: {"^x_": {}}, properties: {}}
    free: {type: object}
    either: {anyOf: [{type: object, properties: {a: {}}}, {type: string}]}
  $defs:
    order: {type: object, properties: {id: {type: string}}}
start: use
states:
  use:
    type: task
    action: log
    args: {message: "READ"}
    end: true
"""


@pytest.mark.parametrize(
    "read",
    [
        pytest.param("input.order.id", id="through-a-local-ref"),
        pytest.param("input.lines[0].sku", id="through-items"),
        pytest.param("input.labels.anything.text", id="through-additional-properties"),
        pytest.param("input.extra.x_color", id="a-pattern-property"),
        pytest.param("input.free.whatever", id="no-properties-at-that-level"),
        pytest.param("input.either.b", id="a-combinator-is-not-guessed"),
        pytest.param("input[input.order.id]", id="a-computed-key"),
        pytest.param("coalesce(input.nickname, 'friend')", id="guarded-by-coalesce"),
        pytest.param("input.nickname if has(input, 'nickname') else ''", id="guarded-by-has"),
    ],
)
def test_reads_the_schema_allows_or_cannot_judge_are_clean(read: str) -> None:
    assert findings(SCHEMA.replace("READ", f"${{ {read} }}")) == []


@pytest.mark.parametrize(
    ("read", "fragment"),
    [
        pytest.param(
            "input.ordr.id",
            "reads input.ordr, but the input schema declares `order`, `lines`, `labels`",
            id="a-top-level-typo",
        ),
        pytest.param(
            "input.order.ids",
            "reads input.order.ids, but the input schema declares `id` there, not `ids`",
            id="inside-a-ref",
        ),
        pytest.param(
            "input.lines[0].skus",
            "reads input.lines[0].skus",
            id="inside-items",
        ),
    ],
)
def test_a_read_of_an_undeclared_field_is_reported_with_a_suggestion(
    read: str, fragment: str
) -> None:
    text = SCHEMA.replace("READ", f"${{ {read} }}")
    (finding,) = findings(text)
    assert finding.code == "WF403" and finding.severity == "warning"
    assert fragment in finding.message
    assert finding.suggestion is not None and "did you mean" in finding.suggestion


def test_without_an_input_schema_nothing_is_checked() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            start: use
            states:
              use: {type: task, action: log, args: {message: "${ input.anything.at.all }"}, end: true}
            """
        )
        == []
    )


def test_the_finding_points_at_the_expression() -> None:
    assert_findings(
        """
        wfdsl: "1"
        name: t
        input: {type: object, properties: {skus: {type: array}}}
        start: use
        states:
          use:
            type: task
            action: log
            args: {message: "${ input.sku }"}  # <- WF403 at "${
            end: true
        """,
        "did you mean",
    )
