"""``wfdsl test``: declarative tests for flows, with mocks, virtual time and coverage.

A ``*.test.yaml`` file names a flow and lists cases (input, mocks, a
timeline of signals and handler calls, expectations); :func:`run_paths`
runs them, :mod:`.coverage` says which states and edges they took,
:mod:`.record` writes a case from a stored run, and :mod:`.pytest_plugin`
lets ``pytest`` collect the same files. docs/testing.md is the reference.
"""

from .expectations import Failure
from .format import Case, TestFile, TestFileError, load_test_file
from .runner import CaseResult, FileResult, discover, run_case, run_file, run_paths

__all__ = [
    "Case",
    "CaseResult",
    "Failure",
    "FileResult",
    "TestFile",
    "TestFileError",
    "discover",
    "load_test_file",
    "run_case",
    "run_file",
    "run_paths",
]
