"""Built-in functions on strings: lower, upper, strip, split, join, replace, startswith, endswith."""

from __future__ import annotations

from typing import Any

from wfdsl.errors import ExpressionError

from .data import LIST, MAP, kind_of, render_text
from .function_spec import FunctionSpec, expect_integer, expect_list, expect_string
from .limits import MAX_LENGTH, check_length

__all__ = ["TEXT_FUNCTIONS"]


def _lower(text: Any) -> str:
    return expect_string("lower", text).lower()


def _upper(text: Any) -> str:
    result = expect_string("upper", text).upper()
    check_length(len(result), "upper() result")  # 'ß'.upper() is 'SS': it can grow
    return result


def _strip(text: Any, characters: Any = None) -> str:
    value = expect_string("strip", text)
    if characters is None:
        return value.strip()
    return value.strip(expect_string("strip", characters, 1))


def _split(text: Any, separator: Any = None) -> list[str]:
    value = expect_string("split", text)
    if separator is None:
        parts = value.split()
    else:
        sep = expect_string("split", separator, 1)
        if not sep:
            raise ExpressionError(
                "split() separator must not be empty; omit it to split on whitespace"
            )
        check_length(value.count(sep) + 1, "the list split() makes")
        parts = value.split(sep)
    check_length(len(parts), "the list split() makes")
    return parts


def _join(items: Any, separator: Any = ",") -> str:
    values = expect_list("join", items)
    sep = expect_string("join", separator, 1)
    pieces = []
    total = max(len(values) - 1, 0) * len(sep)
    check_length(total, "the string join() makes")
    for position, item in enumerate(values):
        if kind_of(item) in (LIST, MAP):
            raise ExpressionError(
                f"join() items must be strings, numbers, bools or null; item {position} is a "
                f"{kind_of(item)} (use json() to write it as text)"
            )
        piece = render_text(item)
        total += len(piece)
        # Counted as it goes, so a million copies of a long string stop early.
        if total > MAX_LENGTH:
            check_length(total, "the string join() makes")
        pieces.append(piece)
    return sep.join(pieces)


def _replace(text: Any, old: Any, new: Any, count: Any = None) -> str:
    value = expect_string("replace", text)
    before = expect_string("replace", old, 1)
    after = expect_string("replace", new, 2)
    limit = -1 if count is None else expect_integer("replace", count, 3)
    occurrences = value.count(before) if before else len(value) + 1
    if limit >= 0:
        occurrences = min(occurrences, limit)
    # The length of the result is known before it is built.
    check_length(
        len(value) + occurrences * (len(after) - len(before)), "the string replace() makes"
    )
    return value.replace(before, after, limit)


def _affixes(function: str, candidates: Any) -> tuple[str, ...]:
    if kind_of(candidates) == LIST:
        return tuple(expect_string(function, item, 1) for item in candidates)
    return (expect_string(function, candidates, 1),)


def _startswith(text: Any, prefix: Any) -> bool:
    return expect_string("startswith", text).startswith(_affixes("startswith", prefix))


def _endswith(text: Any, suffix: Any) -> bool:
    return expect_string("endswith", text).endswith(_affixes("endswith", suffix))


TEXT_FUNCTIONS: dict[str, FunctionSpec] = {
    "lower": FunctionSpec(1, 1, "lower(s)", "s in lower case", _lower),
    "upper": FunctionSpec(1, 1, "upper(s)", "s in upper case", _upper),
    "strip": FunctionSpec(
        1,
        2,
        "strip(s, chars=null)",
        "s without leading and trailing whitespace (or the given characters)",
        _strip,
    ),
    "split": FunctionSpec(
        1,
        2,
        "split(s, sep=null)",
        "the pieces of s between separators (runs of whitespace when sep is omitted)",
        _split,
    ),
    "join": FunctionSpec(
        1, 2, "join(list, sep=',')", "the items as text (null as ''), separated by sep", _join
    ),
    "replace": FunctionSpec(
        3,
        4,
        "replace(s, old, new, count=null)",
        "s with occurrences of old replaced by new (at most count of them)",
        _replace,
    ),
    "startswith": FunctionSpec(
        2,
        2,
        "startswith(s, prefix)",
        "whether s starts with prefix (or with any string of a list)",
        _startswith,
    ),
    "endswith": FunctionSpec(
        2,
        2,
        "endswith(s, suffix)",
        "whether s ends with suffix (or with any string of a list)",
        _endswith,
    ),
}
