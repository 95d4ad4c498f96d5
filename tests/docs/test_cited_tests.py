"""Every test docs/ cites as proof exists: each ``tests/…py::name`` (and each
``::name`` that continues the file cited just before it) names a test file of
the tree that defines ``name``. A test renamed, moved or deleted without its
citation fails here, saying which document and line still cites it."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: A cited test file, or ``::name`` after one; ``A::b`` is a method of a class.
CITATION = re.compile(
    r"(?P<file>tests/[\w./-]+\.py)(?P<names>(?:::\w+)*)|(?<![\w./-])(?P<more>(?:::\w+)+)"
)


@cache
def defined_names(path: Path) -> dict[str, frozenset[str]]:
    """A test module's top-level names (functions, classes, assignments such
    as ``test_x = Machine.TestCase``) and, under each class, its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, frozenset[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = frozenset()
        elif isinstance(node, ast.ClassDef):
            names[node.name] = frozenset(
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            )
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = frozenset()
    return names


def broken_citations(text: str, where: str, root: Path = ROOT) -> list[str]:
    """Each citation in ``text`` whose file or test does not exist under
    ``root``, as ``where:line: citation: why``."""
    broken: list[str] = []
    current: str | None = None
    for match in CITATION.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if match.group("file"):
            current = match.group("file")
            chain = match.group("names")
        elif current is None:
            broken.append(f"{where}:{line}: {match.group('more')}: no test file cited before it")
            continue
        else:
            chain = match.group("more")
        cited = f"{current}{chain}"
        path = root / current
        if not path.is_file():
            broken.append(f"{where}:{line}: {cited}: no such file")
            continue
        parts = [part for part in chain.split("::") if part]
        if not parts:
            continue
        names = defined_names(path)
        if parts[0] not in names:
            broken.append(f"{where}:{line}: {cited}: {current} has no {parts[0]}")
        elif len(parts) > 1 and parts[1] not in names[parts[0]]:
            broken.append(f"{where}:{line}: {cited}: {parts[0]} has no {parts[1]}")
    return broken


def test_every_test_the_docs_cite_exists() -> None:
    broken = [
        problem
        for doc in sorted(DOCS.rglob("*.md"))
        for problem in broken_citations(doc.read_text(encoding="utf-8"), str(doc.relative_to(ROOT)))
    ]
    assert not broken, "docs/ cite tests that do not exist:\n" + "\n".join(broken)


def test_the_docs_cite_tests_at_all() -> None:
    # The check above passes vacuously if the pattern stops matching.
    text = (DOCS / "guarantees.md").read_text(encoding="utf-8")
    cited = [m for m in CITATION.finditer(text) if m.group("names") or m.group("more")]
    assert len(cited) > 50


def test_a_moved_or_renamed_test_is_reported_with_its_line() -> None:
    text = (
        "Proof: `tests/docs/test_cited_tests.py::test_every_test_the_docs_cite_exists`\n"
        "and `::test_that_was_renamed`, `tests/no_such_file.py::test_x`,\n"
        "`tests/docs/test_cited_tests.py::defined_names::inner`.\n"
    )
    assert broken_citations(text, "docs/x.md") == [
        "docs/x.md:2: tests/docs/test_cited_tests.py::test_that_was_renamed:"
        " tests/docs/test_cited_tests.py has no test_that_was_renamed",
        "docs/x.md:2: tests/no_such_file.py::test_x: no such file",
        "docs/x.md:3: tests/docs/test_cited_tests.py::defined_names::inner:"
        " defined_names has no inner",
    ]


def test_a_continuation_with_no_file_before_it_is_reported() -> None:
    assert broken_citations("see `::test_alone`", "docs/y.md") == [
        "docs/y.md:1: ::test_alone: no test file cited before it"
    ]
