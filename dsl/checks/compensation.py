"""WF210 compensate-without-undo: compensation asked for, but nothing to undo.

A ``compensate`` state and a ``fail`` with ``compensate: true`` undo the
tasks of their own scope (a branch or map body undoes its own tasks,
docs/reference.md §5), so they need a task with ``undo`` in that scope or in the branches and
bodies nested in it. At the top level, and for ``compensate_on_failure``,
every task of the run counts.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import CompensateState, FailState, Scope, TaskState, iter_states
from ..stategraph import describe_scope, iter_scopes
from .context import CheckContext

__all__ = ["check_compensation"]


def check_compensation(ctx: CheckContext) -> Iterator[Finding]:
    workflow = ctx.workflow
    if workflow.compensate_on_failure and not _has_undo(workflow.root):
        yield ctx.finding(
            "WF210",
            "`compensate_on_failure` is set, but no task of the workflow has an `undo`: "
            "a failure would have nothing to compensate",
            ("compensate_on_failure",),
            suggestion="give the tasks that change something an `undo`, or drop the key",
        )
    for info in iter_scopes(workflow):
        if _has_undo(info.scope):
            continue
        where = "the workflow" if info.is_root else describe_scope(info)
        for state in info.scope.states.values():
            if isinstance(state, CompensateState):
                yield ctx.finding(
                    "WF210",
                    f"compensate state '{state.name}' runs the undo actions of {where}, "
                    "but no task there has an `undo`",
                    state.path,
                    key=True,
                    suggestion="add an `undo` to the tasks that change something",
                )
            elif isinstance(state, FailState) and state.compensate:
                yield ctx.finding(
                    "WF210",
                    f"fail state '{state.name}' has `compensate: true`, but no task of {where} "
                    "has an `undo`",
                    (*state.path, "compensate"),
                    suggestion="add an `undo` to the tasks that change something, "
                    "or drop `compensate: true`",
                )


def _has_undo(scope: Scope) -> bool:
    return any(isinstance(s, TaskState) and s.undo is not None for _, s in iter_states(scope))
