"""``wfdsl test``: run ``*.test.yaml`` cases, and ``wfdsl test record RUN_ID``.

Exit codes: 0 every case passed, 1 a case failed, 2 a test file or its flow
is invalid (or nothing to run: no test file under the paths, or ``-k``
selects no case). The runner is :mod:`wfdsl.testing`; this module only
presents its results (rich on a terminal, ``--json``, ``--junit FILE``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wfdsl.cli_options import db_option, existing_store
from wfdsl.cli_output import console, plural, render_finding
from wfdsl.errors import RunNotFound
from wfdsl.interpreter.engine import Engine

if TYPE_CHECKING:  # pragma: no cover
    from wfdsl.testing.coverage import FlowCoverage
    from wfdsl.testing.expectations import Failure
    from wfdsl.testing.runner import CaseResult, FileResult

# The runner is imported when `wfdsl test` runs, not by every `wfdsl` command.

__all__ = ["test"]

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_NOT_FOUND = 4


class _TestGroup(click.Group):
    """``wfdsl test [PATH]...`` runs tests; ``wfdsl test record ...`` records one.

    Anything that is not a subcommand's name goes to the hidden ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in ("-h", "--help"):
            return super().parse_args(ctx, args)
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_TestGroup, subcommand_metavar="[PATH]... | record RUN_ID")
def test() -> None:
    """Run the cases of *.test.yaml files on virtual time, with mocks.

    \b
    wfdsl test [PATH]... [-k EXPR] [--json] [--junit FILE]
    wfdsl test record RUN_ID [--db PATH] [-o FILE]

    PATHs are test files or folders searched for *.test.yaml (default: the
    working directory). Exit code 0 all passed, 1 a case failed, 2 an
    invalid test file or flow.
    """


@test.command(name="run", hidden=True)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-k", "keyword", metavar="EXPR", help="Only cases whose file::name matches.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--junit", "junit", metavar="FILE", help="Also write JUnit XML to FILE.")
def run_tests(
    paths: tuple[str, ...], keyword: str | None, as_json: bool, junit: str | None
) -> None:
    """Run the cases (what `wfdsl test` does)."""
    from wfdsl.testing.coverage import collect
    from wfdsl.testing.junit import write_junit
    from wfdsl.testing.runner import discover, run_paths

    roots = list(paths) or ["."]
    files = discover(roots)
    if not files:
        _usage(f"no *.test.yaml file under {', '.join(roots)}", as_json)
    try:
        results = run_paths(files, keyword=keyword)
    except ValueError as exc:  # a -k expression that cannot be read
        raise click.UsageError(str(exc)) from None
    cases = [c for r in results for c in r.cases]
    invalid = [r for r in results if r.invalid]
    if not cases and not invalid:
        _usage(f"-k {keyword!r} selects no case", as_json)
    coverage = collect(
        (r.test_file.flow_path, r.test_file.workflow, c.history)
        for r in results
        if r.test_file is not None
        for c in r.cases
    )
    if junit:
        write_junit(junit, results)
    failed = sum(not c.passed for c in cases)
    if as_json:
        click.echo(json.dumps(_document(results, coverage), indent=2, ensure_ascii=False))
    else:
        _show(console(), results, coverage)
    if invalid:
        sys.exit(EXIT_INVALID)
    if failed:
        sys.exit(EXIT_FAILED)


