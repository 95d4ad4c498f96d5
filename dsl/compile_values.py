"""The compiler's leaf work: values, expressions, durations, timestamps and var paths.

Each helper compiles one node of the document and, when the node is wrong,
records a finding at that node and returns a harmless stand-in, so the
compiler carries on and reports every mistake of the document at once. The
schema has already reported wrong *types*; these helpers stay silent about
them (a value of the wrong type is simply skipped) so a mistake is never
reported twice.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from wfdsl.errors import ExpressionError

from .durations import parse_duration, parse_timestamp
from .expressions import (
    BUILTIN_FUNCTIONS,
    NO_HOOKS,
    CompiledValue,
    Constant,
    Expression,
    Template,
    compile_string,
    compile_value,
    contains_expression,
    parse_expression,
)
from .findings import Finding, finding_at, shown_value
from .model import VarPath
from .source import JsonPath, SourceMap, Span

__all__ = ["VAR_PATH", "Leaves"]

#: ``payment.id``: identifiers joined by dots (docs/reference.md §4).
VAR_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIXED_SCOPE_NAMES = frozenset({"input", "vars", "run", "result", "error", "args", "index"})


class Leaves:
    """Compiles leaves of one document and collects the findings about them."""

    def __init__(self, source_map: SourceMap, text: str, file: str | None) -> None:
        self.source_map = source_map
        self.lines = text.splitlines()
        self.file = file
        self.findings: list[Finding] = []

    # ------------------------------------------------------------ findings

    def report(
        self,
        code: str,
        path: JsonPath,
        message: str,
        *,
        key: bool = False,
        suggestion: str | None = None,
    ) -> None:
        """A finding of ``code`` at the value (or the key) of ``path``."""
        self.findings.append(
            finding_at(
                self.source_map,
                self.file,
                code,
                _subject(path) + message,
                path,
                key=key,
                suggestion=suggestion,
            )
        )

    # -------------------------------------------------------------- values

    def value(self, raw: Any, path: JsonPath) -> CompiledValue:
        """A document value compiled once; a broken expression becomes ``Constant(None)``."""
        try:
            compiled = compile_value(raw)
        except ExpressionError:
            self._report_value_errors(raw, path)
            return Constant(None)
        self._check_constants(compiled, path)
        return compiled

    def optional_value(
        self, data: dict[str, Any], key: str, path: JsonPath
    ) -> CompiledValue | None:
        if key not in data:
            return None
        return self.value(data[key], (*path, key))

    def items(self, raw: Any, path: JsonPath) -> CompiledValue:
        """A map state's ``items``: a list, or one expression that can yield one.

        A literal that is not a list, text around a ``${ ... }`` (it renders to
        a string) and an expression that reads nothing and yields a non-list
        would fail the state on every run; they are WF104 here instead.
        """
        reported = len(self.findings)
        compiled = self.value(raw, path)
        if len(self.findings) > reported:
            return compiled  # a syntax error (WF301) or WF305 already says what is wrong
        if isinstance(compiled, Constant) and not isinstance(compiled.value, list):
            suggestion = None
            if isinstance(raw, str) and VAR_PATH.fullmatch(raw.strip()):
                suggestion = f"write it as an expression: '${{ {raw.strip()} }}'"
            self.report(
                "WF104",
                path,
                "items must be a list or an expression that yields one (such as "
                f"`${{ input.lines }}`), found {shown_value(compiled.value)}",
                suggestion=suggestion,
            )
        elif isinstance(compiled, Template):
            inner = [part for part in compiled.parts if isinstance(part, Expression)]
            self.report(
                "WF104",
                path,
                f"items {_shown(raw)} mixes text with `${{ ... }}`, so it always renders "
                "to a string, not a list",
                suggestion=(
                    f"write only the expression: '${{ {inner[0].source} }}'"
                    if len(inner) == 1
                    else None
                ),
            )
        elif isinstance(compiled, Expression) and _is_constant(compiled):
            try:
                value = compiled.value_in({}, NO_HOOKS)
            except ExpressionError:
                return compiled  # not constant after all (WF305 covers the failing ones)
            if not isinstance(value, list):
                self.report(
                    "WF104",
                    path,
                    f"items '${{ {compiled.source} }}' always yields {shown_value(value)}, "
                    "not a list",
                )
        return compiled

    def _report_value_errors(self, raw: Any, path: JsonPath) -> None:
        """Every string under ``raw`` that fails to compile, each at its own node."""
        reported = False
        for leaf_path, leaf in _strings(raw, path):
            if not contains_expression(leaf):
                continue
            try:
                compile_string(leaf)
            except ExpressionError as error:
                reported = True
                self._report_syntax(error, leaf, leaf_path)
        if not reported:
            # Not an expression: a number JSON cannot hold, or nesting past the bound.
            try:
                compile_value(raw)
            except ExpressionError as error:
                self.report("WF105", path, f"this value cannot be used: {error.message}")

    def _report_syntax(self, error: ExpressionError, text: str, path: JsonPath) -> None:
        where = self._inside(path, text, error.column)
        self.report(
            "WF301", path, f"expression syntax error in {_shown(text)}: {error.message}{where}"
        )

    def _check_constants(self, compiled: CompiledValue, path: JsonPath) -> None:
        """WF305: an expression that reads nothing and calls only deterministic
        built-ins has one value forever; if evaluating it fails, it always will."""
        for inner, _offset, expression in compiled.expressions():
            failure = _constant_failure(expression)
            if failure is not None:
                leaf_path = (*path, *inner)
                self.report(
                    "WF305", leaf_path, f"'${{ {expression.source} }}' always fails: {failure}"
                )

    def _inside(self, path: JsonPath, text: str, column: int | None) -> str:
        """`` (at line L, column C)`` for a column inside a string node, when the
        string sits verbatim on its first line (plain or quoted without escapes)."""
        if column is None:
            return ""
        node = self.source_map.node(tuple(path))
        if node is None:
            return ""
        span: Span = node.value
        if not 1 <= span.line <= len(self.lines):
            return ""
        line = self.lines[span.line - 1]
        start = span.col - 1
        if line[start : start + 1] in ("'", '"'):
            start += 1
        if line[start : start + len(text)] != text:
            return f" (column {column} of the text)"
        return f" (at line {span.line}, column {start + column})"

    # ---------------------------------------------------------- durations

    def duration(self, raw: Any, path: JsonPath) -> tuple[float | None, CompiledValue | None]:
        """Seconds for a literal duration, or the compiled expression computing one."""
        if isinstance(raw, str) and contains_expression(raw):
            return None, self.value(raw, path)
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            return None, None  # the schema reports the type
        try:
            return parse_duration(raw), None
        except ValueError as error:
            self.report("WF502", path, str(error), suggestion=_duration_hint(raw))
            return None, None

    def literal_duration(self, raw: Any, path: JsonPath) -> float | None:
        """A duration that must be literal (retry intervals, timeouts)."""
        seconds, expr = self.duration(raw, path)
        if expr is not None:
            self.report(
                "WF502",
                path,
                f"{_shown(raw)} must be a literal duration (such as 30s or 5m), not an expression",
            )
        return seconds

    def timestamp(self, raw: Any, path: JsonPath) -> tuple[float | None, CompiledValue | None]:
        """Epoch seconds for a literal ``until``, or the compiled expression."""
        if isinstance(raw, str) and contains_expression(raw):
            return None, self.value(raw, path)
        if not isinstance(raw, str):
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                self.report(
                    "WF503",
                    path,
                    f"invalid timestamp {raw!r}; expected ISO 8601 text such as "
                    "2024-05-01T12:00:00Z (quote it)",
                )
            return None, None
        try:
            return parse_timestamp(raw).timestamp(), None
        except ValueError as error:
            self.report("WF503", path, str(error))
            return None, None

    # ----------------------------------------------------------- var paths

    def var_path(self, raw: Any, path: JsonPath, *, key: bool = False) -> VarPath | None:
        """A target in ``vars`` (``set`` key, ``result``, ``as``). An invalid one is
        reported and still returned as written, so later checks see the write."""
        if not isinstance(raw, str):
            return None
        if not VAR_PATH.fullmatch(raw):
            self.report(
                "WF212",
                path,
                f"{_shown(raw)} is not a var path",
                key=key,
                suggestion=_var_path_hint(raw),
            )
        elif raw.startswith("vars."):
            self.report(
                "WF212",
                path,
                f"{_shown(raw)} names a var inside `vars`: targets are already relative to `vars`",
                key=key,
                suggestion=f"write '{raw[5:]}'",
            )
        return VarPath.parse(raw)

    def item_name(self, raw: Any, path: JsonPath) -> str:
        """A map state's ``as``: one identifier that does not hide a scope name."""
        if not isinstance(raw, str):
            return "item"
        if not _IDENTIFIER.fullmatch(raw):
            self.report(
                "WF212",
                path,
                f"{_shown(raw)} is not a name: a map's `as` is one identifier "
                "that expressions in the body read (`item`, `line`)",
            )
        elif raw in _FIXED_SCOPE_NAMES:
            self.report(
                "WF212",
                path,
                f"'{raw}' would hide the scope name `{raw}` inside the map body",
                suggestion="choose another name, such as 'item'",
            )
        return raw


