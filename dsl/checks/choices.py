"""WF206 choice-without-default: a choice must always go somewhere.

A choice without ``default`` is accepted only when the checker can prove
that some ``when`` holds, with a deliberately small proof that a reader can
follow:

- a ``when`` that is the constant true (``when: true`` or ``${ true }``), or
- two ``when``s of which one is ``not X`` and the other is ``X``, compared as
  written (runs of blanks and outer parentheses aside).

Anything cleverer (``x > 1`` and ``x <= 1``) needs a ``default``, which costs
one line and says what happens to the cases nobody thought of.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..expressions import CompiledValue, Constant, Expression
from ..expressions.nodes import Literal, Unary
from ..findings import Finding
from ..model import ChoiceState
from ..stategraph import iter_scopes
from .context import CheckContext

__all__ = ["check_choices", "is_exhaustive"]


def check_choices(ctx: CheckContext) -> Iterator[Finding]:
    for info in iter_scopes(ctx.workflow):
        for state in info.scope.states.values():
            if (
                isinstance(state, ChoiceState)
                and state.default is None
                and not state.end
                and not is_exhaustive(state)
            ):
                yield ctx.finding(
                    "WF206",
                    f"choice '{state.name}' has no `default`, and its conditions may all be false",
                    state.path,
                    key=True,
                    suggestion="add `default: <state>` for when no `when` holds, or `end: true` to end there",
                )


def is_exhaustive(state: ChoiceState) -> bool:
    """Whether some ``when`` of ``state`` always holds, by the proof above."""
    plain: set[str] = set()
    negated: set[str] = set()
    for rule in state.choices:
        if _always_true(rule.when):
            return True
        if isinstance(rule.when, Expression):
            tree = rule.when.program.tree
            if isinstance(tree, Unary) and tree.operator == "not":
                negated.add(_normal(rule.when.source[tree.operand.start : tree.operand.end]))
            plain.add(_normal(rule.when.source[tree.start : tree.end]))
    return bool(plain & negated)


def _always_true(when: CompiledValue) -> bool:
    if isinstance(when, Constant):
        return when.value is True
    if isinstance(when, Expression):
        tree = when.program.tree
        return isinstance(tree, Literal) and tree.value is True
    return False


def _normal(text: str) -> str:
    """The text with runs of blanks as one space and no parentheses around all of it."""
    text = " ".join(text.split())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0
