"""A JSON Schema compiled to one Python predicate: is this instance valid?

jsonschema explains *why* an instance fails, at a cost of some 20 µs per
schema node it visits; a 1,000-state document visits 50,000. Most documents
are valid, and for a valid one the explanation is empty. :func:`compile_schema`
turns the (draft 2020-12) schema into nested closures that only answer yes or
no, ten times faster; the schema check runs jsonschema only on what they
reject, so the findings stay exactly jsonschema's.

The predicate must never say yes where jsonschema says no. It implements the
keywords the language schema uses, with jsonschema's semantics (``1.0`` is an
integer, ``True`` is not a number, ``pattern`` searches); a schema with any
other keyword is refused with :class:`Unsupported`, and the caller keeps
using jsonschema alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Predicate", "Unsupported", "compile_schema"]

Predicate = Callable[[Any], bool]

# Keywords that never make an instance invalid (without a format checker,
# `format` is an annotation in 2020-12, as jsonschema treats it by default).
_ANNOTATIONS = frozenset(
    {"$schema", "$comment", "title", "description", "examples", "default", "deprecated",
     "readOnly", "writeOnly", "format", "$defs", "contentMediaType", "contentEncoding"}
)  # fmt: skip
_HANDLED = frozenset(
    {"$ref", "type", "const", "enum", "pattern", "minLength", "maxLength", "minimum",
     "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "items",
     "uniqueItems",
     "minProperties", "properties", "patternProperties", "additionalProperties", "required",
     "propertyNames", "dependentRequired", "allOf", "anyOf", "oneOf", "not", "if", "then",
     "else"}
)  # fmt: skip


class Unsupported(Exception):
    """The schema uses something the predicate does not implement."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    # jsonschema: an integer is also a float with no fractional part.
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
}


def _scalar_const(value: Any) -> Predicate:
    """Equality as jsonschema's ``equal`` sees it, for strings, bools and None only."""
    if isinstance(value, str):
        return lambda v: isinstance(v, str) and v == value
    if isinstance(value, bool):
        return lambda v: isinstance(v, bool) and v is value
    if value is None:
        return lambda v: v is None
    raise Unsupported(f"const/enum value {value!r}")


def compile_schema(
    root: Mapping[str, Any], at: Mapping[str, Any] | bool | None = None
) -> Predicate:
    """A predicate for ``at`` (default: ``root``), resolving ``#/$defs/...`` in ``root``."""
    compiled: dict[str, Predicate] = {}

    def ref(pointer: str) -> Predicate:
        if not pointer.startswith("#/$defs/") or "/" in pointer[len("#/$defs/") :]:
            raise Unsupported(f"$ref {pointer}")
        name = pointer[len("#/$defs/") :]
        if name not in compiled:
            # Recursive definitions (a machine holds states) call through the cell.
            cell: list[Predicate] = []
            compiled[name] = lambda v: cell[0](v)
            cell.append(build(root["$defs"][name]))
        return compiled[name]

    def build(schema: Any) -> Predicate:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, Mapping):
            raise Unsupported(repr(schema))
        unknown = set(schema) - _ANNOTATIONS - _HANDLED
        if schema is root:
            unknown.discard("$id")  # the base of `#/...` references, which stay local
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        checks: list[Predicate] = []
        if "$ref" in schema:
            checks.append(ref(schema["$ref"]))
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            tests = [_TYPES[name] for name in names]
            checks.append(lambda v: any(test(v) for test in tests))
        if "const" in schema:
            checks.append(_scalar_const(schema["const"]))
        if "enum" in schema:
            options = [_scalar_const(option) for option in schema["enum"]]
            checks.append(lambda v: any(option(v) for option in options))
        checks.extend(_string_checks(schema))
        checks.extend(_number_checks(schema))
        checks.extend(_array_checks(schema, build))
        checks.extend(_object_checks(schema, build))
        for keyword in ("allOf", "anyOf", "oneOf"):
            if keyword in schema:
                parts = [build(part) for part in schema[keyword]]
                checks.append(_combine(keyword, parts))
        if "not" in schema:
            negated = build(schema["not"])
            checks.append(lambda v: not negated(v))
        if "if" in schema:
            condition = build(schema["if"])
            then = build(schema.get("then", True))
            otherwise = build(schema.get("else", True))
            checks.append(lambda v: then(v) if condition(v) else otherwise(v))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    return build(root if at is None else at)


