"""``wfdsl validate`` and ``wfdsl schema``."""

from __future__ import annotations

import sys

import click

from wfdsl.cli_output import console, emit_json, render_finding, summary
from wfdsl.dsl.api import validate_text
from wfdsl.dsl.findings import Finding, sort_findings
from wfdsl.dsl.loader import read_source
from wfdsl.dsl.schema_check import schema_text

__all__ = ["check_file", "schema", "validate"]

STDIN = "-"


def check_file(path: str, *, strict: bool = False) -> tuple[str | None, list[Finding]]:
    """The text of ``path`` (None when unreadable) and every finding about it.

    ``-`` reads standard input. A file that cannot be read is a finding
    (WF009), never an exception.
    """
    if path == STDIN:
        text: str | None = sys.stdin.read()
        return text, sort_findings(validate_text(text or "", "<stdin>", strict=strict))
    text, problem = read_source(path)
    if text is None:
        return None, [problem] if problem else []
    return text, sort_findings(validate_text(text, path, strict=strict))


@click.command()
@click.argument("flows", nargs=-1, required=True, metavar="FLOW...")
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1 on any).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def validate(ctx: click.Context, flows: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Check workflow documents; FLOW may be `-` for standard input.

    Exit code 0 when clean, 1 when any document has errors (or warnings,
    under --strict).
    """
    results = [(flow, *check_file(flow, strict=strict)) for flow in flows]
    every = [f for _, _, findings in results for f in findings]
    errors = sum(f.severity == "error" for f in every)
    warnings = sum(f.severity == "warning" for f in every)
    failed = errors > 0 or (strict and warnings > 0)
    if as_json:
        document = {
            "files": [
                {"file": flow, "findings": [f.to_json() for f in findings]}
                for flow, _, findings in results
            ],
            "errors": errors,
            "warnings": warnings,
            "infos": sum(f.severity == "info" for f in every),
            "strict": strict,
            "ok": not failed,
        }
        emit_json(document, indent=2)
    else:
        out = console()
        for _, text, findings in results:
            lines = text.splitlines() if text is not None else None
            for finding in findings:
                out.print(render_finding(finding, lines))
        out.print(summary(every, len(results)), style="bold red" if failed else "green")
    ctx.exit(1 if failed else 0)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the workflow language."""
    text = schema_text()
    click.echo(text, nl=not text.endswith("\n"))