_UNIT_WORDS = re.compile(
    r"\s*([0-9]+(?:\.[0-9]+)?)\s*(milliseconds?|millis|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m"
    r"|hours?|hrs?|h|days?|d|weeks?|wks?|w)\s*,?\s*(?:and\s+)?",
    re.IGNORECASE,
)
_UNIT_LETTER = {
    "mil": "ms",
    "ms": "ms",
    "mse": "ms",
    "s": "s",
    "se": "s",
    "m": "m",
    "mi": "m",
    "h": "h",
    "ho": "h",
    "hr": "h",
    "d": "d",
    "da": "d",
    "w": "w",
    "we": "w",
    "wk": "w",
}


def _duration_hint(raw: Any) -> str | None:
    """``did you mean '10m'?`` for durations written with words (``10 minutes``)."""
    if not isinstance(raw, str):
        return None
    out, position = [], 0
    while position < len(raw):
        match = _UNIT_WORDS.match(raw, position)
        if match is None or match.end() == position:
            return None
        word = match.group(2).lower()
        unit = (
            _UNIT_LETTER.get(word[:3]) or _UNIT_LETTER.get(word[:2]) or _UNIT_LETTER.get(word[:1])
        )
        if unit is None:
            return None
        out.append(match.group(1) + unit)
        position = match.end()
    fixed = "".join(out)
    try:
        parse_duration(fixed)
    except ValueError:
        return None
    return f"did you mean '{fixed}'?" if fixed and fixed != raw else None