def _usage(message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": "Usage", "message": message}))
    click.echo(f"wfdsl test: {message}", err=True)
    sys.exit(EXIT_INVALID)


@test.command(name="record")
@click.argument("run_id")
@db_option
@click.option("-o", "--output", "output", metavar="FILE", help="Write the test file here.")
@click.option("--flow", "flow", metavar="FLOW", help="The flow file (default: as submitted).")
@click.option("--name", "name", metavar="TEXT", help="The case's name.")
def record(
    run_id: str, db: str | None, output: str | None, flow: str | None, name: str | None
) -> None:
    """Write a test case that replays a stored run: its input, the action
    results as mocks, the signals and handler calls at their times, its
    outcome as expectations. Exit 4 when there is no such run."""
    from wfdsl.testing.record import record_file

    if output and os.path.exists(output):
        raise click.UsageError(f"{output} exists; record into a new file")
    engine = Engine(existing_store(db))
    try:
        run = engine.get(run_id)
        history = engine.history(run.id)
        definition = engine.definition(run.definition_hash)
        stored = definition.file if definition is not None else None
    except RunNotFound as exc:
        click.echo(f"wfdsl: {exc}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    finally:
        engine.close()
    flow = flow or stored
    if not flow:
        raise click.UsageError(
            f"run {run_id!r} was submitted as text, not from a file: name the flow with --flow"
        )
    out_dir = Path(output).parent if output else Path.cwd()
    text = record_file(run, history, flow=os.path.abspath(flow), out_dir=out_dir, name=name)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: 1 case from run {run.id} ({run.status})", err=True)
    else:
        click.echo(text, nl=False)


# ------------------------------------------------------------------ JSON


def _document(results: Sequence[FileResult], coverage: Sequence[FlowCoverage]) -> dict[str, Any]:
    cases = [c for r in results for c in r.cases]
    return {
        "files": [
            {
                "file": r.path,
                "invalid": r.invalid,
                "findings": [f.to_json() for f in r.findings],
                "cases": [c.to_json() for c in r.cases],
            }
            for r in results
        ],
        "passed": sum(c.passed for c in cases),
        "failed": sum(not c.passed for c in cases),
        "invalid_files": sum(r.invalid for r in results),
        "coverage": [c.to_json() for c in coverage],
    }


# ------------------------------------------------------------------ terminal


def _show(out: Console, results: Sequence[FileResult], coverage: Sequence[FlowCoverage]) -> None:
    for result in results:
        out.print(Text(result.path, style="bold"))
        if result.invalid:
            lines = _lines(result.path)
            for finding in result.findings:
                out.print(render_finding(finding, lines if finding.file == result.path else None))
            continue
        for case in result.cases:
            _show_case(out, case)
    if coverage:
        out.print(coverage_table(coverage))
        missed = untaken_lines(coverage)
        if missed:
            out.print(Text(f"edges no case took ({len(missed)}):", style="bold yellow"))
            for line in missed:
                out.print(Text("  " + line))
    cases = [c for r in results for c in r.cases]
    passed = sum(c.passed for c in cases)
    invalid = sum(r.invalid for r in results)
    closing = f"{passed} passed, {len(cases) - passed} failed"
    if invalid:
        closing += f", {plural(invalid, 'invalid file')}"
    style = "bold green" if passed == len(cases) and not invalid else "bold red"
    out.print(Text(closing, style=style))


def _lines(path: str) -> list[str] | None:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _show_case(out: Console, result: CaseResult) -> None:
    line = Text("  ")
    if result.passed:
        line.append("PASS ", style="bold green")
    else:
        line.append("FAIL ", style="bold red")
    line.append(result.case.name)
    status = result.run.status if result.run else "not started"
    line.append(f"  ({status}, {result.seconds_virtual:g}s virtual)", style="dim")
    out.print(line)
    for failure in result.failures:
        _show_failure(out, result, failure)


def _show_failure(out: Console, result: CaseResult, failure: Failure) -> None:
    from wfdsl.testing.report import diff_lines, history_excerpt

    text = Text("      ")
    text.append(failure.what, style="bold red")
    text.append(f": {failure.message}")
    out.print(text)
    if failure.expected is not None or failure.actual is not None:
        for diff_line in diff_lines(failure.expected, failure.actual):
            style = (
                "green"
                if diff_line.startswith("-")
                else "red"
                if diff_line.startswith("+")
                else "dim"
            )
            out.print(Text("        " + diff_line, style=style))
    if failure.seq is not None and result.history:
        out.print(Text(f"        history around seq {failure.seq}:", style="dim"))
        for event in history_excerpt(result, failure.seq):
            out.print(Text("        " + event, style="bold" if event.startswith(">") else "dim"))


def coverage_table(coverage: Sequence[FlowCoverage]) -> Table:
    """States, edges and retry paths taken per flow (the edges never taken follow it)."""
    table = Table(title="Coverage", title_justify="left")
    table.add_column("flow", overflow="fold")
    table.add_column("states", justify="right", no_wrap=True)
    table.add_column("edges", justify="right", no_wrap=True)
    table.add_column("retry paths", justify="right", no_wrap=True)
    sums = [0, 0, 0, 0, 0, 0]
    for cov in coverage:
        row = (
            cov.states_taken,
            len(cov.states),
            cov.edges_taken,
            len(cov.edges),
            cov.retries_taken,
            len(cov.retries),
        )
        table.add_row(_shown(cov.flow), _ratio(*row[0:2]), _ratio(*row[2:4]), _ratio(*row[4:6]))
        sums = [a + b for a, b in zip(sums, row, strict=True)]
    if len(coverage) > 1:
        table.add_section()
        table.add_row("total", _ratio(*sums[0:2]), _ratio(*sums[2:4]), _ratio(*sums[4:6]))
    return table


def untaken_lines(coverage: Sequence[FlowCoverage]) -> list[str]:
    """``flow: edge`` for every edge no case took."""
    from wfdsl.testing.coverage import edge_name

    return [f"{_shown(cov.flow)}: {edge_name(e)}" for cov in coverage for e in cov.untaken_edges()]


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies under it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _ratio(taken: int, total: int) -> str:
    if not total:
        return "-"
    return f"{taken}/{total} {100 * taken / total:.0f}%"
