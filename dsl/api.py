"""The front end's public entry points: text, a file or a mapping in; findings and a Workflow out.

One pipeline serves them all::

    parse_document -> check_schema + check_embedded_schemas -> compile_document -> run_checks

Each stage reports every problem it sees, but a mistake is reported once:
when an earlier stage has found the document broken, later findings that
are only consequences of the breakage are left out (the knock-on policy,
docs/decisions.md "Front end"):

- the text does not load (any loader error): only the loader's findings;
- the schema reports a problem: the compiler's findings at or under a node
  the schema already reported are dropped, and of the checks only the local
  ones (expressions: WF302-WF304, undeclared signals: WF501) are kept, again
  outside reported nodes; the graph and dataflow checks reason about the
  whole machine and are not run on a machine the schema says is malformed.
  Invalid embedded JSON Schemas (WF107) do not count: they break nothing else;
- the compiler reports a problem (a bad expression, duration, var path...):
  every check still runs, since the compiler keeps a harmless stand-in for the
  bad value; a check finding at the very node the compiler reported is dropped.
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml import YAML

from wfdsl.errors import ValidationError

from .checks import CheckContext, run_checks
from .compiler import compile_document
from .findings import Finding, has_errors, sort_findings
from .loader import parse_document, read_source
from .model import Workflow
from .schema_check import check_embedded_schemas, check_schema
from .source import JsonPath

__all__ = [
    "DocumentSource",
    "compile_text",
    "load",
    "validate",
    "validate_path",
    "validate_text",
]

DocumentSource = str | os.PathLike[str] | Mapping[str, Any]

#: Under ``strict``, these warnings become errors (docs/findings.md: dataflow is an
#: error under --strict). Other warnings stay warnings; the CLI fails on any
#: warning under --strict.
STRICT_PROMOTED = frozenset({"WF401", "WF402"})

#: Check findings that stay trustworthy when the schema found the document malformed.
_LOCAL_CHECK_CODES = frozenset({"WF302", "WF303", "WF304", "WF501"})
_NOT_STRUCTURAL = frozenset({"WF107"})
_ABOUT_THE_MAPPING = frozenset({"WF101", "WF103"})


def compile_text(
    text: str, file: str | None = None, *, strict: bool = False
) -> tuple[Workflow | None, list[Finding]]:
    """Run the whole pipeline over YAML ``text``.

    Returns the compiled workflow and every finding, sorted. The workflow is
    ``None`` when the text does not load as a mapping; otherwise it is
    returned even when there are errors (the designer draws what it can),
    so callers that run it must check :func:`~wfdsl.dsl.findings.has_errors`
    first, or use :func:`load`, which raises.

    Results are cached by (text, file, strict): the records are frozen, and
    the designer and the engine validate the same text again and again.
    """
    workflow, findings = _compile_cached(text, file, strict)
    return workflow, list(findings)


@functools.lru_cache(maxsize=64)
def _compile_cached(
    text: str, file: str | None, strict: bool
) -> tuple[Workflow | None, tuple[Finding, ...]]:
    workflow, findings = _compile(text, file, strict)
    return workflow, tuple(findings)


def _compile(text: str, file: str | None, strict: bool) -> tuple[Workflow | None, list[Finding]]:
    loaded = parse_document(text, file)
    if not loaded.ok:
        return None, _finish(loaded.findings, file, strict)
    findings: list[Finding] = list(loaded.findings)

    schema_findings = list(check_schema(loaded))
    embedded = list(check_embedded_schemas(loaded))
    findings += schema_findings + embedded
    structural = [f for f in schema_findings if f.code not in _NOT_STRUCTURAL]
    reported = _reported_nodes(schema_findings + embedded)

    workflow, compiled = compile_document(loaded)
    findings += [f for f in compiled if not _under_any(f.path, reported)]
    if workflow is None:
        return None, _finish(findings, file, strict)

    compiler_paths = {f.path for f in compiled}
    for finding in run_checks(CheckContext(workflow, loaded.source_map, file)):
        if structural and (
            finding.code not in _LOCAL_CHECK_CODES or _under_any(finding.path, reported)
        ):
            continue
        if finding.path in compiler_paths:
            continue
        findings.append(finding)
    return workflow, _finish(findings, file, strict)


def validate_text(text: str, file: str | None = None, *, strict: bool = False) -> list[Finding]:
    """Every finding about the YAML document ``text`` (``file`` is only for messages)."""
    return compile_text(text, file, strict=strict)[1]


def validate_path(path: str | os.PathLike[str], *, strict: bool = False) -> list[Finding]:
    """Every finding about the workflow file at ``path`` (WF009 when it cannot be read)."""
    text, problem = read_source(path)
    if text is None:
        return [problem] if problem is not None else []
    return validate_text(text, os.fspath(path), strict=strict)


def load(doc: DocumentSource, *, strict: bool = False) -> Workflow:
    """The compiled workflow of ``doc`` (a path, YAML text or a mapping).

    Raises :class:`wfdsl.ValidationError` carrying every finding when any of
    them is an error (under ``strict``, WF401/WF402 are errors too).
    """
    text, file, problem = _source(doc)
    if text is None:
        raise ValidationError([problem] if problem is not None else [])
    workflow, findings = compile_text(text, file, strict=strict)
    if workflow is None or has_errors(findings):
        raise ValidationError(findings)
    return workflow


def validate(doc: DocumentSource, *, strict: bool = False) -> list[Finding]:
    """Every finding about ``doc`` (a path, YAML text or a mapping), sorted; never raises
    for a bad document."""
    text, file, problem = _source(doc)
    if text is None:
        return [problem] if problem is not None else []
    return validate_text(text, file, strict=strict)


# --------------------------------------------------------------------- helpers


def _source(doc: DocumentSource) -> tuple[str | None, str | None, Finding | None]:
    """(text, file, problem) for a path, YAML text or a mapping."""
    if isinstance(doc, Mapping):
        return dump_mapping(doc), None, None
    if isinstance(doc, os.PathLike) or (isinstance(doc, str) and _looks_like_path(doc)):
        text, problem = read_source(doc)
        return text, os.fspath(doc), problem
    if isinstance(doc, str):
        return doc, None, None
    raise TypeError(
        f"a workflow document is a path, YAML text or a mapping, not {type(doc).__name__}"
    )


def _looks_like_path(text: str) -> bool:
    if "\n" in text or not text.strip():
        return False
    if text.endswith((".yaml", ".yml")):
        return True
    try:
        return os.path.isfile(text)
    except (OSError, ValueError):
        return False


def dump_mapping(doc: Mapping[str, Any]) -> str:
    """A mapping as block-style YAML text, so findings have lines and the hash is stable.

    Remembered by the mapping's exact JSON form (order, types and all): the
    pure-Python dumper takes ~2 ms for a small workflow, which made
    ``Engine.submit`` of the same dict ~100x slower than ``start``."""
    plain = _plain(doc)
    try:
        key = json.dumps(plain, ensure_ascii=False, allow_nan=True, default=_typed_repr)
    except (TypeError, ValueError, RecursionError):
        return _dump_yaml(plain)
    return _dump_remembered(key, plain)


def _typed_repr(value: Any) -> str:
    # Part of the cache key only: a value JSON cannot write keeps its type.
    return f"<{type(value).__module__}.{type(value).__qualname__} {value!r}>"


_DUMPED: dict[str, str] = {}


def _dump_remembered(key: str, plain: Any) -> str:
    text = _DUMPED.get(key)
    if text is None:
        text = _dump_yaml(plain)
        if len(_DUMPED) >= 256:
            _DUMPED.clear()
        _DUMPED[key] = text
    return text


def _dump_yaml(plain: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    # Keep the mapping's own key order: the document reads as it was written.
    yaml.representer.sort_base_mapping_type_on_output = False
    stream = io.StringIO()
    yaml.dump(plain, stream)
    return stream.getvalue()


def _plain(value: Any) -> Any:
    """Mappings and sequences as dict and list, so the safe dumper takes any Mapping."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _under(path: JsonPath, ancestor: JsonPath) -> bool:
    return path[: len(ancestor)] == ancestor


def _under_any(path: JsonPath, reported: Iterable[tuple[JsonPath, bool]]) -> bool:
    return any(_under(path, node) if whole else path == node for node, whole in reported)


def _reported_nodes(findings: Iterable[Finding]) -> list[tuple[JsonPath, bool]]:
    """(path, whole subtree?) of each schema finding. A missing key (WF103) or a
    mapping that fits no shape (WF101) says nothing against the values inside it."""
    return [(f.path, f.code not in _ABOUT_THE_MAPPING) for f in findings]


def _finish(findings: Iterable[Finding], file: str | None, strict: bool) -> list[Finding]:
    out = []
    for finding in findings:
        if finding.file != file:
            finding = finding.with_file(file)
        if strict and finding.code in STRICT_PROMOTED and finding.severity != "error":
            finding = finding.as_error()
        out.append(finding)
    return sort_findings(out)
