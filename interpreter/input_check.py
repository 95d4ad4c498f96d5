"""A run's input against its workflow's ``input`` JSON Schema (DSL.md §1).

Checked at submit, before anything is stored: a refused input leaves no run
behind. Every violation is reported (``iter_errors``), each as a
:class:`Finding` whose ``path`` points into the input, so the CLI prints them
the same way as document findings and exits 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from wfdsl.dsl.findings import Finding, format_path

from wfdsl.errors import ValidationError

__all__ = ["INPUT_CODE", "check_input", "input_findings"]

#: The finding code of an input that fails the workflow's ``input`` schema.
INPUT_CODE = "WF601"

_validators: dict[int, Draft202012Validator] = {}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    # Compiled workflows are frozen and cached by content hash, so the schema
    # object lives as long as its workflow: its id is a sound cache key.
    key = id(schema)
    validator = _validators.get(key)
    if validator is None or validator.schema is not schema:
        validator = Draft202012Validator(schema)
        _validators[key] = validator
    return validator


def input_findings(
    schema: Mapping[str, Any] | None, value: Any, *, workflow: str = "", subject: str = "input"
) -> list[Finding]:
    """Every way ``value`` fails ``schema`` (none when there is no schema)."""
    if schema is None:
        return []
    errors = sorted(_validator(schema).iter_errors(value), key=lambda e: list(map(str, e.path)))
    findings = []
    for error in errors:
        path = tuple(error.absolute_path)
        where = format_path(path).replace("$", subject, 1)
        # A oneOf/anyOf failure wraps the useful reason in its context.
        reason = best_match([error, *error.context]).message if error.context else error.message
        findings.append(
            Finding(
                code=INPUT_CODE,
                severity="error",
                message=f"{where}: {reason}",
                file=workflow or None,
                path=path,
            )
        )
    return findings


def check_input(schema: Mapping[str, Any] | None, value: Any, *, workflow: str = "") -> None:
    """Raise :class:`ValidationError` listing every violation, or return."""
    findings = input_findings(schema, value, workflow=workflow)
    if findings:
        lines = "\n".join(f"  {f.message}" for f in findings)
        raise ValidationError(
            findings,
            f"the input of workflow {workflow!r} fails its schema "
            f"({len(findings)} violation(s)):\n{lines}",
        )
