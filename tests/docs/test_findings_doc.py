"""docs/findings.md documents every finding code, and only real ones."""

from __future__ import annotations

import re
from pathlib import Path

from wfdsl.dsl.findings import CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "findings.md"
HEADING = re.compile(r"^## (WF\d{3}) (\S+)$", re.MULTILINE)


def sections() -> dict[str, tuple[str, str]]:
    """code -> (name in the heading, body up to the next heading)."""
    text = DOC.read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    out = {}
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        assert m.group(1) not in out, f"{m.group(1)} has two sections"
        out[m.group(1)] = (m.group(2), text[m.end() : end])
    return out


def test_every_code_has_a_section() -> None:
    missing = set(CODES) - set(sections())
    assert not missing, f"docs/findings.md lacks a section for {sorted(missing)}"


def test_no_section_names_an_unknown_code() -> None:
    unknown = set(sections()) - set(CODES)
    assert not unknown, f"docs/findings.md documents codes that do not exist: {sorted(unknown)}"
    mentioned = set(re.findall(r"\bWF\d{3}\b", DOC.read_text(encoding="utf-8")))
    assert mentioned <= set(CODES), mentioned - set(CODES)


def test_sections_give_name_severity_and_a_fix() -> None:
    for code, (name, body) in sections().items():
        assert name == CODES[code].name, code
        assert f"Severity: {CODES[code].severity}" in body, code
        assert "Fix:" in body, code


def test_sections_follow_code_order() -> None:
    assert list(sections()) == sorted(sections())
