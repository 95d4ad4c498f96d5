"""WF204 next-or-end: every state that completes says where its thread goes.

Exactly one of ``next`` and ``end: true`` is required for every state type
except ``choice``, ``succeed``, ``fail`` and a ``wait`` whose every ``any``
alternative names its own ``next``. Each branch of a ``choice`` names one
of ``next`` and ``end: true``, and the choice itself at most one of
``default`` and ``end: true``. A ``next`` or ``end`` on a succeed or fail
(or a ``next`` on a choice) is a key the schema does not allow; the schema
stage reports that one, so it is not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import ChoiceState
from ..source import JsonPath
from ..stategraph import choice_rule_problems, iter_scopes, next_or_end_problem
from .context import CheckContext

__all__ = ["check_ends"]


def check_ends(ctx: CheckContext) -> Iterator[Finding]:
    for info in iter_scopes(ctx.workflow):
        for state in info.scope.states.values():
            if isinstance(state, ChoiceState):
                yield from _choice(ctx, state)
                continue
            problem = next_or_end_problem(state)
            if problem == "both":
                yield ctx.finding(
                    "WF204",
                    f"state '{state.name}' has both `next: {state.next}` and `end: true`: "
                    "a thread either goes on or ends",
                    state.path,
                    key=True,
                    suggestion="keep one of them",
                )
            elif problem == "neither":
                end_path = (*state.path, "end")
                written = _written(ctx, end_path)
                if ctx.source_map.node((*state.path, "next")) is not None or (
                    written is not None and written != "false"
                ):
                    continue  # a `next` or `end` of the wrong type: the schema's WF104
                if written == "false":
                    yield ctx.finding(
                        "WF204",
                        f"state '{state.name}' has `end: false` and no `next`: "
                        "`end: false` does not say where to go",
                        end_path,
                        suggestion="write `next: <state>`, or `end: true` to end the thread here",
                    )
                else:
                    yield ctx.finding(
                        "WF204",
                        f"state '{state.name}' ({state.type}) has neither `next` nor `end`",
                        state.path,
                        key=True,
                        suggestion="add `next: <state>`, or `end: true` to end the thread here",
                    )


def _choice(ctx: CheckContext, state: ChoiceState) -> Iterator[Finding]:
    for number, problem in choice_rule_problems(state):
        rule = state.choices[number - 1]
        where = f"choice {number} of state '{state.name}'"
        if problem == "both":
            yield ctx.finding(
                "WF204",
                f"{where} has both `next: {rule.next}` and `end: true`: "
                "a branch either goes on or ends",
                rule.path,
                suggestion="keep one of them",
            )
        else:
            yield ctx.finding(
                "WF204",
                f"{where} has neither `next` nor `end`",
                rule.path,
                suggestion="add `next: <state>`, or `end: true` to end the thread there",
            )
    if next_or_end_problem(state) == "both":
        yield ctx.finding(
            "WF204",
            f"choice '{state.name}' has both `default: {state.default}` and `end: true`: "
            "when no branch holds, it either goes on or ends",
            state.path,
            key=True,
            suggestion="keep one of them",
        )


def _written(ctx: CheckContext, path: JsonPath) -> str | None:
    """The source text of a one-line scalar at ``path`` (lower case), or None when absent."""
    node = ctx.source_map.node(path)
    if node is None:
        return None
    span = node.value
    lines = ctx.workflow.source_text.splitlines()
    if span.line > len(lines) or (span.end_line is not None and span.end_line != span.line):
        return ""
    line = lines[span.line - 1]
    end = span.end_col - 1 if span.end_col is not None else len(line)
    return line[span.col - 1 : end].strip().lower()
