"""``wfdsl graph``: the state graph as Mermaid, DOT, JSON or SVG."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from wfdsl.cli_output import console, render_finding, summary
from wfdsl.dsl.api import compile_text
from wfdsl.dsl.findings import has_errors, sort_findings
from wfdsl.dsl.graph import Graph, build_graph, to_dot, to_json, to_mermaid
from wfdsl.dsl.loader import read_source
from wfdsl.dsl.svg import to_svg

__all__ = ["EXPORTERS", "graph"]

EXIT_INVALID = 2

EXPORTERS: dict[str, Callable[[Graph], str]] = {
    "mermaid": to_mermaid,
    "dot": to_dot,
    "json": to_json,
    "svg": to_svg,
}
_SUFFIXES = {".svg": "svg", ".dot": "dot", ".gv": "dot", ".json": "json", ".mmd": "mermaid"}


@click.command(
    epilog="Exit codes: 0 drawn, 1 the output file cannot be written, "
    "2 FLOW is invalid or the format cannot be told from -o's suffix."
)
@click.argument("flow")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(EXPORTERS)),
    help="Output format (default: from the -o suffix, else mermaid).",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.pass_context
def graph(ctx: click.Context, flow: str, fmt: str | None, output: str | None) -> None:
    """Export the state graph of FLOW (`-` reads standard input)."""
    if fmt is None and output is not None:
        fmt = _SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            known = ", ".join(sorted(_SUFFIXES))
            raise click.BadParameter(
                f"cannot tell the format from {output!r} (known suffixes: {known}); "
                "name one with --format",
                param_hint="-o",
            )
    name = "<stdin>" if flow == "-" else flow
    if flow == "-":
        text: str | None = sys.stdin.read()
        problem = None
    else:
        text, problem = read_source(flow)
    findings = [problem] if problem else []
    workflow = None
    if text is not None:
        workflow, findings = compile_text(text, name)
    if workflow is None or has_errors(findings):
        err = console(stderr=True)
        lines = text.splitlines() if text is not None else None
        shown = sort_findings(findings)
        for finding in shown:
            err.print(render_finding(finding, lines))
        err.print(f"{name}: not drawn, {summary(shown, 1)}", style="bold red")
        ctx.exit(EXIT_INVALID)
    rendered = EXPORTERS[fmt or "mermaid"](build_graph(workflow))
    if output is None:
        click.echo(rendered, nl=False)
        return
    try:
        Path(output).write_text(rendered, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(output, hint=exc.strerror or str(exc)) from None
