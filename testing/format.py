"""The ``*.test.yaml`` format: loading, checking and the records it compiles to.

A test file is YAML checked against its own JSON Schema
(``schemas/wfdsl-test-1.schema.json``), with the flow's loader, so every
problem is a :class:`~wfdsl.dsl.findings.Finding` with ``file:line:col``
exactly as ``wfdsl validate`` reports a flow's. Beyond the schema it checks
what only the flow can tell: that the flow file exists and is valid (its own
findings are passed on), and that the states, handlers and signals the cases
name exist in it (with a "did you mean"). Codes (documented in
docs/testing.md): WT001 the test file is not valid YAML or cannot be read,
WT101 a schema violation, WT102 a bad duration or time, WT201 the flow is
missing or invalid, WT202 a case names a state, handler or signal the flow
does not have.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from wfdsl.dsl.api import compile_text
from wfdsl.dsl.durations import parse_duration, parse_timestamp
from wfdsl.dsl.findings import Finding, JsonPath, format_path
from wfdsl.dsl.loader import LoadedDocument, parse_document, read_source
from wfdsl.dsl.model import Workflow
from wfdsl.dsl.stategraph import iter_scopes
from wfdsl.dsl.suggest import did_you_mean

__all__ = [
    "DEFAULT_UNTIL",
    "SCHEMA_FILE",
    "Case",
    "Mock",
    "Outcome",
    "TestFile",
    "TestFileError",
    "TimelineEvent",
    "load_test_file",
    "schema",
    "state_names",
]

SCHEMA_FILE = "wfdsl-test-1.schema.json"

#: How long after its start a case's run is driven at most (a leap year).
DEFAULT_UNTIL = 366 * 86400.0


class TestFileError(Exception):
    """A test file (or its flow) is invalid; ``findings`` says every problem."""

    __test__ = False  # not a pytest test class

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("\n".join(f.format() for f in findings))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt of a mocked call does: return a value or raise, after a virtual duration."""

    value: Any = None
    error: str | None = None
    message: str = ""
    details: Mapping[str, Any] | None = None
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class Mock:
    """Outcomes by attempt (the last repeats) for an action, or for a state's call or undo;
    with ``args``, only for calls whose args include these (a map's iterations)."""

    outcomes: tuple[Outcome, ...]
    action: str | None = None
    state: str | None = None
    undo: bool = False
    args: Any = None

    def outcome(self, attempt: int) -> Outcome:
        return self.outcomes[min(attempt, len(self.outcomes)) - 1]


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """Something done to the run at ``at`` seconds after it started."""

    at: float
    kind: str  # signal, call, complete, cancel, pause, resume
    name: str | None = None  # the channel, handler or (complete) state
    data: Any = None  # signal data, handler args, or {output, error, message}
    returns: Any = None
    expects_return: bool = False
    rejected: bool | str | None = None
    compensate: bool = False
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    index: int
    input: Any = None
    run_id: str = "test"
    start: float | None = None
    mocks: tuple[Mock, ...] = ()
    timeline: tuple[TimelineEvent, ...] = ()
    expect: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    until: float = DEFAULT_UNTIL


@dataclass(frozen=True, slots=True)
class TestFile:
    """A loaded, checked test file and the flow it tests."""

    __test__ = False

    path: str
    flow_path: str
    workflow: Workflow
    cases: tuple[Case, ...]


@cache
def schema() -> Mapping[str, Any]:
    """The test file format's JSON Schema, as shipped in the package."""
    loaded: dict[str, Any] = json.loads(
        (files("wfdsl.schemas") / SCHEMA_FILE).read_text(encoding="utf-8")
    )
    return loaded


