"""WF211 unused-catch: a catch entry that an earlier entry always wins over.

The first entry whose ``errors`` match decides (docs/reference.md §3), so an entry
after one that matches ``"*"``, or whose every error an earlier entry
already names, can never be chosen.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..stategraph import iter_scopes
from .context import CheckContext

__all__ = ["check_catches"]


def check_catches(ctx: CheckContext) -> Iterator[Finding]:
    for info in iter_scopes(ctx.workflow):
        for state in info.scope.states.values():
            wildcard: int | None = None
            named: dict[str, int] = {}
            for number, catch in enumerate(getattr(state, "catch", ()), start=1):
                if wildcard is not None:
                    reason = f'entry {wildcard} already matches "*"'
                elif (
                    catch.errors
                    and all(e in named for e in catch.errors if e != "*")
                    and ("*" not in catch.errors)
                ):
                    earlier = sorted({named[e] for e in catch.errors})
                    which = ", ".join(str(n) for n in earlier)
                    errors = ", ".join(catch.errors)
                    reason = f"{errors} {'is' if len(catch.errors) == 1 else 'are'} already caught by entry {which}"
                else:
                    reason = ""
                if reason:
                    yield ctx.finding(
                        "WF211",
                        f"catch entry {number} of state '{state.name}' can never match: {reason}",
                        catch.path,
                        suggestion="remove it, or move it before the entry that catches its errors",
                    )
                if catch.when is not None:
                    continue  # it may not catch: later entries still can
                if "*" in catch.errors and wildcard is None:
                    wildcard = number
                for error in catch.errors:
                    named.setdefault(error, number)
