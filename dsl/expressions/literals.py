"""Decoding number and string literals written in expressions."""

from __future__ import annotations

from wfdsl.errors import ExpressionError

from .limits import MAX_INTEGER, check_finite

__all__ = ["decode_number", "decode_string"]

_SIMPLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "/": "/",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "0": "\0",
}

# An integer literal with more digits than this cannot be within 2**63 (which
# has 19), whatever leading zeros it carries; checking the length first keeps
# int() away from enormous digit strings.
_MAX_INTEGER_DIGITS = 40


def decode_number(text: str, column: int) -> int | float:
    """The value of a NUMBER token: an int unless it has a '.' or an exponent."""
    if text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > _MAX_INTEGER_DIGITS or int(digits) > MAX_INTEGER:
            raise ExpressionError(
                f"the integer {text[:30]}{'...' if len(text) > 30 else ''} is out of range "
                "(more than 2**63)",
                column=column,
            )
        return int(digits)
    try:
        return check_finite(float(text), f"the number {text[:30]}")
    except ExpressionError as error:
        error.column = column
        raise


def decode_string(token: str, column: int) -> str:
    """The text of a STRING token (quotes included), with escapes resolved.

    Escapes are JSON's plus ``\\'``: ``\\\\ \\' \\" \\/ \\n \\r \\t \\b \\f \\0``
    and ``\\uXXXX`` (a surrogate pair makes one character); anything else after
    a backslash is an error, so a typo never silently changes the text.
    """
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escape = body[i + 1] if i + 1 < n else ""
        where = column + 1 + i
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            i += 2
        elif escape == "u":
            code = _hex4(body, i + 2, where)
            i += 6
            if 0xD800 <= code < 0xDC00 and body[i : i + 2] == "\\u":
                low = _hex4(body, i + 2, column + 1 + i)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
            if 0xD800 <= code < 0xE000:
                raise ExpressionError(
                    "a \\u escape names half of a surrogate pair on its own", column=where
                )
            out.append(chr(code))
        else:
            raise ExpressionError(
                f"unknown escape '\\{escape}' in a string; write '\\\\' for a backslash",
                column=where,
            )
    return "".join(out)


def _hex4(body: str, start: int, column: int) -> int:
    digits = body[start : start + 4]
    if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    raise ExpressionError("a \\u escape needs four hexadecimal digits", column=column)