def load_test_file(path: str | os.PathLike[str]) -> TestFile:
    """Load and check ``path``; raises :class:`TestFileError` with every finding."""
    file = os.fspath(path)
    text, problem = read_source(file)
    if text is None:
        raise TestFileError([_recode(problem, "WT001")] if problem else [])
    doc = parse_document(text, file)
    if not doc.ok:
        raise TestFileError([_recode(f, "WT001") for f in doc.findings if f.severity == "error"])
    findings = list(_schema_findings(doc))
    if findings:
        raise TestFileError(findings)
    data = doc.data
    flow_file = os.path.normpath(Path(file).parent / data["flow"])
    workflow = _load_flow(doc, flow_file)
    checker = _Checker(doc, workflow)
    cases = tuple(checker.case(i, c, data.get("mocks") or []) for i, c in enumerate(data["cases"]))
    if checker.findings:
        raise TestFileError(checker.findings)
    return TestFile(file, flow_file, workflow, cases)


def state_names(workflow: Workflow) -> set[str]:
    """Every state path a test may name: ``a``, ``fan_out/b/call_b``, ``each/charge``."""
    names: set[str] = set()
    for info in iter_scopes(workflow):
        prefix = ""
        for owner, branch in info.owners:
            prefix += owner.name + "/" + (branch.name + "/" if branch is not None else "")
        names.update(prefix + name for name in info.scope.states)
    return names


# ------------------------------------------------------------------ checks


def _recode(finding: Finding, code: str) -> Finding:
    from dataclasses import replace

    return replace(finding, code=code, severity="error")


def _at(doc: LoadedDocument, code: str, message: str, path: JsonPath, **kw: Any) -> Finding:
    span = doc.source_map.locate(path)
    return Finding(code, "error", message, doc.file, span.line, span.col, path=path, **kw)


def _schema_findings(doc: LoadedDocument) -> Iterator[Finding]:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    validator = Draft202012Validator(schema())
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(e.absolute_path)):
        if error.context:
            error = best_match(error.context)
        path: JsonPath = tuple(error.absolute_path)
        where = format_path(path) if path else "the test file"
        yield _at(doc, "WT101", f"{where}: {error.message}", path)


def _load_flow(doc: LoadedDocument, flow_file: str) -> Workflow:
    path: JsonPath = ("flow",)
    text, problem = read_source(flow_file)
    if text is None:
        message = problem.message if problem else "cannot be read"
        raise TestFileError([_at(doc, "WT201", f"flow {flow_file!r}: {message}", path)])
    workflow, findings = compile_text(text, flow_file)
    errors = [f for f in findings if f.severity == "error"]
    if workflow is None or errors:
        head = _at(doc, "WT201", f"flow {flow_file!r} is invalid ({len(errors)} error(s))", path)
        raise TestFileError([head, *errors])
    return workflow


def _mock_key(mock: Mock) -> tuple[str | None, str | None, bool, str]:
    return (mock.action, mock.state, mock.undo, json.dumps(mock.args, sort_keys=True))


def _specificity(mock: Mock) -> tuple[bool, bool]:
    return (mock.state is None, mock.args is None)