def _subject(path: JsonPath) -> str:
    """``state 'nap': `` for a node inside a state (the innermost), ``handler 'x': ``..."""
    if len(path) >= 2 and path[0] == "states":
        name, i = path[1], 2
        while i < len(path):
            if path[i] == "branches" and path[i + 2 : i + 3] == ("states",) and len(path) > i + 3:
                name, i = path[i + 3], i + 4
            elif path[i] == "do" and path[i + 1 : i + 2] == ("states",) and len(path) > i + 2:
                name, i = path[i + 2], i + 3
            else:
                break
        return f"state '{name}': "
    if len(path) >= 2 and path[0] == "handlers":
        return f"handler '{path[1]}': "
    if path and path[0] in ("schedule", "defaults"):
        return f"{path[0]}: "
    return ""


def _var_path_hint(raw: str) -> str:
    if not raw:
        return "write a name such as 'payment' or 'payment.id'"
    if ".." in raw or raw.startswith(".") or raw.endswith("."):
        fixed = ".".join(part for part in raw.split(".") if part)
        if fixed and VAR_PATH.fullmatch(fixed):
            return f"did you mean '{fixed}'?"
    fixed = re.sub(r"[^A-Za-z0-9_.]+", "_", raw.strip()).strip("._")
    if fixed and VAR_PATH.fullmatch(fixed):
        return (
            f"a var path is names of letters, digits and _ joined by dots: did you mean '{fixed}'?"
        )
    return "a var path is names of letters, digits and _ joined by dots, such as 'payment.id'"


def _shown(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _strings(raw: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    stack: list[tuple[JsonPath, Any]] = [(tuple(path), raw)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            stack.extend(((*where, str(k)), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*where, i), v) for i, v in reversed(list(enumerate(value))))


def _is_constant(expression: Expression) -> bool:
    """True when the expression reads no name and calls only deterministic
    built-ins with a valid number of arguments: it has one value forever."""
    if expression.name_uses:
        return False
    for call in expression.calls:
        spec = BUILTIN_FUNCTIONS.get(call.name)
        # Unknown functions and wrong arities are the checks' findings (WF302/WF304).
        if (
            spec is None
            or not spec.deterministic
            or spec.uses_hooks
            or not spec.accepts(call.arg_count)
        ):
            return False
    return True


def _constant_failure(expression: Expression) -> str | None:
    if not _is_constant(expression):
        return None
    return _evaluate_constant(expression.source)


@functools.lru_cache(maxsize=2048)
def _evaluate_constant(source: str) -> str | None:
    """Why the expression ``source`` fails with an empty scope, or None."""
    try:
        parse_expression(source).value_in({}, NO_HOOKS)
    except ExpressionError as error:
        return error.message
    return None
