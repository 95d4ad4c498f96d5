"""JSON Schema errors turned into findings a user can act on.

jsonschema says *what* failed (a keyword at a JSON path); a finding also says
*where* (the line and column of the offending node, or of the key for an
unknown key), names the state it is about, and suggests a fix. Each error
becomes exactly one finding: a mistake never shows up twice.

jsonschema is slow (a 1,000-state document took most of a second), so it
only explains what a compiled predicate (:mod:`.schema_compiled`) rejects:
a valid document costs one predicate call, and in an invalid one only the
states the predicate rejects are walked by jsonschema. The schema's states
dispatch on ``type`` through eleven ``if``/``then`` pairs; the validator used
here replaces the ``state`` definition by a keyword that skips valid states
and validates the others against the original definition, in place, so the
errors, their order and thus the findings are exactly the plain validator's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from .findings import Finding, JsonPath, finding_at, shown_value
from .loader import LoadedDocument
from .schema_compiled import Predicate, Unsupported, compile_schema
from .suggest import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    # jsonschema ships no type hints and types-jsonschema is not a dependency.
    # It is imported where it runs: a valid document without embedded
    # schemas never needs it, and it is a third of the front end's memory.
    from jsonschema import Draft202012Validator, ValidationError  # type: ignore[import-untyped]

__all__ = ["check_embedded_schemas", "check_schema", "schema", "schema_text"]

SCHEMA_FILE = "wfdsl-1.schema.json"
_WAIT_KINDS = ("timer", "until", "signal", "any", "all", "at_least")
# The only keys that differ in meaning between state types (docs/reference.md §2): the
# schema forbids them as additional properties; the finding uses its own code.
_ENDS_SCOPE = {"succeed", "fail", "choice"}
_PATTERN_WORDS = {
    "^[a-z0-9][a-z0-9_.-]*$": "lower-case letters, digits, `_`, `.` and `-`, starting with a "
    "letter or digit",
    "^[A-Za-z_][A-Za-z0-9_-]*$": "letters, digits, `_` and `-`, not starting with a digit",
    "^[A-Za-z_][A-Za-z0-9_]*$": "letters, digits and `_`, not starting with a digit",
    "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$": "a dotted Python module name",
    "^(full|equal|none)$": "a fraction from 0 to 1, `full`, `equal` or `none`",
    "^[0-9]+(\\.[0-9]+)?%$": "a count or a percentage such as `10%`",
}
#: The words a pattern above allows, for a did-you-mean on a near miss.
_PATTERN_CHOICES = {"^(full|equal|none)$": ["full", "equal", "none"]}


@cache
def schema_text() -> str:
    """The text of ``wfdsl-1.schema.json`` as shipped in the package (``wfdsl schema``)."""
    return (files("wfdsl.schemas") / SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def schema() -> Mapping[str, Any]:
    """The language's JSON Schema, parsed once."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


_STATE_KEYWORD = "x-wfdsl-valid-state-or-explain"


@cache
def _predicates() -> tuple[Predicate, Predicate] | None:
    """(whole document, one state) predicates, or ``None`` if the schema outgrew them."""
    try:
        return (
            compile_schema(schema()),
            compile_schema(schema(), schema()["$defs"]["state"]),
        )
    except Unsupported:
        return None


