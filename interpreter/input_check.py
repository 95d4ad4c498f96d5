"""Data from outside a run against the JSON Schemas its workflow declares.

Three kinds of data enter a run from outside, each checked before anything
is stored, so refused data leaves no trace:

- a run's ``input`` against the workflow's ``input`` schema (docs/reference.md §1),
  at submit (WF601);
- a signal's payload against the ``schema`` of its channel under
  ``signals:`` (§1, §7), at ``Engine.signal`` (WF602); on a workflow that
  declares signals, an undeclared channel is refused the same way;
- a handler call's ``args`` against the handler's ``input`` schema (§7), at
  ``Engine.call`` (WF603).

Every violation is reported (``iter_errors``), each as a :class:`Finding`
whose ``path`` points into the data, inside one :class:`ValidationError`, so
the CLI prints them the way it prints document findings.

Compiled validators are cached by the workflow's content hash and the
schema's place in it, never by object identity: every ``submit`` of the same
text compiles a fresh :class:`Workflow`, and a cache keyed by ``id()`` would
grow with every call. The cache is bounded besides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wfdsl.dsl.findings import Finding, format_path
from wfdsl.dsl.model import Workflow

from wfdsl.errors import ValidationError

from .machine.limits import MAX_PAYLOAD_BYTES, json_size, payload_size_error

if TYPE_CHECKING:  # pragma: no cover
    # jsonschema (with referencing, rpds, attrs) is imported when a schema is
    # first checked: an engine whose runs declare none never loads it.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

__all__ = [
    "HANDLER_ARGS_CODE",
    "INPUT_CODE",
    "SIGNAL_DATA_CODE",
    "cached_validators",
    "check_handler_args",
    "check_input",
    "check_signal",
    "input_findings",
]

#: The finding code of an input that fails the workflow's ``input`` schema.
INPUT_CODE = "WF601"
#: A signal payload that fails its channel's schema, or an undeclared channel.
SIGNAL_DATA_CODE = "WF602"
#: A handler call's args that fail the handler's ``input`` schema.
HANDLER_ARGS_CODE = "WF603"

# (definition hash, where the schema sits) -> validator. Bounded: a
# long-lived worker that sees many definitions drops the oldest.
_CACHE_LIMIT = 1024
_validators: dict[tuple[str, str], Draft202012Validator] = {}


def _validator(schema: Mapping[str, Any], key: tuple[str, str] | None) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    if key is None or not key[0]:
        return Draft202012Validator(schema)
    validator = _validators.get(key)
    if validator is None:
        if len(_validators) >= _CACHE_LIMIT:
            del _validators[next(iter(_validators))]
        validator = _validators[key] = Draft202012Validator(schema)
    return validator


def cached_validators() -> int:
    """How many compiled validators the cache holds (for tests)."""
    return len(_validators)


def input_findings(
    schema: Mapping[str, Any] | None,
    value: Any,
    *,
    workflow: str = "",
    subject: str = "input",
    code: str = INPUT_CODE,
    cache_key: tuple[str, str] | None = None,
) -> list[Finding]:
    """Every way ``value`` fails ``schema`` (none when there is no schema).

    ``subject`` names the value in messages (``input.items[0]: ...``);
    ``cache_key`` (definition hash, place) lets the compiled validator be
    reused."""
    if schema is None:
        return []
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    validator = _validator(schema, cache_key)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
    findings = []
    for error in errors:
        path = tuple(error.absolute_path)
        where = format_path(path).replace("$", subject, 1)
        # A oneOf/anyOf failure wraps the useful reason in its context.
        reason = _reason(best_match([error, *error.context]) if error.context else error)
        findings.append(
            Finding(
                code=code,
                severity="error",
                message=f"{where}: {reason}",
                file=workflow or None,
                path=path,
            )
        )
    return findings


def _reason(error: Any) -> str:
    """jsonschema's message, with the value written as JSON rather than as
    Python (``null is not of type 'object'``, not ``None is ...``)."""
    if error.validator == "type":
        wanted = error.validator_value
        types = " or ".join(repr(t) for t in (wanted if isinstance(wanted, list) else [wanted]))
        try:
            shown = _dumps(error.instance)
        except (ValueError, TypeError, RecursionError):
            return str(error.message)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{shown} is not of type {types}"
    return str(error.message)


def _check_json(value: Any, subject: str, code: str, workflow: str, headline: str) -> None:
    """Refuse data the store could not write (NaN, a set, bytes, a lone
    surrogate, a 5,000-digit integer, a cycle) or more than
    MAX_PAYLOAD_BYTES of JSON with a ValidationError, before anything is
    stored, instead of a ValueError from the commit."""
    # Measured before it is encoded, so a 10 GB value is refused without a
    # 10 GB string; the exact size of what passes is the encoded one.
    try:
        size = json_size(value, MAX_PAYLOAD_BYTES)
        if size <= MAX_PAYLOAD_BYTES:
            size = len(_dumps(value).encode("utf-8"))
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as exc:
        reason = str(exc).split(";")[0]
        message = f"{headline}: {subject} is not JSON ({reason})"
        raise ValidationError(
            [Finding(code=code, severity="error", message=message, file=workflow or None)],
            message,
        ) from None
    if size > MAX_PAYLOAD_BYTES:
        message = f"{headline}: " + payload_size_error(subject, size)
        raise ValidationError(
            [Finding(code=code, severity="error", message=message, file=workflow or None)],
            message,
        )


_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=True).encode


def _raise(findings: list[Finding], headline: str) -> None:
    if findings:
        lines = "\n".join(f"  {f.message}" for f in findings)
        raise ValidationError(findings, f"{headline} ({len(findings)} violation(s)):\n{lines}")


def check_input(workflow: Workflow, value: Any) -> None:
    """Raise :class:`ValidationError` (WF601) listing every violation of the
    workflow's ``input`` schema, or return."""
    _check_json(value, "input", INPUT_CODE, workflow.name, f"workflow {workflow.name!r}")
    findings = input_findings(
        workflow.input_schema,
        value,
        workflow=workflow.name,
        cache_key=(workflow.source_hash, "input"),
    )
    _raise(findings, f"the input of workflow {workflow.name!r} fails its schema")


