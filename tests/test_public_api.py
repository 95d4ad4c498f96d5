"""The public API is one explicit ``__all__`` (docs/python-api.md), and nothing else
leaks: what users import from ``wfdsl`` is a promise."""

from __future__ import annotations
import __future__

import wfdsl

# Grows with each issue: the interpreter adds Engine, Run, action, VirtualClock, ...
DOCUMENTED = {
    # docs/python-api.md: errors
    "WfdslError",
    "ValidationError",
    "ExpressionError",
    "HandlerRejected",
    "ActionError",
    "RunEnded",
    "RunNotFound",
    "RunAlreadyExists",
    # docs/python-api.md: callback tokens (engine.complete)
    "CallbackNotFound",
    "CallbackRefused",
    # docs/cli.md (run ids): an ambiguous run id prefix
    "AmbiguousRunId",
    # docs/python-api.md: `wfdsl.load(doc)` / `wfdsl.validate(doc)`, and what validate returns
    "load",
    "validate",
    "Finding",
    # docs/python-api.md: the engine and what it hands out
    "Engine",
    "Run",
    "Event",
    "ActionContext",
    "VirtualClock",
    "SystemClock",
    "action",
}


def test_all_is_exactly_the_documented_names() -> None:
    assert set(wfdsl.__all__) == DOCUMENTED
    assert len(wfdsl.__all__) == len(set(wfdsl.__all__))


def test_every_exported_name_exists() -> None:
    for name in wfdsl.__all__:
        assert getattr(wfdsl, name, None) is not None, name


def test_no_other_public_name_is_defined() -> None:
    public = {
        name
        for name, value in vars(wfdsl).items()
        if not name.startswith("_")
        and not isinstance(value, type(wfdsl))  # submodules
        and not isinstance(value, __future__._Feature)  # `from __future__ import annotations`
    }
    assert public <= set(wfdsl.__all__), public - set(wfdsl.__all__)


def test_errors_share_one_base() -> None:
    for name in (
        "ValidationError",
        "ExpressionError",
        "HandlerRejected",
        "RunNotFound",
        "RunAlreadyExists",
        "AmbiguousRunId",
    ):
        assert issubclass(getattr(wfdsl, name), wfdsl.WfdslError)
    # Code that handles "no such run" handles "which run?" too.
    assert issubclass(wfdsl.AmbiguousRunId, wfdsl.RunNotFound)


def test_validate_and_load_work_on_a_mapping() -> None:
    doc = {
        "wfdsl": "1",
        "name": "tiny",
        "start": "hello",
        "states": {
            "hello": {"type": "task", "action": "log", "args": {"message": "hi"}, "end": True}
        },
    }
    assert [f for f in wfdsl.validate(doc) if f.severity == "error"] == []
    workflow = wfdsl.load(doc)
    assert workflow.name == "tiny" and workflow.start == "hello"
    broken = {**doc, "start": "helo"}
    findings = wfdsl.validate(broken)
    assert any(isinstance(f, wfdsl.Finding) and f.code == "WF201" for f in findings)
    try:
        wfdsl.load(broken)
    except wfdsl.ValidationError as exc:
        assert any(f.code == "WF201" for f in exc.findings)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("load() accepted a document with an unknown start state")
