"""A tiny flow and a helper that writes a test file for it, for the runner's own tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

TINY_FLOW = """\
wfdsl: "1"
name: tiny
vars: {pokes: 0}
search:
  pokes: ${ vars.pokes }
signals:
  go: {schema: {type: object}}
handlers:
  poke:
    when: ${ vars.pokes < 1 }
    set: {pokes: "${ vars.pokes + 1 }"}
    return: ${ 'poked' }
start: call
states:
  call:
    type: task
    action: svc.do
    args: {x: "${ input.x }"}
    result: r
    retry: {max_attempts: 3, initial_interval: 1s}
    catch:
      - {errors: [Boom], as: failure, next: broken}
    next: wait
  wait:
    type: wait
    any:
      - {signal: go, as: go, next: done}
      - {timer: 1d, next: late}
  done:
    type: succeed
    output: "${ {'r': vars.r, 'go': vars.go} }"
  late: {type: fail, error: Late, message: no go within a day}
  broken: {type: fail, error: Broken, message: "${ vars.failure.message }"}
"""

WriteTest = Callable[[str], Path]


@pytest.fixture
def write_test(tmp_path: Path) -> WriteTest:
    """Write ``tiny.yaml`` and a test file with ``body`` (YAML after the header)."""
    (tmp_path / "tiny.yaml").write_text(TINY_FLOW, encoding="utf-8")

    def write(body: str, name: str = "tiny.test.yaml") -> Path:
        path = tmp_path / name
        path.write_text('wfdsl-test: "1"\nflow: tiny.yaml\n' + body, encoding="utf-8")
        return path

    return write
