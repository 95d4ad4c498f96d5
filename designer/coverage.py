"""``GET /api/files/{path}/coverage``: what the flow's ``wfdsl test`` cases take.

The workspace's ``*.test.yaml`` files that test the flow are run as
``wfdsl test`` runs them (in memory, on virtual time, every action mocked)
and the states and transitions their cases took come back per graph edge, so
the editor can draw the transitions no case takes as dashed lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from wfdsl.testing import TestFileError, load_test_file, run_file
from wfdsl.testing.coverage import collect

from .api import ctx, file_path, off_loop, read_file
from .responses import ApiError

__all__ = ["MAX_TEST_FILES", "coverage"]

#: At most this many test files are looked at in one request (a workspace
#: with more is cut there, and the answer says so).
MAX_TEST_FILES = 200
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", ".venv", "venv"})


def _test_files(root: Path) -> tuple[list[Path], bool]:
    """Every ``*.test.yaml`` under ``root`` (no hidden folders), and whether more were cut."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(names):
            if name.startswith(".") or not name.lower().endswith(".test.yaml"):
                continue
            if len(found) == MAX_TEST_FILES:
                return found, True
            found.append(Path(folder, name))
    return found, False


def _coverage_of(
    root: Path, flow: Path, allowed: tuple[str, ...], allow_all: bool
) -> dict[str, Any]:
    """Run the test files of ``flow`` (slow: in a worker thread)."""
    files, cut = _test_files(root)
    results = []
    skipped: list[dict[str, str]] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            test_file = load_test_file(path)
        except TestFileError as exc:
            # Only a file that names this flow is worth mentioning.
            if any(flow.name in f.message for f in exc.findings):
                skipped.append({"file": rel, "reason": exc.findings[0].message})
            continue
        target = Path(test_file.flow_path).resolve()
        if target != flow:
            continue
        imports = [m for m in test_file.workflow.imports if m not in allowed]
        if imports and not allow_all:
            skipped.append(
                {
                    "file": rel,
                    "reason": f"the flow imports {', '.join(imports)}; "
                    "start `wfdsl serve` with --actions or --allow-shell to run its tests",
                }
            )
            continue
        results.append((rel, run_file(test_file)))
    cases = [(rel, case) for rel, result in results for case in result.cases]
    covered = collect(
        (str(flow), result.test_file.workflow, case.history)
        for _, result in results
        if result.test_file is not None
        for case in result.cases
    )
    return {
        "test_files": [rel for rel, _ in results],
        "skipped": skipped,
        "cut": cut,
        "cases": {
            "total": len(cases),
            "passed": sum(1 for _, case in cases if case.passed),
            "failed": [
                {"name": case.case.name, "file": rel} for rel, case in cases if not case.passed
            ],
        },
        "coverage": covered[0].to_json() if covered else None,
    }


async def coverage(request: Request) -> Response:
    c = ctx(request)
    rel = file_path(request)
    read_file(c, rel)  # 404 when there is no such flow
    flow = c.workspace.resolve(rel)
    try:
        data = await off_loop(c, _coverage_of, c.workspace.root, flow, c.actions, c.allow_shell)
    except OSError as exc:
        raise ApiError(500, "io", f"the test files could not be read: {exc}") from None
    data["coverage"] = data["coverage"] and {**data["coverage"], "flow": rel}
    data["file"] = rel
    return JSONResponse(data)
