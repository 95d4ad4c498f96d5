"""WF302 unknown-function, WF303 unknown-name, WF304 wrong-arguments.

Which names each place may read is decided in :mod:`wfdsl.dsl.sites`. Findings point
at the YAML scalar that holds the expression (where the corpus and editors
expect them); the message quotes the expression so a string with several
``${ }`` still says which one.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..expressions import BUILTIN_FUNCTIONS, Expression
from ..findings import Finding
from ..model import MapState, iter_states
from ..sites import Site, iter_sites
from ..source import JsonPath
from ..suggest import did_you_mean
from .context import CheckContext

__all__ = ["check_expressions"]


def check_expressions(ctx: CheckContext) -> Iterator[Finding]:
    map_names = {
        name: state.name
        for _, state in iter_states(ctx.workflow.root)
        if isinstance(state, MapState)
        for name in (state.as_, "index")
    }
    for site in iter_sites(ctx.workflow):
        for inner, _, expression in site.value.expressions():
            path = (*site.path, *inner)
            yield from _calls(ctx, site, expression, path)
            reported: set[str] = set()
            for use in expression.name_uses:
                if use.name in site.names or use.name in reported:
                    continue
                reported.add(use.name)
                yield _unknown_name(ctx, site, expression, path, use.name, map_names)


def _calls(
    ctx: CheckContext, site: Site, expression: Expression, path: JsonPath
) -> Iterator[Finding]:
    quoted = f"`${{ {expression.source} }}`"
    for call in expression.calls:
        spec = BUILTIN_FUNCTIONS.get(call.name)
        if spec is None:
            yield ctx.finding(
                "WF302",
                f"{site.where} calls {call.name}() in {quoted}, which is not a built-in function",
                path,
                suggestion=did_you_mean(call.name, BUILTIN_FUNCTIONS),
            )
        elif not spec.accepts(call.arg_count):
            given = f"{call.arg_count} argument{'' if call.arg_count == 1 else 's'}"
            yield ctx.finding(
                "WF304",
                f"{site.where} calls {call.name}() with {given} in {quoted}; "
                f"it takes {spec.arity()}: {spec.signature}",
                path,
            )


def _unknown_name(
    ctx: CheckContext,
    site: Site,
    expression: Expression,
    path: JsonPath,
    name: str,
    map_names: dict[str, str],
) -> Finding:
    head = f"{site.where} reads `{name}` in `${{ {expression.source} }}`"
    suggestion: str | None = None
    if name == "result":
        why = "`result` (the action's return value) is only in scope in a task's `set`"
        suggestion = "store it with `result: <var>` and read `vars.<var>`"
    elif name == "token":
        why = "`token` (a callback token) is only in scope in the `args` of a task with `callback`"
        suggestion = "add `callback: true` to the task, then pass `${ token }` in its args"
    elif name == "args":
        why = "`args` (the call's data) is only in scope in a handler"
    elif name == "error":
        why = "`error` is not in scope: a catch stores the error in the var its `as` names"
        suggestion = "add `as: failure` to the catch entry and read `vars.failure.message`"
    elif name == "vars" and site.timing == "start":
        why = "the initial `vars` are computed before any var exists, from `input` and `run`"
    elif name in map_names:
        what = "the item" if name != "index" else "the item's index"
        why = (
            f"`{name}` is {what} of map '{map_names[name]}' and is only in scope "
            "inside its `do` body"
        )
    else:
        known = ", ".join(f"`{n}`" for n in sorted(site.names))
        why = f"no such name is in scope there (names: {known})"
        suggestion = did_you_mean(name, site.names)
    return ctx.finding("WF303", f"{head}: {why}", path, suggestion=suggestion)
