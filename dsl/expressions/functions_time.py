"""Built-in functions that touch time and the outside world.

now(), today(), uuid() and secret() get their values from the Hooks, never
from the machine: the interpreter's hooks record them in the run's history.
duration(), timestamp() and format_time() are pure. Times are numbers of
seconds since the Unix epoch, so ``now() + duration('1h')`` is arithmetic.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from wfdsl.errors import ExpressionError

from ..durations import parse_duration, parse_timestamp
from .data import NUMBER, STRING, describe, kind_of
from .function_spec import FunctionSpec, expect_string
from .hooks import Hooks

__all__ = ["TIME_FUNCTIONS"]

DEFAULT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MAX_FORMAT_LENGTH = 1_000
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _whole_if_possible(seconds: float) -> int | float:
    """3600.0 as 3600, so durations and times render without a stray '.0'."""
    return int(seconds) if seconds.is_integer() and abs(seconds) < 2**53 else seconds


def _now(hooks: Hooks) -> float:
    moment = hooks.now()
    if (
        isinstance(moment, bool)
        or not isinstance(moment, (int, float))
        or not math.isfinite(moment)
    ):
        raise ExpressionError("now(): the run's clock gave something that is not a time")
    return float(moment)


def _today(hooks: Hooks) -> str:
    return _utc(_now(hooks), "today").date().isoformat()


def _utc(seconds: float, function: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ExpressionError(
            f"{function}(): {seconds!r} seconds is outside the years 1 to 9999"
        ) from None


def _duration(value: Any) -> int | float:
    if kind_of(value) not in (NUMBER, STRING):
        raise ExpressionError(
            f"duration() expects a string such as '1h30m' or a number, got {describe(value)}"
        )
    try:
        seconds = parse_duration(str(value) if kind_of(value) == STRING else value)
    except ValueError as error:
        raise ExpressionError(f"duration(): {error}") from None
    return _whole_if_possible(seconds)


def _seconds(value: Any, function: str) -> float:
    """Epoch seconds from a number (as is) or an ISO 8601 string."""
    kind = kind_of(value)
    if kind == NUMBER:
        return float(value)
    if kind == STRING:
        try:
            return float(parse_timestamp(str(value)).timestamp())
        except (ValueError, OverflowError) as error:
            raise ExpressionError(f"{function}(): {error}") from None
    raise ExpressionError(
        f"{function}() expects an ISO 8601 string or a number of seconds, got {describe(value)}"
    )


def _timestamp(value: Any) -> int | float:
    return _whole_if_possible(_seconds(value, "timestamp"))


def _format_time(moment: Any, pattern: Any = DEFAULT_TIME_FORMAT) -> str:
    fmt = expect_string("format_time", pattern, 1)
    if len(fmt) > _MAX_FORMAT_LENGTH:
        raise ExpressionError(
            f"format_time(): the format is longer than {_MAX_FORMAT_LENGTH} characters"
        )
    when = _utc(_seconds(moment, "format_time"), "format_time")
    try:
        return when.strftime(fmt)
    except ValueError as error:
        raise ExpressionError(f"format_time(): bad format: {error}") from None


def _uuid(hooks: Hooks) -> str:
    value = hooks.uuid()
    if not isinstance(value, str):
        raise ExpressionError("uuid(): the run gave something that is not text")
    return value


def _secret(hooks: Hooks, name: Any) -> str:
    key = expect_string("secret", name)
    if not _SECRET_NAME.fullmatch(key):
        raise ExpressionError(
            "secret() expects a name made of letters, digits and underscores, such as 'API_TOKEN'"
        )
    value = hooks.secret(key)
    if value is None:
        raise ExpressionError(f"secret {key!r} is not set")
    if not isinstance(value, str):
        raise ExpressionError(f"secret {key!r} is not text")
    return value


TIME_FUNCTIONS: dict[str, FunctionSpec] = {
    "now": FunctionSpec(
        0,
        0,
        "now()",
        "the current time in seconds since the epoch (UTC)",
        _now,
        uses_hooks=True,
        deterministic=False,
    ),
    "today": FunctionSpec(
        0,
        0,
        "today()",
        "the current date in UTC as 'YYYY-MM-DD'",
        _today,
        uses_hooks=True,
        deterministic=False,
    ),
    "duration": FunctionSpec(
        1, 1, "duration(d)", "the number of seconds in a duration such as '1h30m'", _duration
    ),
    "timestamp": FunctionSpec(
        1,
        1,
        "timestamp(t)",
        "seconds since the epoch for an ISO 8601 time (naive means UTC)",
        _timestamp,
    ),
    "format_time": FunctionSpec(
        1,
        2,
        f"format_time(t, fmt='{DEFAULT_TIME_FORMAT}')",
        "the time t (seconds or ISO 8601) written in UTC with a strftime format",
        _format_time,
    ),
    "uuid": FunctionSpec(
        0, 0, "uuid()", "a new random UUID as text", _uuid, uses_hooks=True, deterministic=False
    ),
    "secret": FunctionSpec(
        1,
        1,
        "secret(name)",
        "the secret called name; never written to history or logs",
        _secret,
        uses_hooks=True,
        deterministic=False,
    ),
}
