"""The pytest plugin (entry point ``pytest11``, name ``wfdsl``): ``*.test.yaml`` files
are collected beside Python tests, one pytest item per case.

Only files whose name ends in ``.test.yaml`` are collected, so a project's
other YAML (flows, CI files) is never touched; ``-p no:wfdsl`` turns the
plugin off. An invalid test file (or flow) is one failing item that lists
every finding; a failed case shows each expectation's diff and the history
around it, as ``wfdsl test`` does. ``-k`` selects cases by name as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .format import Case, TestFile, TestFileError, load_test_file
from .report import failure_lines
from .runner import TEST_SUFFIX, CaseResult, run_case

__all__ = ["CaseFailed", "WfdslCase", "WfdslTestFile", "pytest_collect_file"]


class CaseFailed(Exception):
    """A case's expectations did not hold (the result says which)."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.case.name)
        self.result = result


class InvalidTestFile(Exception):
    pass


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.name.endswith(TEST_SUFFIX):
        collector: WfdslTestFile = WfdslTestFile.from_parent(parent, path=file_path)
        return collector
    return None


class WfdslTestFile(pytest.File):
    """One ``*.test.yaml`` file."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            test_file = load_test_file(self.path)
        except TestFileError as exc:
            yield WfdslInvalid.from_parent(self, name="(invalid test file)", error=exc)
            return
        for case in test_file.cases:
            yield WfdslCase.from_parent(self, name=case.name, test_file=test_file, case=case)


class WfdslCase(pytest.Item):
    """One case, run on virtual time in an in-memory store."""

    def __init__(self, *, test_file: TestFile, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test_file = test_file
        self.case = case

    def runtest(self) -> None:
        result = run_case(self.test_file, self.case)
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, CaseFailed):
            result = excinfo.value.result
            lines = [f"case {self.case.name!r} of {self.test_file.path} failed:"]
            for failure in result.failures:
                lines += failure_lines(result, failure)
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line or 1) - 1, f"case: {self.case.name}"


class WfdslInvalid(pytest.Item):
    """A test file that could not be loaded: fails with every finding."""

    def __init__(self, *, error: TestFileError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise InvalidTestFile(str(self.error))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        return "invalid test file or flow:\n" + "\n".join(f.format() for f in self.error.findings)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, "invalid test file"