@cache
def _explaining_validator() -> Draft202012Validator:
    """The schema's validator, but states the predicate accepts are not walked."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend  # type: ignore[import-untyped]

    predicates = _predicates()
    if predicates is None:
        return _validator()
    state_is_valid = predicates[1]
    state_schema = schema()["$defs"]["state"]

    def state(
        validator: Draft202012Validator, _: object, instance: Any, __: object
    ) -> Iterator[ValidationError]:
        if not state_is_valid(instance):
            yield from validator.descend(instance, state_schema)

    derived = {**schema(), "$defs": {**schema()["$defs"], "state": {_STATE_KEYWORD: True}}}
    cls = extend(Draft202012Validator, {_STATE_KEYWORD: state})
    return cls(derived)


META_SCHEMA_FILE = "json-schema-2020-12.flat.json"


@cache
def _meta_predicate() -> Predicate | None:
    """Whether a value is a valid JSON Schema 2020-12, without jsonschema:
    the meta-schema flattened (tests/dsl/flat_metaschema.py) and compiled.
    jsonschema is imported only to explain a schema this rejects."""
    text = (files("wfdsl.schemas") / META_SCHEMA_FILE).read_text(encoding="utf-8")
    try:
        return compile_schema(json.loads(text))
    except Unsupported:  # pragma: no cover - the flat file is tested to compile
        return None


@cache
def _meta_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA)


# ---- naming things ---------------------------------------------------------------------------


def _dotted(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _subject(path: JsonPath) -> tuple[str, JsonPath]:
    """``"state 'charge'"`` (or handler, signal, the document) and the path inside it."""
    for index in range(len(path) - 2, -1, -1):
        if path[index] == "states" and isinstance(path[index + 1], str):
            return f"state '{path[index + 1]}'", path[index + 2 :]
    if len(path) >= 2 and path[0] in ("handlers", "signals"):
        return f"{str(path[0])[:-1]} '{path[1]}'", path[2:]
    return "", path


def _prefix(path: JsonPath) -> str:
    subject, _ = _subject(path)
    return f"{subject}: " if subject else ""


def _what(path: JsonPath) -> str:
    """How a message names the node at ``path``: ``retry.max_attempts``, ``the state``."""
    subject, inner = _subject(path)
    if inner:
        return _dotted(inner)
    return "the state" if subject.startswith("state") else (subject or "the document")


_ARTICLE_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def _expected(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_ARTICLE_TYPES.get(name, name) for name in names)


# ---- error -> finding ------------------------------------------------------------------------


class _Mapper:
    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc

    def finding(
        self,
        code: str,
        message: str,
        path: JsonPath,
        *,
        key: bool = False,
        suggestion: str | None = None,
    ) -> Finding:
        return finding_at(
            self.doc.source_map, self.doc.file, code, message, path, key=key, suggestion=suggestion
        )

    def convert(self, error: ValidationError) -> Iterator[Finding]:
        path: JsonPath = tuple(error.absolute_path)
        keyword = str(error.validator)
        handler = getattr(self, f"_{keyword}", None)
        if handler is not None:
            yield from handler(error, path)
            return
        if keyword in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
            yield self._range(error, path)
            return
        if keyword in {"minLength", "maxLength", "minItems", "maxItems", "minProperties"}:
            yield self._size(error, path)
            return
        yield self.finding("WF101", f"{_prefix(path)}{_what(path)}: {error.message}", path)

    def _additionalProperties(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        if not isinstance(error.instance, dict):
            return
        allowed = list(error.schema.get("properties", {}))
        state_type = error.instance.get("type") if "type" in allowed else None
        for key in error.instance:
            if key in allowed or key.startswith("x-"):
                continue
            key_path = (*path, key)
            if key in ("next", "end") and state_type in _ENDS_SCOPE:
                ends = "ends its scope" if state_type != "choice" else "goes where its choices say"
                yield self.finding(
                    "WF204",
                    f"{_prefix(key_path)}a {state_type} state {ends}; it has no `{key}`",
                    key_path,
                    key=True,
                    suggestion=f"remove `{key}`",
                )
            elif key == "undo" and state_type is not None:
                yield self.finding(
                    "WF208",
                    f"{_prefix(key_path)}`undo` is only allowed on task states, "
                    f"not on a {state_type} state",
                    key_path,
                    key=True,
                    suggestion="move the undo action to the task whose effect it reverses",
                )
            else:
                where = _prefix(key_path) or ("" if not path else f"{_dotted(path)}: ")
                suggestion = did_you_mean(key, allowed) or (
                    "allowed keys: " + ", ".join(allowed) + ", and any key starting with `x-`"
                )
                yield self.finding(
                    "WF102",
                    f"{where}unknown key '{key}'",
                    key_path,
                    key=True,
                    suggestion=suggestion,
                )

    def _required(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        if not isinstance(error.instance, dict):
            return
        kind = error.instance.get("type") if _subject(path)[1] == () else None
        owner = f"a {kind} state" if isinstance(kind, str) else _what(path)
        for key in error.validator_value:
            if key not in error.instance:
                yield self.finding(
                    "WF103",
                    f"{_prefix(path)}missing key '{key}' ({owner} needs it)",
                    path,
                    suggestion=f"add `{key}:`",
                )

    def _type(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        yield self.finding(
            "WF104",
            f"{_prefix(path)}{_what(path)} must be {_expected(error.validator_value)}, "
            f"found {shown_value(error.instance)}",
            path,
        )

    def _const(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        if path == ("wfdsl",):
            found = error.instance
            detail = (
                f"found {shown_value(found)}; quote it so YAML does not read a number"
                if isinstance(found, (int, float)) and not isinstance(found, bool)
                else f"unsupported language version {json.dumps(found)}"
            )
            yield self.finding(
                "WF106",
                f'`wfdsl` must be the string "1" ({detail})',
                path,
                suggestion='write `wfdsl: "1"`',
            )
            return
        yield self.finding(
            "WF105",
            f"{_prefix(path)}{_what(path)} must be {json.dumps(error.validator_value)}, "
            f"found {shown_value(error.instance)}",
            path,
        )

    def _enum(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        allowed = [str(v) for v in error.validator_value]
        found = error.instance
        suggestion = did_you_mean(found, allowed) if isinstance(found, str) else None
        shown = shown_value(found).removeprefix("string ")
        if path[-1:] == ("type",) and _subject(path)[0]:
            message = f"{_prefix(path)}unknown state type {shown}"
        else:
            message = f"{_prefix(path)}{_what(path)} {shown} is not a known value"
        yield self.finding(
            "WF105",
            f"{message}; expected one of {', '.join(allowed)}",
            path,
            suggestion=suggestion,
        )

    def _pattern(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        found = error.instance
        words = _PATTERN_WORDS.get(str(error.validator_value), f"the form {error.validator_value}")
        container = self.doc.source_map.node(path)
        parent = _lookup(self.doc.data, path)
        if isinstance(parent, dict) and found in parent and container is not None:
            # propertyNames: the offending thing is a key of the mapping at `path`.
            key_path = (*path, found)
            noun = "state name" if path[-1:] == ("states",) else "name"
            yield self.finding(
                "WF105",
                f"{_prefix(key_path)}{noun} '{found}' must be {words}",
                key_path,
                key=True,
            )
            return
        if error.validator_value == "^unlimited$" and isinstance(found, str):
            # max_attempts: a word where a count belongs is a type mistake.
            yield self.finding(
                "WF104",
                f"{_prefix(path)}{_what(path)} must be an integer or `unlimited`, "
                f"found {shown_value(found)}",
                path,
                suggestion=(
                    f"write {found.strip()} without quotes"
                    if found.strip().isdigit()
                    else did_you_mean(found, ["unlimited"])
                ),
            )
            return
        suggestion = None
        choices = _PATTERN_CHOICES.get(str(error.validator_value))
        if choices and isinstance(found, str):
            suggestion = did_you_mean(found, choices)
        if isinstance(found, str) and path == ("name",):
            fixed = "-".join(found.lower().split())
            suggestion = f"did you mean '{fixed}'?" if fixed != found else None
        yield self.finding(
            "WF105",
            f"{_prefix(path)}{_what(path)} {shown_value(found).removeprefix('string ')} must be {words}",
            path,
            suggestion=suggestion,
        )

    def _oneOf(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        branches = error.validator_value
        kinds = [b["required"][0] for b in branches if isinstance(b, dict) and "required" in b]
        if kinds == list(_WAIT_KINDS) and isinstance(error.instance, dict):
            given = [k for k in kinds if k in error.instance]
            listed = ", ".join(kinds)
            if given:
                message = (
                    f"{_prefix(path)}a wait has exactly one of {listed}; "
                    f"found {' and '.join(given)}"
                )
                suggestion = "combine them with `any` or `all`"
            else:
                message = f"{_prefix(path)}a wait needs one of {listed}; found none"
                suggestion = "add what to wait for, e.g. `timer: 1h` or `signal: ready`"
            yield self.finding("WF101", message, path, suggestion=suggestion)
            return
        yield from self._best(error, path)

    def _anyOf(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        yield from self._best(error, path)

    def _best(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

        inner = best_match(error.context or ())
        if inner is None:
            yield self.finding("WF101", f"{_prefix(path)}{_what(path)}: {error.message}", path)
            return
        yield from self.convert(inner)

    def _dependentRequired(self, error: ValidationError, path: JsonPath) -> Iterator[Finding]:
        if not isinstance(error.instance, dict):
            return
        for key, needs in error.validator_value.items():
            missing = [n for n in needs if n not in error.instance]
            if key in error.instance and missing:
                key_path = (*path, key)
                yield self.finding(
                    "WF105",
                    f"{_prefix(key_path)}`{key}` is only allowed together with "
                    + " and ".join(f"`{n}`" for n in missing),
                    key_path,
                    key=True,
                )

    def _range(self, error: ValidationError, path: JsonPath) -> Finding:
        bound = error.validator_value
        relation = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }[str(error.validator)]
        suggestion = None
        if path[-1:] == ("max_attempts",) and error.validator == "minimum":
            # Step Functions' MaxAttempts counts retries (0: never retry); here
            # the first attempt counts too, so say what each intent is written as.
            suggestion = (
                "max_attempts counts attempts, the first included: write `max_attempts: 1` "
                "for no retries, or `max_attempts: unlimited` (with `max_duration`) to "
                "retry without a count"
            )
        return self.finding(
            "WF105",
            f"{_prefix(path)}{_what(path)} must be {relation} {bound}, found {error.instance}",
            path,
            suggestion=suggestion,
        )

    def _size(self, error: ValidationError, path: JsonPath) -> Finding:
        bound = error.validator_value
        what = {
            "minLength": f"at least {bound} character{'s' if bound != 1 else ''} long",
            "maxLength": f"at most {bound} characters long",
            "minItems": f"a list of at least {bound} item{'s' if bound != 1 else ''}",
            "maxItems": f"a list of at most {bound} items",
            "minProperties": f"a mapping with at least {bound} entr{'ies' if bound != 1 else 'y'}",
        }[str(error.validator)]
        return self.finding("WF105", f"{_prefix(path)}{_what(path)} must be {what}", path)


def _lookup(data: Any, path: JsonPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def check_schema(doc: LoadedDocument) -> Iterator[Finding]:
    """One finding per mistake against the language schema, at the offending node.

    Yields nothing for a document the loader could not read (its findings
    already say why).
    """
    if not isinstance(doc.data, dict):
        return
    predicates = _predicates()
    if predicates is not None and predicates[0](doc.data):
        return
    mapper = _Mapper(doc)
    seen: set[tuple[str, JsonPath]] = set()
    for error in _explaining_validator().iter_errors(doc.data):
        for finding in mapper.convert(error):
            # One mistake, one finding, even where two keywords see it.
            if (finding.code, finding.path) not in seen:
                seen.add((finding.code, finding.path))
                yield finding


def _embedded(data: dict[str, Any]) -> Iterator[tuple[JsonPath, Any]]:
    """Every place a document holds a JSON Schema: input, signal schemas, handler inputs."""
    if "input" in data:
        yield ("input",), data["input"]
    for group, key in (("signals", "schema"), ("handlers", "input")):
        entries = data.get(group)
        if isinstance(entries, dict):
            for name, entry in entries.items():
                if isinstance(entry, dict) and key in entry:
                    yield (group, name, key), entry[key]


def check_embedded_schemas(doc: LoadedDocument) -> Iterator[Finding]:
    """WF107 where an ``input``, signal ``schema`` or handler ``input`` is not a valid
    JSON Schema 2020-12, at the node inside it that is wrong.

    A value of the wrong type altogether (a list, say) is left to
    :func:`check_schema`, which reports it as WF104.
    """
    if not isinstance(doc.data, dict):
        return
    mapper = _Mapper(doc)
    for base, embedded in _embedded(doc.data):
        if not isinstance(embedded, (dict, bool)):
            continue
        valid = _meta_predicate()
        if valid is not None and valid(embedded):
            continue
        from jsonschema.exceptions import best_match

        reported: set[JsonPath] = set()
        for error in _meta_validator().iter_errors(embedded):
            inner = best_match([error]) or error
            path: JsonPath = (*base, *inner.absolute_path)
            if path in reported:
                continue
            reported.add(path)
            found = shown_value(inner.instance)
            yield mapper.finding(
                "WF107",
                f"{_prefix(path)}{_dotted(base[2:] or base)} is not a valid JSON Schema: "
                f"{_dotted(path[len(base) :]) or 'the schema'} is {found}, "
                f"{_meta_reason(inner)}",
                path,
                suggestion=_meta_suggestion(inner),
            )


_SIMPLE_TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"]


def _meta_reason(error: ValidationError) -> str:
    if error.validator == "type":
        return f"expected {_expected(error.validator_value)}"
    if (
        error.validator in ("enum", "anyOf")
        and error.absolute_path
        and (error.absolute_path[-1] == "type")
    ):
        return "expected one of " + ", ".join(_SIMPLE_TYPES)
    return str(error.message)


def _meta_suggestion(error: ValidationError) -> str | None:
    if (
        error.absolute_path
        and error.absolute_path[-1] == "type"
        and isinstance(error.instance, str)
    ):
        return did_you_mean(str(error.instance), _SIMPLE_TYPES)
    return None
