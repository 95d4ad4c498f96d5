"""Expression scopes, var-path writes, deterministic hooks and secret redaction.

Nothing here changes a value in place: ``write_path`` copies the maps along
the written path, so a thread's ``vars`` can be shared with a branch forked
from it and with the caller's :class:`RunRow` without a deep copy.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping
from typing import Any

from wfdsl.dsl.model import MapState, ParallelState, Scope, Workflow

__all__ = [
    "Failure",
    "LimitExceeded",
    "RunHooks",
    "redact",
    "scope_index",
    "write_path",
]

#: uuid() values are uuid5 names in this namespace: uuid5(NS, "run/seq/n").
UUID_NAMESPACE = _uuid.UUID("6f0c4d52-5a1e-4c53-9d0b-7d8f3c1a2b90")


class Failure(Exception):
    """A state failed with a DSL error name (``ExpressionError``, ``NoChoiceMatched``...)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


class LimitExceeded(Exception):
    """A bound on the data of a transition was hit (docs/guarantees.md §8):
    the whole transition is refused and the run fails with ``LimitExceeded``,
    which no ``catch`` sees."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------- scope index

_INDEX: dict[int, tuple[Workflow, dict[str, Scope]]] = {}


def scope_index(workflow: Workflow) -> dict[str, Scope]:
    """Scope key -> Scope: ``""`` the root, ``"fan_out/notify"`` a branch,
    ``"charge_lines"`` a map body (keys nest: ``"p/b/m"``). Cached per workflow."""
    cached = _INDEX.get(id(workflow))
    if cached is not None and cached[0] is workflow:
        return cached[1]
    index: dict[str, Scope] = {}
    _walk(workflow.root, "", index)
    if len(_INDEX) > 256:
        _INDEX.clear()
    _INDEX[id(workflow)] = (workflow, index)
    return index


def _walk(scope: Scope, key: str, index: dict[str, Scope]) -> None:
    index[key] = scope
    prefix = f"{key}/" if key else ""
    for name, state in scope.states.items():
        if isinstance(state, ParallelState):
            for branch in state.branches:
                _walk(branch.scope, f"{prefix}{name}/{branch.name}", index)
        elif isinstance(state, MapState):
            _walk(state.do, f"{prefix}{name}", index)


# ------------------------------------------------------------------ writes


def write_path(root: Mapping[str, Any], parts: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``root`` with ``value`` at ``parts``; maps along the path are
    copied (missing ones created), everything else is shared."""
    new = dict(root)
    head = parts[0]
    if len(parts) == 1:
        new[head] = value
        return new
    child = root.get(head)
    if child is None:
        child = {}
    elif not isinstance(child, Mapping):
        raise Failure(
            "ExpressionError",
            f"cannot write vars.{'.'.join(parts)}: vars.{head} holds a {_kind(child)}, not a map",
        )
    new[head] = write_path(child, parts[1:], value)
    return new


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


# ------------------------------------------------------------------ hooks


class RunHooks:
    """now() is the trigger's time; uuid() a uuid5 of (run id, history seq,
    counter), so evaluating the same transition again hands out the same
    values. Values handed out are collected and recorded in the next event."""

    __slots__ = (
        "_n",
        "_now",
        "_read_secrets",
        "_run_id",
        "_secrets",
        "_seq",
        "used_now",
        "used_secrets",
        "used_uuids",
    )

    def __init__(self, run_id: str, now: float, secrets: Mapping[str, str]) -> None:
        self._run_id = run_id
        self._now = now
        self._secrets = secrets
        self._seq = -1
        self._n = 0
        self.used_now = False
        self.used_uuids: list[str] = []
        self.used_secrets = False
        self._read_secrets: list[str] = []

    def at_seq(self, seq: int) -> None:
        """The history position evaluation happens at (names the uuids)."""
        if seq != self._seq:
            self._seq = seq
            self._n = 0

    def now(self) -> float:
        self.used_now = True
        return self._now

    def uuid(self) -> str:
        self._n += 1
        value = str(_uuid.uuid5(UUID_NAMESPACE, f"{self._run_id}/{self._seq}/{self._n}"))
        self.used_uuids.append(value)
        return value

    def secret(self, name: str) -> str | None:
        self.used_secrets = True
        value = self._secrets.get(name)
        if value:
            self._read_secrets.append(value)
        return value

    def dynamic_secret_values(self, known: tuple[str, ...]) -> tuple[str, ...]:
        """Secret values read in this transition under names not known
        statically (``secret(vars.name)``), to redact as well."""
        return tuple(v for v in self._read_secrets if v not in known)

    def take_record(self) -> dict[str, Any] | None:
        """What now()/uuid() handed out since the last call, for event data."""
        if not self.used_now and not self.used_uuids:
            return None
        record: dict[str, Any] = {}
        if self.used_now:
            record["now"] = self._now
        if self.used_uuids:
            record["uuids"] = self.used_uuids
        self.used_now = False
        self.used_uuids = []
        return record


def redact(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every occurrence of a secret's text replaced by ``***``."""
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, Mapping):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, secrets) for item in value]
    return value
