"""Shared by the check tests: compile YAML text, run the checks, read expectations.

An expected finding is written into the document itself, as a comment at
the end of the line it must point at: ``next: welcom  # <- WF201 at welcom``
means a WF201 whose line is this one and whose column is where ``welcom``
starts on it. The tests of every check import :func:`findings` and
:func:`expected` from here; this module also holds the two corpus tests:
the examples are clean, and each invalid document of a code owned by the
checks gives exactly its finding.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from wfdsl.dsl.checks import CheckContext, run_checks
from wfdsl.dsl.findings import Finding, sort_findings

REPO = Path(__file__).resolve().parents[3]
MARK = re.compile(r"#\s*<-\s*(WF\d+)\s+at\s+(\S+)")

#: Codes the checks own (the compiler and the schema stage report the others).
CHECK_CODES = frozenset(
    {
        "WF201", "WF202", "WF203", "WF204", "WF205", "WF206", "WF207", "WF209", "WF210",
        "WF211", "WF302", "WF303", "WF304", "WF401", "WF402", "WF501", "WF506",
    }
)  # fmt: skip


def compile_yaml(text: str, file: str | None = None) -> tuple[object, list[Finding]]:
    """The compiled workflow and the findings of the stages before the checks."""
    try:
        from wfdsl.dsl.api import compile_text  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from wfdsl.dsl.compiler import compile_document
        from wfdsl.dsl.loader import parse_document

        doc = parse_document(text, file)
        if not doc.ok:
            return None, list(doc.findings)
        workflow, found = compile_document(doc)
        return workflow, found
    workflow, found = compile_text(text, file=file)
    return workflow, [f for f in found if f.code not in CHECK_CODES]


def findings(text: str, file: str | None = None) -> list[Finding]:
    """Every finding of the checks for a document that is otherwise valid."""
    text = textwrap.dedent(text).lstrip("\n")
    workflow, earlier = compile_yaml(text, file)
    assert workflow is not None, earlier
    assert not [f for f in earlier if f.severity == "error"], earlier
    ctx = CheckContext(workflow, workflow.source_map, file)  # type: ignore[attr-defined]
    return sort_findings(run_checks(ctx))


def expected(text: str) -> list[tuple[str, int, int]]:
    """(code, line, col) of every ``# <- CODE at TOKEN`` mark in the document."""
    text = textwrap.dedent(text).lstrip("\n")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = MARK.search(line)
        if match:
            code, token = match.groups()
            column = line.index(token) + 1
            out.append((code, number, column))
    return sorted(out)


def positions(found: list[Finding]) -> list[tuple[str, int, int]]:
    return sorted((f.code, f.line or 0, f.col or 0) for f in found)


def assert_findings(text: str, *fragments: str) -> list[Finding]:
    """The marks of ``text`` are exactly its findings; each fragment is in some message."""
    found = findings(text)
    assert positions(found) == expected(text), [f.format() for f in found]
    for fragment in fragments:
        assert any(fragment in f.text for f in found), (fragment, [f.text for f in found])
    return found


EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in EXAMPLES])
def test_examples_are_clean(path: Path) -> None:
    """Every example validates clean under --strict: not even an info from the checks."""
    found = findings(path.read_text(encoding="utf-8"), str(path))
    assert [f.format() for f in found] == []


def _corpus() -> list[object]:
    cases = []
    for path in sorted((REPO / "tests" / "dsl" / "invalid").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        marks = re.findall(r"^# expect: (WF\d+) (\d+):(\d+)", text, re.MULTILINE)
        # A next/end the schema forbids is WF204 from the schema stage, not from here.
        schema_shaped = "the schema forbids" in text
        if marks and not schema_shaped and all(code in CHECK_CODES for code, _, _ in marks):
            expect = sorted((code, int(line), int(col)) for code, line, col in marks)
            cases.append(pytest.param(path, expect, id=path.stem))
    return cases


@pytest.mark.parametrize(("path", "expect"), _corpus())
def test_invalid_corpus_gives_exactly_its_findings(
    path: Path, expect: list[tuple[str, int, int]]
) -> None:
    text = path.read_text(encoding="utf-8")
    workflow, _ = compile_yaml(text, str(path))
    assert workflow is not None
    ctx = CheckContext(workflow, workflow.source_map, str(path))  # type: ignore[attr-defined]
    found = sort_findings(run_checks(ctx))
    assert positions(found) == expect, [f.format() for f in found]
