"""JUnit XML for CI: one ``<testsuite>`` per test file, one ``<testcase>`` per case.

An invalid test file is a suite with one ``<error>`` holding its findings,
a failed case a ``<failure>`` listing every expectation that did not hold.
The layout is the one Jenkins, GitLab and GitHub's test reporters read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from .runner import FileResult

__all__ = ["junit_xml", "write_junit"]


def _text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def junit_xml(results: Sequence[FileResult]) -> str:
    root = ET.Element("testsuites", name="wfdsl test")
    total = failed = errors = 0
    for result in results:
        suite = ET.SubElement(root, "testsuite", name=result.path)
        if result.invalid:
            errors += 1
            case = ET.SubElement(suite, "testcase", name="(load)", classname=result.path)
            error = ET.SubElement(case, "error", message="invalid test file or flow")
            error.text = "\n".join(f.format() for f in result.findings)
            suite.set("tests", "1")
            suite.set("errors", "1")
            suite.set("failures", "0")
            total += 1
            continue
        suite_failed = 0
        for r in result.cases:
            case = ET.SubElement(
                suite,
                "testcase",
                name=r.case.name,
                classname=result.path,
                time="0",
            )
            if not r.passed:
                suite_failed += 1
                failure = ET.SubElement(
                    case, "failure", message=r.failures[0].message, type="ExpectationFailed"
                )
                failure.text = "\n".join(
                    f"{f.what}: {f.message}\n  expected: {_text(f.expected)}\n"
                    f"  actual:   {_text(f.actual)}"
                    for f in r.failures
                )
        suite.set("tests", str(len(result.cases)))
        suite.set("failures", str(suite_failed))
        suite.set("errors", "0")
        total += len(result.cases)
        failed += suite_failed
    root.set("tests", str(total))
    root.set("failures", str(failed))
    root.set("errors", str(errors))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | os.PathLike[str], results: Sequence[FileResult]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(junit_xml(results))