class _Checker:
    def __init__(self, doc: LoadedDocument, workflow: Workflow) -> None:
        self.doc = doc
        self.workflow = workflow
        self.states = state_names(workflow)
        self.findings: list[Finding] = []

    def fail(self, code: str, message: str, path: JsonPath, suggestion: str | None = None) -> None:
        self.findings.append(_at(self.doc, code, message, path, suggestion=suggestion))

    def known(self, what: str, name: str, known: set[str], path: JsonPath) -> None:
        if name not in known:
            self.fail(
                "WT202",
                f"the flow '{self.workflow.name}' has no {what} '{name}'",
                path,
                did_you_mean(name, known),
            )

    def seconds(self, value: Any, path: JsonPath) -> float:
        try:
            return parse_duration(value)
        except (ValueError, TypeError) as exc:
            self.fail("WT102", f"{format_path(path)}: {exc}", path)
            return 0.0

    def case(self, index: int, data: Mapping[str, Any], shared: list[Any]) -> Case:
        base: JsonPath = ("cases", index)
        start = None
        if "start" in data:
            try:
                start = parse_timestamp(data["start"]).timestamp()
            except ValueError as exc:
                self.fail("WT102", f"{format_path((*base, 'start'))}: {exc}", (*base, "start"))
        own = [self.mock(m, (*base, "mocks", i)) for i, m in enumerate(data.get("mocks") or [])]
        common = [self.mock(m, ("mocks", i)) for i, m in enumerate(shared)]
        # The first mock that applies answers a call: the case's own before the
        # shared ones, and in each a state's before an action's, one naming
        # args before one that does not.
        mine = {_mock_key(m) for m in own}
        mocks = sorted(own, key=_specificity) + sorted(
            (m for m in common if _mock_key(m) not in mine), key=_specificity
        )
        timeline = [
            self.event(e, (*base, "timeline", i)) for i, e in enumerate(data.get("timeline") or [])
        ]
        expect = data.get("expect") or {}
        self.expectations(expect, (*base, "expect"))
        return Case(
            name=data["name"],
            index=index,
            input=data.get("input"),
            run_id=data.get("run_id", "test"),
            start=start,
            mocks=tuple(mocks),
            timeline=tuple(sorted(timeline, key=lambda e: e.at)),
            expect=expect,
            line=self.doc.source_map.locate(base).line,
            until=self.seconds(data["until"], (*base, "until"))
            if "until" in data
            else DEFAULT_UNTIL,
        )

    def outcome(self, data: Mapping[str, Any], path: JsonPath) -> Outcome:
        duration = (
            self.seconds(data["duration"], (*path, "duration")) if "duration" in data else 0.0
        )
        raised = data.get("raise")
        if raised is None:
            return Outcome(value=data.get("return"), duration=duration)
        if isinstance(raised, str):
            return Outcome(error=raised, duration=duration)
        return Outcome(
            error=raised["error"],
            message=raised.get("message", ""),
            details=raised.get("details"),
            duration=duration,
        )

    def mock(self, data: Mapping[str, Any], path: JsonPath) -> Mock:
        if "state" in data:
            self.known("state", data["state"], self.states, (*path, "state"))
        if "attempts" in data:
            outcomes = tuple(
                self.outcome(o, (*path, "attempts", i)) for i, o in enumerate(data["attempts"])
            )
        else:
            outcomes = (self.outcome(data, path),)
        return Mock(
            outcomes,
            data.get("action"),
            data.get("state"),
            bool(data.get("undo")),
            data.get("args"),
        )

    def event(self, data: Mapping[str, Any], path: JsonPath) -> TimelineEvent:
        at = self.seconds(data["at"], (*path, "at"))
        line = self.doc.source_map.locate(path).line
        if "signal" in data:
            if self.workflow.signals:
                self.known("signal", data["signal"], set(self.workflow.signals), (*path, "signal"))
            return TimelineEvent(at, "signal", data["signal"], data.get("data"), line=line)
        if "call" in data:
            self.known("handler", data["call"], set(self.workflow.handlers), (*path, "call"))
            return TimelineEvent(
                at,
                "call",
                data["call"],
                data.get("args"),
                returns=data.get("returns"),
                expects_return="returns" in data,
                rejected=data.get("rejected"),
                line=line,
            )
        if "complete" in data:
            self.known("state", data["complete"], self.states, (*path, "complete"))
            keys = ("output", "error", "message", "heartbeat")
            completion = {k: data[k] for k in keys if k in data}
            return TimelineEvent(at, "complete", data["complete"], completion, line=line)
        if "cancel" in data:
            cancel = data["cancel"]
            compensate = isinstance(cancel, dict) and bool(cancel.get("compensate"))
            return TimelineEvent(at, "cancel", compensate=compensate, line=line)
        return TimelineEvent(at, "pause" if "pause" in data else "resume", line=line)

    def expectations(self, expect: Mapping[str, Any], path: JsonPath) -> None:
        for key in ("states", "states_include", "not_entered", "compensated"):
            for i, name in enumerate(expect.get(key) or []):
                self.known("state", name, self.states, (*path, key, i))
        for name in expect.get("entered") or {}:
            self.known("state", name, self.states, (*path, "entered", name))
        # calls[].state is not checked: a subflow's child run makes calls from its own states.
