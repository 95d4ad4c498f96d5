"""The invalid corpus: every document in tests/dsl/invalid gives exactly its expected findings.

Each ``x.yaml`` starts with one ``# expect: CODE line:col`` header per finding
(exact code, 1-based position, nothing else reported: no knock-ons), and sits
beside ``x.findings``, the exact text ``wfdsl validate`` prints for it.
Regenerate the golden files after a deliberate change of wording with::

    WFDSL_UPDATE_GOLDEN=1 pytest tests/dsl/test_invalid_corpus.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from wfdsl.dsl.api import validate_text
from wfdsl.dsl.findings import CODES

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "dsl" / "invalid"
DOCUMENTS = sorted(CORPUS.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (WF\d{3}) (\d+):(\d+)\b")

#: Codes no file on disk of sensible size can produce; tests/dsl/test_api.py
#: covers them from generated input.
NOT_IN_CORPUS = {
    "WF005": "needs a document over 1 MB",
    "WF009": "needs an unreadable file",
    # Run-time data checks: tested through the engine (tests/interpreter).
    "WF601": "checks a run's input, not a document",
    "WF602": "checks a signal's payload, not a document",
    "WF603": "checks a handler call's args, not a document",
    "WF604": "checks a run id chosen at submit, not a document",
}


def expected(path: Path) -> list[tuple[str, int, int]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            found.append((match.group(1), int(match.group(2)), int(match.group(3))))
    return sorted(found)


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.stem for p in DOCUMENTS])
def test_findings_match_the_expect_headers(path: Path) -> None:
    findings = validate_text(path.read_text(encoding="utf-8"), relative(path))
    got = sorted((f.code, f.line or 0, f.col or 0) for f in findings)
    assert got == expected(path), "\n".join(f.format() for f in findings)


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.stem for p in DOCUMENTS])
def test_formatted_findings_equal_the_golden_file(path: Path) -> None:
    findings = validate_text(path.read_text(encoding="utf-8"), relative(path))
    text = "".join(f.format() + "\n" for f in findings)
    golden = path.with_suffix(".findings")
    if os.environ.get("WFDSL_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file: run WFDSL_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(encoding="utf-8")


def test_every_document_has_a_header_and_a_golden_file() -> None:
    assert len(DOCUMENTS) >= 72
    for path in DOCUMENTS:
        assert expected(path), f"{path.name} has no '# expect:' header"
        assert path.with_suffix(".findings").exists(), path.name
    orphans = {p.stem for p in CORPUS.glob("*.findings")} - {p.stem for p in DOCUMENTS}
    assert not orphans


def test_the_corpus_covers_every_code() -> None:
    covered = {code for path in DOCUMENTS for code, _, _ in expected(path)}
    assert set(CODES) - covered == set(NOT_IN_CORPUS)
    assert not covered - set(CODES), "a header names a code that does not exist"