def _combine(keyword: str, parts: list[Predicate]) -> Predicate:
    if keyword == "allOf":
        return lambda v: all(part(v) for part in parts)
    if keyword == "anyOf":
        return lambda v: any(part(v) for part in parts)
    return lambda v: sum(1 for part in parts if part(v)) == 1


def _string_checks(schema: Mapping[str, Any]) -> list[Predicate]:
    checks: list[Predicate] = []
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    if "minLength" in schema:
        least = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= least)
    if "maxLength" in schema:
        most = schema["maxLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) <= most)
    return checks


def _number_checks(schema: Mapping[str, Any]) -> list[Predicate]:
    checks: list[Predicate] = []
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "minimum": lambda v, b: v >= b,
        "maximum": lambda v, b: v <= b,
        "exclusiveMinimum": lambda v, b: v > b,
        "exclusiveMaximum": lambda v, b: v < b,
    }
    for keyword, test in tests.items():
        if keyword in schema:
            bound = schema[keyword]
            checks.append(_bounded(test, bound))
    return checks


def _bounded(test: Callable[[Any, Any], bool], bound: Any) -> Predicate:
    return lambda v: not _is_number(v) or test(v, bound)


def _array_checks(schema: Mapping[str, Any], build: Callable[[Any], Predicate]) -> list[Predicate]:
    checks: list[Predicate] = []
    if "minItems" in schema:
        least = schema["minItems"]
        checks.append(lambda v: not isinstance(v, list) or len(v) >= least)
    if "maxItems" in schema:
        most = schema["maxItems"]
        checks.append(lambda v: not isinstance(v, list) or len(v) <= most)
    if "items" in schema:
        item = build(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if schema.get("uniqueItems") is True:
        checks.append(lambda v: not isinstance(v, list) or _unique(v))
    return checks


def _unique(items: list[Any]) -> bool:
    seen = {_identity(item) for item in items}
    return len(seen) == len(items)


def _identity(value: Any) -> Any:
    """A hashable stand-in equal where jsonschema's ``equal`` says equal:
    ``1`` and ``1.0`` are one value, ``True`` and ``1`` are two."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_identity(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _identity(item)) for key, item in value.items()))
    return ("other", id(value))


def _object_checks(schema: Mapping[str, Any], build: Callable[[Any], Predicate]) -> list[Predicate]:
    checks: list[Predicate] = []
    if "minProperties" in schema:
        least = schema["minProperties"]
        checks.append(lambda v: not isinstance(v, dict) or len(v) >= least)
    if "required" in schema:
        required = list(schema["required"])
        checks.append(lambda v: not isinstance(v, dict) or all(k in v for k in required))
    if "dependentRequired" in schema:
        depends = {k: list(needs) for k, needs in schema["dependentRequired"].items()}
        checks.append(
            lambda v: (
                not isinstance(v, dict)
                or all(all(n in v for n in needs) for k, needs in depends.items() if k in v)
            )
        )
    if "propertyNames" in schema:
        name_ok = build(schema["propertyNames"])
        checks.append(lambda v: not isinstance(v, dict) or all(name_ok(k) for k in v))
    if {"properties", "patternProperties", "additionalProperties"} & set(schema):
        checks.append(_properties(schema, build))
    return checks


def _properties(schema: Mapping[str, Any], build: Callable[[Any], Predicate]) -> Predicate:
    known = {name: build(sub) for name, sub in schema.get("properties", {}).items()}
    patterns = [
        (re.compile(pattern).search, build(sub))
        for pattern, sub in schema.get("patternProperties", {}).items()
    ]
    extra = build(schema["additionalProperties"]) if "additionalProperties" in schema else None

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, value in v.items():
            sub = known.get(key)
            matched = sub is not None
            if matched and not sub(value):  # type: ignore[misc]
                return False
            for search, pattern_sub in patterns:
                if search(key) is not None:
                    matched = True
                    if not pattern_sub(value):
                        return False
            if not matched and extra is not None and not extra(value):
                return False
        return True

    return check
