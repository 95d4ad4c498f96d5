"""The seam through which expressions reach the world: time, identifiers, secrets.

The expression language itself is pure. ``now()``, ``today()``, ``uuid()``
and ``secret()`` ask a :class:`Hooks` object, which the interpreter supplies:
its hooks record the values they hand out in the run's history, so
re-evaluating a transition after a crash gives the same answer. Outside a run
(validation, ``wfdsl runs list --where``) :data:`NO_HOOKS` refuses politely;
tests use :class:`FixedHooks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from wfdsl.errors import ExpressionError

__all__ = ["DEFAULT_NOW", "NO_HOOKS", "FixedHooks", "Hooks"]

#: The time FixedHooks reports unless told otherwise: 2024-01-01T00:00:00Z.
DEFAULT_NOW = 1_704_067_200.0


class Hooks(Protocol):
    """What the non-deterministic built-in functions ask for."""

    def now(self) -> float:
        """The current time, in seconds since the Unix epoch (UTC)."""
        ...

    def uuid(self) -> str:
        """A fresh UUID, as text."""
        ...

    def secret(self, name: str) -> str | None:
        """The value of the secret ``name``, or None when it is not set."""
        ...


class _NoHooks:
    """Hooks for evaluation outside a run: every hook is refused."""

    __slots__ = ()

    def now(self) -> float:
        raise ExpressionError("now() is only available inside a run")

    def uuid(self) -> str:
        raise ExpressionError("uuid() is only available inside a run")

    def secret(self, name: str) -> str | None:
        raise ExpressionError("secret() is only available inside a run")

    def __repr__(self) -> str:
        return "NO_HOOKS"


#: The hooks used when none are given: now(), today(), uuid() and secret()
#: raise ExpressionError.
NO_HOOKS: Hooks = _NoHooks()


class FixedHooks:
    """Deterministic hooks for tests and examples.

    ``now`` is the time every now() call returns. ``uuids`` are handed out in
    order (an ExpressionError once they are used up); without them, uuid()
    returns ``00000000-0000-4000-8000-000000000001``, ``...0002`` and so on.
    ``secrets`` maps secret names to values; other names are not set.
    """

    __slots__ = ("_given_uuids", "_issued", "_now", "_secrets")

    def __init__(
        self,
        now: float = DEFAULT_NOW,
        uuids: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self._now = float(now)
        self._given_uuids = tuple(uuids) if uuids is not None else None
        self._secrets = dict(secrets or {})
        self._issued = 0

    def now(self) -> float:
        return self._now

    def uuid(self) -> str:
        self._issued += 1
        if self._given_uuids is None:
            return f"00000000-0000-4000-8000-{self._issued:012d}"
        if self._issued > len(self._given_uuids):
            raise ExpressionError(
                f"uuid(): these FixedHooks hold {len(self._given_uuids)} uuid(s), all used"
            )
        return self._given_uuids[self._issued - 1]

    def secret(self, name: str) -> str | None:
        return self._secrets.get(name)

    def __repr__(self) -> str:
        # Never show secret values, even in a test's failure output.
        return f"FixedHooks(now={self._now!r}, secrets={sorted(self._secrets)!r})"
