"""Built-in functions that convert between kinds: str, int, float, bool, json, parse_json."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from wfdsl.errors import ExpressionError

from .data import BOOL, NUMBER, STRING, describe, kind_of, to_json, to_str
from .function_spec import FunctionSpec, expect_string, preview
from .limits import MAX_DEPTH, check_integer, check_length, too_deep

__all__ = ["CONVERSION_FUNCTIONS"]

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Longer digit strings cannot be within 2**63; refusing them first keeps
# int() from converting a megabyte of digits.
_MAX_INTEGER_TEXT = 40


def _str(value: Any) -> str:
    text = to_str(value)
    check_length(len(text), "str() result")
    return text


def _int(value: Any) -> int:
    kind = kind_of(value)
    if kind == NUMBER:
        if isinstance(value, float):
            # Floats are finite here; truncate toward zero as Python does.
            return check_integer(int(value), "int()")
        return int(value)
    if kind == BOOL:
        return 1 if value else 0
    if kind == STRING:
        text = str(value).strip()
        if len(text) <= _MAX_INTEGER_TEXT and _INTEGER_TEXT.fullmatch(text):
            return check_integer(int(text), "int()")
        hint = "; use int(float(x)) to truncate a decimal" if _FLOAT_TEXT.fullmatch(text) else ""
        raise ExpressionError(f"int() cannot read {preview(str(value))} as an integer{hint}")
    raise ExpressionError(f"int() expects a number, a string or a bool, got {describe(value)}")


def _float(value: Any) -> float:
    kind = kind_of(value)
    if kind == NUMBER:
        return float(value)
    if kind == BOOL:
        return 1.0 if value else 0.0
    if kind == STRING:
        text = str(value).strip()
        if len(text) <= 400 and _FLOAT_TEXT.fullmatch(text):
            number = float(text)
            if math.isfinite(number):
                return number
            raise ExpressionError(f"float(): {preview(text)} is out of range")
        raise ExpressionError(f"float() cannot read {preview(str(value))} as a number")
    raise ExpressionError(f"float() expects a number, a string or a bool, got {describe(value)}")


def _bool(value: Any) -> bool:
    kind_of(value)  # refuses values that are not JSON
    return bool(value)


def _parse_json(text: Any) -> Any:
    source = expect_string("parse_json", text)
    check_length(len(source), "parse_json() input")
    _check_json_depth(source)
    try:
        return json.loads(
            source, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant
        )
    except json.JSONDecodeError as error:
        raise ExpressionError(
            f"parse_json(): not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None


def _check_json_depth(source: str) -> None:
    """Refuse deep nesting before json.loads, whose C parser recurses."""
    depth = 0
    in_string = escaped = False
    for char in source:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise too_deep("parse_json(): the JSON text")
        elif char in "]}":
            depth -= 1


def _json_int(text: str) -> int:
    if len(text) > _MAX_INTEGER_TEXT:
        raise ExpressionError("parse_json(): an integer is out of range (more than 2**63)")
    return check_integer(int(text), "parse_json()")


def _json_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ExpressionError(f"parse_json(): the number {preview(text)} is out of range")
    return number


def _json_constant(name: str) -> Any:
    raise ExpressionError(f"parse_json(): {name} is not JSON")


CONVERSION_FUNCTIONS: dict[str, FunctionSpec] = {
    "str": FunctionSpec(
        1, 1, "str(x)", "x as text: strings unchanged, anything else as compact JSON", _str
    ),
    "int": FunctionSpec(
        1,
        1,
        "int(x)",
        "a number truncated toward zero, a string of digits as an integer, a bool as 1/0",
        _int,
    ),
    "float": FunctionSpec(
        1, 1, "float(x)", "a number, a numeric string or a bool as a float", _float
    ),
    "bool": FunctionSpec(
        1, 1, "bool(x)", "false for null, false, 0, '', [] and {}; true for anything else", _bool
    ),
    "json": FunctionSpec(1, 1, "json(x)", "x as compact JSON text", to_json),
    "parse_json": FunctionSpec(
        1, 1, "parse_json(s)", "the value the JSON text s holds", _parse_json
    ),
}
