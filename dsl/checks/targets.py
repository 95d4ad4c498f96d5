"""WF201 unknown-target and WF205 next-leaves-branch.

A target that exists nowhere is WF201, with did-you-mean over the states of
the scope it must be in. A target that names a state of another scope (an
enclosing one, a sibling branch, a map body) is WF205 from inside a branch or
map body, because the name is right but ``next`` cannot leave a branch; from
the top level it is WF201 saying which branch holds the name, since nothing
can jump into a branch either.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..source import JsonPath
from ..stategraph import ScopeInfo, describe_scope, iter_scopes, targets
from ..suggest import did_you_mean
from .context import CheckContext

__all__ = ["check_targets"]


def check_targets(ctx: CheckContext) -> Iterator[Finding]:
    scopes = list(iter_scopes(ctx.workflow))
    homes: dict[str, list[ScopeInfo]] = {}
    for info in scopes:
        for name in info.scope.states:
            homes.setdefault(name, []).append(info)
    for info in scopes:
        scope = info.scope
        # An empty start is a missing key (WF103), and a target the document
        # holds but the compiler left out has a schema finding already.
        if (
            scope.start
            and scope.start not in scope.states
            and not _in_document(ctx, info, scope.start)
        ):
            yield _unknown(ctx, info, homes, scope.start, (*scope.path, "start"), "`start`", "is")
        for state in scope.states.values():
            for target, path, label in targets(state):
                if target not in scope.states and not _in_document(ctx, info, target):
                    yield _unknown(ctx, info, homes, target, path, label, "goes to")


def _in_document(ctx: CheckContext, info: ScopeInfo, name: str) -> bool:
    return ctx.source_map.node((*info.scope.path, "states", name)) is not None


def _unknown(
    ctx: CheckContext,
    info: ScopeInfo,
    homes: dict[str, list[ScopeInfo]],
    target: str,
    path: JsonPath,
    who: str,
    verb: str,
) -> Finding:
    where = describe_scope(info)
    elsewhere = homes.get(target, [])
    if elsewhere and not info.is_root:
        return ctx.finding(
            "WF205",
            f"{who} in {where} {verb} '{target}', a state of {describe_scope(elsewhere[0])}: "
            "`next` never leaves a branch or map body",
            path,
            suggestion="end the branch here (a `succeed` state or `end: true`) and go on "
            "from the parallel or map state's own `next`",
        )
    if elsewhere:
        return ctx.finding(
            "WF201",
            f"{who} {verb} '{target}', which is a state of {describe_scope(elsewhere[0])}, "
            f"not of {where}: a `next` cannot enter a branch or map body",
            path,
        )
    scope_text = "" if info.is_root else f" in {where}"
    return ctx.finding(
        "WF201",
        f"{who}{scope_text} {verb} '{target}', but there is no state '{target}'{scope_text}",
        path,
        suggestion=did_you_mean(target, info.scope.states),
    )