def check_signal(workflow: Workflow, channel: str, data: Any, *, run_id: str = "") -> None:
    """Raise :class:`ValidationError` (WF602) when ``channel`` is not declared
    by a workflow that declares signals, or ``data`` fails its schema."""
    run = f"run {run_id!r}: " if run_id else ""
    _check_json(channel, "the channel", SIGNAL_DATA_CODE, workflow.name, f"{run}signal")
    _check_json(data, "the data", SIGNAL_DATA_CODE, workflow.name, f"{run}signal {channel!r}")
    decl = workflow.signals.get(channel)
    if decl is None:
        if not workflow.signals_declared:
            return  # a workflow without `signals:` takes any channel (§1)
        from wfdsl.dsl.suggest import did_you_mean

        declared = ", ".join(sorted(workflow.signals))
        hint = did_you_mean(channel, workflow.signals) if isinstance(channel, str) else None
        message = (
            f"{run}channel {channel!r} is not declared by workflow {workflow.name!r} "
            f"(declared: {declared})"
        )
        raise ValidationError(
            [
                Finding(
                    code=SIGNAL_DATA_CODE,
                    severity="error",
                    message=message,
                    file=workflow.name or None,
                    suggestion=hint,
                )
            ],
            message + (f"; {hint}" if hint else ""),
        )
    findings = input_findings(
        decl.schema,
        data,
        workflow=workflow.name,
        subject="data",
        code=SIGNAL_DATA_CODE,
        cache_key=(workflow.source_hash, f"signal:{channel}"),
    )
    _raise(findings, f"{run}the {channel!r} signal's data fails the channel's schema")


def check_handler_args(workflow: Workflow, handler: str, args: Any, *, run_id: str = "") -> None:
    """Raise :class:`ValidationError` (WF603) listing every way ``args`` fail
    the handler's ``input`` schema. An unknown handler is left to the
    machine, which answers it like any other call."""
    run = f"run {run_id!r}: " if run_id else ""
    _check_json(args, "args", HANDLER_ARGS_CODE, workflow.name, f"{run}handler {handler!r}")
    found = workflow.handlers.get(handler)
    if found is None:
        return
    findings = input_findings(
        found.input_schema,
        args,
        workflow=workflow.name,
        subject="args",
        code=HANDLER_ARGS_CODE,
        cache_key=(workflow.source_hash, f"handler:{handler}"),
    )
    _raise(findings, f"{run}the args of handler {handler!r} fail its input schema")
