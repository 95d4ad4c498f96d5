"""WF501 undeclared-signal and WF506 unused-signal.

Once ``signals`` declares any channel, every channel this run waits on or
sends to itself (an ``emit`` state or a handler's ``emit`` without ``run``)
must be declared (docs/reference.md §1). An emit to another run (``run:`` given) names
that run's channel, which this document cannot know, so it is not checked.
A declared channel that no wait of the run consumes is reported as info.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import EmitState, SignalWait, WaitState
from ..source import JsonPath
from ..stategraph import iter_scopes, wait_nodes
from ..suggest import did_you_mean
from .context import CheckContext

__all__ = ["check_signals"]


def check_signals(ctx: CheckContext) -> Iterator[Finding]:
    workflow = ctx.workflow
    declared = workflow.signals
    waited: set[str] = set()
    uses: list[tuple[str, str, JsonPath]] = []
    for name, handler in workflow.handlers.items():
        if handler.emit is not None and handler.emit.run is None:
            uses.append(
                (handler.emit.signal, f"handler '{name}' emits", (*handler.path, "emit", "signal"))
            )
    for info in iter_scopes(workflow):
        for state in info.scope.states.values():
            if isinstance(state, WaitState):
                for node in wait_nodes(state.condition):
                    if isinstance(node, SignalWait):
                        waited.add(node.channel)
                        uses.append(
                            (node.channel, f"wait '{state.name}' waits on", (*node.path, "signal"))
                        )
            elif isinstance(state, EmitState) and state.run is None:
                uses.append((state.signal, f"emit '{state.name}' sends", (*state.path, "signal")))
    if not declared:
        return
    for channel, what, path in uses:
        if channel not in declared:
            known = ", ".join(f"'{n}'" for n in declared)
            yield ctx.finding(
                "WF501",
                f"{what} signal '{channel}', which `signals` does not declare (declared: {known})",
                path,
                suggestion=did_you_mean(channel, declared)
                or f"declare '{channel}' under `signals`",
            )
    for name, decl in declared.items():
        if name not in waited:
            yield ctx.finding(
                "WF506",
                f"signal '{name}' is declared but nothing in this workflow waits on it",
                decl.path or ("signals", name),
                key=True,
            )
