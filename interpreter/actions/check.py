"""Which actions a workflow names that a process cannot call.

``wfdsl run`` drives the run it submits, so it refuses up front, before
anything is stored, a flow whose tasks (or undos) name an action registered
nowhere in the process: not in its ``--actions`` modules, the flow's
``imports:``, an entry point, nor the built-ins. A worker never refuses: a
call it cannot make is left for a process that has the action (capability
routing, ``engine_loop.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from wfdsl.dsl.model import TaskState, Workflow, iter_states

__all__ = ["MissingAction", "missing_actions", "missing_in_process"]


@dataclass(frozen=True, slots=True)
class MissingAction:
    """An action the workflow names at ``file:line:col`` that is not available."""

    action: str
    state: str
    where: str


def missing_actions(workflow: Workflow, available: Collection[str]) -> list[MissingAction]:
    """Every use of an action outside ``available``, in document order."""
    found: list[MissingAction] = []
    source = workflow.source_map
    file = workflow.file or source.file or "<document>"
    for _scope, state in iter_states(workflow.root):
        if not isinstance(state, TaskState):
            continue
        uses = [(state.action, (*state.path, "action"))]
        if state.undo is not None:
            undo_path = state.undo.path or (*state.path, "undo")
            uses.append((state.undo.action, (*undo_path, "action")))
        for action, path in uses:
            if action in available:
                continue
            span = source.locate(path)
            found.append(MissingAction(action, state.name, f"{file}:{span.line}:{span.col}"))
    return found


def missing_in_process(workflow: Workflow, *, allow_shell: bool = False) -> list[MissingAction]:
    """Every use of an action no engine of this process could call (the
    process-wide registry, the workflow's ``imports:``, entry points, the
    built-ins; ``shell`` only with ``allow_shell``): what
    ``Engine.missing_actions`` answers for an engine without actions of its
    own, without opening a store, so that ``wfdsl run`` refuses such a flow
    before it creates one."""
    from .registry import load_modules
    from .runner import ActionRunner

    if workflow.imports:
        load_modules(workflow.imports, origin=f"imports: of {workflow.name}")
    return missing_actions(workflow, ActionRunner(allow_shell=allow_shell).available())
