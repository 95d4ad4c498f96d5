"""WF213 retry-interval-capped: a first retry delay above the cap.

Every delay is capped at ``max_interval``, so with ``initial_interval``
above it the backoff never shows: ``initial_interval: 1h`` with the default
cap of 100s retries every 100s. That is rarely what the author meant, so it
is said (a warning: the run does what the numbers say).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..durations import format_duration
from ..findings import Finding, JsonPath
from ..model import RetryPolicy
from ..stategraph import iter_scopes
from .context import CheckContext

__all__ = ["check_retries"]


def check_retries(ctx: CheckContext) -> Iterator[Finding]:
    seen: set[JsonPath] = set()
    for info in iter_scopes(ctx.workflow):
        for state in info.scope.states.values():
            policies: tuple[RetryPolicy, ...] = getattr(state, "retry", ())
            for policy in policies:
                if policy.path in seen or policy.initial_interval <= policy.max_interval:
                    continue
                seen.add(policy.path)
                first = format_duration(policy.initial_interval)
                cap = format_duration(policy.max_interval)
                where = (
                    "defaults.retry"
                    if policy.path[:1] == ("defaults",)
                    else f"retry of state '{state.name}'"
                )
                yield ctx.finding(
                    "WF213",
                    f"{where}: initial_interval {first} is above "
                    f"max_interval {cap}, so every retry waits {cap}",
                    (*policy.path, "initial_interval"),
                    suggestion=f"raise max_interval to at least {first}, or lower initial_interval",
                )
