"""Every example has a test file exercising its main paths; they pass under
`wfdsl test` and under pytest (the plugin), and together take at least 90%
of the examples' edges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from wfdsl.testing import run_paths
from wfdsl.testing.coverage import collect

from wfdsl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TESTS = EXAMPLES / "tests"


def test_every_example_has_a_test_file() -> None:
    flows = {p.stem for p in EXAMPLES.glob("*.yaml")}
    tests = {p.name.removesuffix(".test.yaml") for p in TESTS.glob("*.test.yaml")}
    assert flows and flows <= tests, f"examples without a test file: {sorted(flows - tests)}"


def test_the_examples_test_files_pass_under_wfdsl_test_with_the_coverage_table() -> None:
    result = CliRunner().invoke(cli, ["test", str(EXAMPLES)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert result.output.rstrip().splitlines()[-1].endswith(" passed, 0 failed")
    assert "Coverage" in result.output
    for flow in EXAMPLES.glob("*.yaml"):
        assert flow.name in result.output  # a row per example
    assert "total" in result.output


def test_the_examples_cases_take_at_least_90_percent_of_the_edges() -> None:
    results = run_paths([TESTS])
    assert all(not r.invalid for r in results)
    coverage = collect(
        (r.test_file.flow_path, r.test_file.workflow, c.history)
        for r in results
        if r.test_file is not None
        for c in r.cases
    )
    assert {Path(c.flow).name for c in coverage} == {p.name for p in EXAMPLES.glob("*.yaml")}
    taken = sum(c.edges_taken for c in coverage)
    total = sum(len(c.edges) for c in coverage)
    assert taken >= 0.9 * total, [(c.flow, [str(e) for e in c.untaken_edges()]) for c in coverage]
    # and every example's catch, timer and signal branches are among them
    kinds = {(e.kind, e.label) for c in coverage for i, e in enumerate(c.graph.edges) if c.edges[i]}
    assert ("catch", "CardDeclined") in kinds
    assert ("wait", "timer 1d") in kinds and ("wait", "signal verified") in kinds


def test_the_examples_test_files_pass_under_pytest() -> None:
    env = {**os.environ, "PYTEST_ADDOPTS": ""}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cases = sum(1 for r in run_paths([TESTS]) for _ in r.cases)
    assert f"{cases} passed" in done.stdout


def test_a_failing_case_under_pytest_shows_its_diff(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        'wfdsl: "1"\nname: one\nstart: a\nstates:\n'
        "  a: {type: task, action: svc.do, result: r, next: b}\n"
        "  b: {type: succeed, output: '${ vars.r }'}\n"
    )
    (tmp_path / "flow.test.yaml").write_text(
        'wfdsl-test: "1"\nflow: flow.yaml\ncases:\n'
        "  - name: right\n    mocks: [{action: svc.do, return: 1}]\n    expect: {output: 1}\n"
        "  - name: wrong\n    mocks: [{action: svc.do, return: 1}]\n    expect: {output: 2}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "case 'wrong'" in done.stdout and "- expected: 2" in done.stdout
    assert "+ actual:   1" in done.stdout and "history around seq" in done.stdout
