"""Every place in a workflow that holds expressions, with what each place may read.

Names in scope (docs/expressions.md), as the checks apply them:

- ``input``, ``vars`` and ``run`` everywhere, except the initial ``vars``,
  which are computed before any var exists and see ``input`` and ``run`` only;
- ``result`` in the ``set`` of a task (the action's return value) and nowhere
  else, not even the task's ``args``;
- ``token`` (its callback token) in the ``args`` of a task with ``callback``;
- ``args`` in a handler's ``when``, ``set``, ``emit`` and ``return``;
- a map's ``as`` name and ``index`` inside its ``do`` body (nested bodies see
  the names of every enclosing map);
- ``error`` (``{error, message, details}``) only in a catch entry's ``when``:
  the state a catch leads to may also be entered another way, so there a
  caught error is read through the catch's ``as`` var (``vars.failure.message``).

``timing`` says when the place is evaluated, which is what the dataflow
check needs: on entering ``state`` (``entry``: args, conditions, ``set``,
outputs...), when it completes (``exit``: a task's ``undo`` args, after its
``result`` and ``set``; they may also read ``result``), at the start of the run (``start``), at its end (``end``, the
workflow's ``output``), or at any moment (``any``: search attributes after
every transition, handlers whenever they are called).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .expressions import CompiledValue
from .model import (
    Assignment,
    ChoiceState,
    EmitState,
    FailState,
    MapState,
    State,
    SubflowState,
    SucceedState,
    TaskState,
    TimerWait,
    UntilWait,
    WaitState,
    Workflow,
)
from .source import JsonPath
from .stategraph import ScopeInfo, iter_scopes, wait_nodes

__all__ = ["BASE_NAMES", "Site", "Timing", "iter_sites"]

BASE_NAMES: frozenset[str] = frozenset({"input", "vars", "run"})

Timing = Literal["entry", "exit", "start", "end", "any"]


@dataclass(frozen=True, slots=True)
class Site:
    """One compiled value that may hold expressions."""

    path: JsonPath
    value: CompiledValue
    names: frozenset[str]
    where: str
    timing: Timing
    state: State | None = None
    scope: ScopeInfo | None = None
    #: Map item names in scope here -> the map state that provides them.
    locals: Mapping[str, str] = field(default_factory=dict)


def iter_sites(workflow: Workflow) -> Iterator[Site]:
    """Every site of the workflow, the document's top-level keys first."""
    if workflow.vars is not None:
        yield Site(
            ("vars",), workflow.vars, frozenset({"input", "run"}), "the initial `vars`", "start"
        )
    for name, value in workflow.search.items():
        yield Site(("search", name), value, BASE_NAMES, f"search attribute '{name}'", "any")
    if workflow.output is not None:
        yield Site(("output",), workflow.output, BASE_NAMES, "the workflow's `output`", "end")
    handler_names = BASE_NAMES | {"args"}
    for name, handler in workflow.handlers.items():
        where = f"handler '{name}'"
        base = handler.path or ("handlers", name)
        if handler.when is not None:
            yield Site((*base, "when"), handler.when, handler_names, where, "any")
        for assignment in handler.set:
            yield Site(_set_path(base, assignment), assignment.value, handler_names, where, "any")
        if handler.emit is not None:
            if handler.emit.data is not None:
                yield Site((*base, "emit", "data"), handler.emit.data, handler_names, where, "any")
            if handler.emit.run is not None:
                yield Site((*base, "emit", "run"), handler.emit.run, handler_names, where, "any")
        if handler.returns is not None:
            yield Site((*base, "return"), handler.returns, handler_names, where, "any")
    for info in iter_scopes(workflow):
        locals_: dict[str, str] = {}
        for owner, _ in info.owners:
            if isinstance(owner, MapState):
                locals_[owner.as_] = owner.name
                locals_["index"] = owner.name
        names = BASE_NAMES | frozenset(locals_)
        for state in info.scope.states.values():
            for path, value, extra in _state_values(state):
                undo = (
                    isinstance(state, TaskState)
                    and state.undo is not None
                    and (value is state.undo.args)
                )
                yield Site(
                    path,
                    value,
                    names | extra,
                    f"state '{state.name}'",
                    "exit" if undo else "entry",
                    state,
                    info,
                    locals_,
                )


def _state_values(state: State) -> Iterator[tuple[JsonPath, CompiledValue, frozenset[str]]]:
    none: frozenset[str] = frozenset()
    base = state.path
    if isinstance(state, TaskState):
        if state.args is not None:
            token = frozenset({"token"}) if state.callback is not None else none
            yield (*base, "args"), state.args, token
        if state.cache is not None and state.cache.key is not None:
            yield (*(state.cache.path or (*base, "cache")), "key"), state.cache.key, none
        if state.undo is not None and state.undo.args is not None:
            after = frozenset({"result"})
            yield (*(state.undo.path or (*base, "undo")), "args"), state.undo.args, after
    elif isinstance(state, ChoiceState):
        for rule in state.choices:
            yield (*rule.path, "when"), rule.when, none
    elif isinstance(state, WaitState):
        for node in wait_nodes(state.condition):
            if isinstance(node, TimerWait) and node.seconds_expr is not None:
                yield (*node.path, "timer"), node.seconds_expr, none
            elif isinstance(node, UntilWait) and node.at_expr is not None:
                yield (*node.path, "until"), node.at_expr, none
    elif isinstance(state, MapState):
        yield (*base, "items"), state.items, none
    elif isinstance(state, EmitState):
        if state.data is not None:
            yield (*base, "data"), state.data, none
        if state.run is not None:
            yield (*base, "run"), state.run, none
    elif isinstance(state, SubflowState):
        if state.input is not None:
            yield (*base, "input"), state.input, none
    elif isinstance(state, SucceedState):
        if state.output is not None:
            yield (*base, "output"), state.output, none
    elif isinstance(state, FailState):
        yield (*base, "error"), state.error, none
        if state.message is not None:
            yield (*base, "message"), state.message, none
    in_set = frozenset({"result"}) if isinstance(state, TaskState) else none
    for assignment in state.set:
        yield _set_path(base, assignment), assignment.value, in_set
    for catch in getattr(state, "catch", ()):
        if catch.when is not None:
            yield (*catch.path, "when"), catch.when, frozenset({"error"})


def _set_path(base: JsonPath, assignment: Assignment) -> JsonPath:
    return assignment.path or (*base, "set", assignment.target.text)
