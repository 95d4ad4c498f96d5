"""WF209 invalid-join: ``join: {count: N}`` must be between 1 and the number of branches.

A count above the number of branches can never be met, so the parallel
state would wait forever; a count below 1 would complete before anything
ran. (``concurrency`` of a map is bounded by the schema, minimum 1.)
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import ParallelState
from ..stategraph import iter_scopes
from .context import CheckContext

__all__ = ["check_joins"]


def check_joins(ctx: CheckContext) -> Iterator[Finding]:
    for info in iter_scopes(ctx.workflow):
        for state in info.scope.states.values():
            if not isinstance(state, ParallelState) or state.join.kind != "count":
                continue
            count = state.join.count
            branches = len(state.branches)
            if count is None or 1 <= count <= branches:
                continue
            if count < 1:
                problem = "would complete before any branch has"
            else:
                problem = "can never be met: the state would wait forever"
            noun = "branch" if branches == 1 else "branches"
            yield ctx.finding(
                "WF209",
                f"parallel '{state.name}' joins on {count} of its {branches} {noun}, which {problem}",
                (*state.path, "join", "count"),
                suggestion=f"use a count from 1 to {branches}, or `join: all`",
            )
