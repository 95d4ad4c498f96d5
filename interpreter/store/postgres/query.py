"""``list_runs(where=...)`` on PostgreSQL.

The expression is parsed and checked by the shared planner (``..query``);
its SQL is SQLite's, so here the expression decides per run, in Python,
over the few columns it can see (the same code the SQLite store uses when
its SQL cannot decide): the results are the same on both backends by
construction.
"""

from __future__ import annotations

from ..query import WherePlan, plan_where

__all__ = ["plan_postgres"]


def plan_postgres(text: str) -> WherePlan:
    """The plan of ``where`` text for this backend (ExpressionError when
    the text is invalid, as on SQLite)."""
    plan = plan_where(text)
    return WherePlan(plan.expression, None, (), exact=False)
