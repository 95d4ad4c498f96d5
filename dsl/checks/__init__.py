"""The checks beyond the JSON Schema (docs/findings.md): one small generator per concern.

The pipeline compiles a document into a :class:`~wfdsl.dsl.model.Workflow`
and calls :func:`run_checks`, which runs every check of :data:`ALL_CHECKS`
and yields every finding (not only the first), each with its file, 1-based
line and column from the source map, JSON path and, where it helps, a
suggestion. Checks never raise for a bad document and never repeat each
other: the graph checks leave out the knock-ons of a broken graph.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from .catches import check_catches
from .choices import check_choices
from .compensation import check_compensation
from .context import Check, CheckContext
from .cycles import check_cycles
from .dataflow import check_dataflow
from .ends import check_ends
from .expressions import check_expressions
from .inputs import check_inputs
from .joins import check_joins
from .reachability import check_reachability
from .retries import check_retries
from .signals import check_signals
from .targets import check_targets

__all__ = ["ALL_CHECKS", "Check", "CheckContext", "run_checks"]

#: Every check, in the order the pipeline runs them (findings are sorted afterwards).
ALL_CHECKS: tuple[Check, ...] = (
    check_targets,
    check_ends,
    check_reachability,
    check_choices,
    check_cycles,
    check_joins,
    check_compensation,
    check_catches,
    check_retries,
    check_expressions,
    check_signals,
    check_dataflow,
    check_inputs,
)


def run_checks(ctx: CheckContext) -> Iterator[Finding]:
    """Every finding of every check in :data:`ALL_CHECKS`, check by check."""
    for check in ALL_CHECKS:
        yield from check(ctx)
