"""Durations and timestamps as documents write them (docs/reference.md §7).

Durations: ``500ms``, ``10s``, ``5m``, ``2h``, ``1d``, ``1w``, combinations
from the largest unit to the smallest (``1h30m``, ``1d 12h``), ISO 8601
(``PT1H30M``, ``P1DT2H``, ``P2W``), or a number of seconds (``90``, ``1.5``,
``"90"``). Timestamps: ISO 8601; naive ones are UTC.

Pure functions: nothing here reads a clock.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

__all__ = ["format_duration", "parse_duration", "parse_timestamp"]

_UNIT_SECONDS = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_UNIT_ORDER = ("w", "d", "h", "m", "s", "ms")

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_BARE_NUMBER = re.compile(rf"{_NUMBER}(?:[eE][+-]?[0-9]+)?")
_COMPONENT = re.compile(rf"\s*({_NUMBER})\s*(ms|w|d|h|m|s)\s*")
_ISO = re.compile(
    r"P(?!$)(?:(?P<years>[0-9.,]+)Y)?(?:(?P<months>[0-9.,]+)M)?(?:(?P<weeks>[0-9.,]+)W)?"
    r"(?:(?P<days>[0-9.,]+)D)?"
    r"(?:T(?=[0-9.,])(?:(?P<hours>[0-9.,]+)H)?(?:(?P<minutes>[0-9.,]+)M)?(?:(?P<seconds>[0-9.,]+)S)?)?"
)
_ISO_SECONDS = {
    "weeks": 604_800.0,
    "days": 86_400.0,
    "hours": 3_600.0,
    "minutes": 60.0,
    "seconds": 1.0,
}

_ACCEPTED = (
    "a number of seconds (90, 1.5), a duration such as 500ms, 10s, 5m, 2h, 1d, 1w or "
    "1h30m, or ISO 8601 such as PT1H30M"
)


def _invalid(text: object, reason: str = "") -> ValueError:
    shown = repr(text) if len(repr(text)) <= 60 else repr(text)[:57] + "..."
    return ValueError(
        f"invalid duration {shown}{': ' + reason if reason else ''}; expected {_ACCEPTED}"
    )


def parse_duration(value: str | int | float) -> float:
    """The number of seconds a duration stands for.

    Raises ValueError naming the bad text and the accepted forms; negative
    and non-finite durations are refused.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _invalid(value, f"a {type(value).__name__} is not a duration")
    if not isinstance(value, str):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise _invalid(value, "not a finite number")
        if seconds < 0:
            raise _invalid(value, "durations cannot be negative")
        return seconds
    text = value.strip()
    if text.startswith("-"):
        raise _invalid(value, "durations cannot be negative")
    if text.startswith("+"):
        text = text[1:]
    if _BARE_NUMBER.fullmatch(text):
        return _finite(float(text), value)
    if text.startswith("P"):
        return _parse_iso(text, value)
    return _parse_units(text, value)


def _finite(seconds: float, original: str) -> float:
    if not math.isfinite(seconds):
        raise _invalid(original, "out of range")
    return seconds


def _parse_units(text: str, original: str) -> float:
    if not text:
        raise _invalid(original, "empty")
    total = 0.0
    position = 0
    previous = -1
    while position < len(text):
        match = _COMPONENT.match(text, position)
        if match is None:
            raise _invalid(original)
        unit = match.group(2)
        rank = _UNIT_ORDER.index(unit)
        if rank <= previous:
            raise _invalid(
                original, "write each unit once, from the largest to the smallest (1h30m)"
            )
        previous = rank
        total += float(match.group(1)) * _UNIT_SECONDS[unit]
        position = match.end()
    return _finite(total, original)


def _parse_iso(text: str, original: str) -> float:
    match = _ISO.fullmatch(text)
    if match is None:
        raise _invalid(original)
    if match.group("years") or match.group("months"):
        raise _invalid(original, "years and months have no fixed length; use days or weeks")
    total = 0.0
    for name, unit_seconds in _ISO_SECONDS.items():
        amount = match.group(name)
        if amount is not None:
            number = amount.replace(",", ".")
            if not re.fullmatch(_NUMBER, number):
                raise _invalid(original)
            total += float(number) * unit_seconds
    return _finite(total, original)


def parse_timestamp(text: str) -> datetime:
    """An aware datetime for an ISO 8601 timestamp; naive timestamps are UTC.

    ``2024-05-01T12:00:00Z``, ``2024-05-01T14:00:00+02:00``,
    ``2024-05-01 12:00``, ``2024-05-01`` (midnight). Raises ValueError
    otherwise.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid timestamp: expected ISO 8601 text, got a {type(text).__name__}")
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        shown = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
        raise ValueError(
            f"invalid timestamp {shown}; expected ISO 8601 such as 2024-05-01T12:00:00Z "
            "or 2024-05-01"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def format_duration(seconds: float) -> str:
    """A duration as compact text that parse_duration reads back: 5400 -> '1h30m'.

    Whole weeks, days, hours, minutes and seconds, then milliseconds; a
    remainder finer than a millisecond is written as decimal seconds.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(
            f"format_duration() expects a number of seconds, got {type(seconds).__name__}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"format_duration() expects a finite, non-negative number, got {seconds!r}"
        )
    if seconds == 0:
        return "0s"
    milliseconds = round(seconds * 1000)
    if abs(milliseconds - seconds * 1000) > 1e-6 * max(1.0, seconds):
        # Finer than a millisecond: whole units, then the rest in seconds.
        whole = int(seconds // 60) * 60
        rest = seconds - whole
        prefix = _units(whole * 1000) if whole else ""
        return prefix + f"{rest:.9f}".rstrip("0").rstrip(".") + "s"
    return _units(milliseconds)


def _units(milliseconds: int) -> str:
    parts = []
    remaining = int(milliseconds)
    for unit in _UNIT_ORDER:
        size = round(_UNIT_SECONDS[unit] * 1000)
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
