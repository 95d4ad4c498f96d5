"""``wfdsl runs prune`` and ``wfdsl runs retention`` (docs/operations.md
"Retention"): delete finished runs and their history now, or set the
store-level retention every worker on the store applies.

Exit codes: 0 done (also when nothing was old enough), 2 a bad
``--older-than`` or ``--status``, 4 no store at PATH, 74 the store failed.
"""

from __future__ import annotations

import click

from wfdsl.cli_errors import EXIT_USAGE, CliError
from wfdsl.cli_options import db_option
from wfdsl.cli_output import emit_json, stamp
from wfdsl.cli_runs import _engine, _human, json_option, runs
from wfdsl.dsl.durations import parse_duration

__all__ = ["prune", "retention"]

_CODES = (
    "Exit codes: 0 done, 2 a bad --older-than or --status, 4 no store at PATH, 74 the store failed."
)
_FINAL = ("cancelled", "completed", "failed")


def _age(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise CliError("usage", f"--older-than: {exc}", EXIT_USAGE) from None


def _statuses(text: str) -> tuple[str, ...]:
    names = tuple(sorted({s.strip() for s in text.split(",") if s.strip()}))
    wrong = [s for s in names if s not in _FINAL]
    if wrong or not names:
        raise CliError(
            "usage",
            f"--status {text!r}: only finished runs are pruned; give some of {','.join(_FINAL)}",
            EXIT_USAGE,
        )
    return names


@runs.command(epilog=_CODES)
@click.option(
    "--older-than", "older_than", required=True, metavar="DURATION", help="e.g. 30d, 12h."
)
@click.option(
    "--status",
    "status",
    default=",".join(_FINAL),
    show_default=True,
    metavar="S,...",
    help="Only runs that ended so.",
)
@click.option("--workflow", metavar="W", help="Only runs of this workflow (name).")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@db_option
@json_option
def prune(
    older_than: str,
    status: str,
    workflow: str | None,
    dry_run: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Delete finished runs that ended more than DURATION ago, with their
    history, in small batches; runs still referenced are kept."""
    age, statuses = _age(older_than), _statuses(status)
    with _engine(db) as engine:
        report = engine.prune(age, statuses=statuses, workflow=workflow, dry_run=dry_run)
    if as_json:
        emit_json(
            {
                "dry_run": report.dry_run,
                "runs": report.runs,
                "events": report.events,
                "ended_before": report.ended_before,
                "sample": [
                    {
                        "id": r.run_id,
                        "execution": r.execution,
                        "workflow": r.workflow,
                        "status": r.status,
                        "ended_at": r.ended_at,
                        "events": r.events,
                    }
                    for r in report.sample
                ],
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    before = stamp(report.ended_before, human=_human())
    click.echo(
        f"{verb} {report.runs} run(s) ({report.events} history events) "
        f"{'/'.join(statuses)} before {before}"
    )
    if dry_run:
        for r in report.sample:
            click.echo(
                f"  {r.run_id}  {r.workflow}  {r.status}  {stamp(r.ended_at, human=_human())}"
            )
        if report.runs > len(report.sample):
            click.echo(f"  ... and {report.runs - len(report.sample)} more")


@runs.command(epilog=_CODES)
@click.option(
    "--older-than", "older_than", metavar="DURATION", help="Keep finished runs this long."
)
@click.option(
    "--status",
    "status",
    default=",".join(_FINAL),
    show_default=True,
    metavar="S,...",
    help="Which finished runs it deletes.",
)
@click.option("--off", is_flag=True, help="Remove the setting: workers delete nothing.")
@db_option
@json_option
def retention(
    older_than: str | None, status: str, off: bool, db: str | None, as_json: bool
) -> None:
    """Show or set the store's retention: every `wfdsl worker` and `wfdsl
    serve` on the store deletes finished runs older than it, a small batch
    at a time."""
    if off and older_than:
        raise CliError("usage", "give --older-than or --off, not both", EXIT_USAGE)
    with _engine(db) as engine:
        if off:
            engine.set_retention(None)
        elif older_than is not None:
            engine.set_retention(_age(older_than), statuses=_statuses(status))
        policy = engine.retention()
    if as_json:
        emit_json({"retention": None if policy is None else policy.to_json()})
    elif policy is None:
        click.echo("no retention: finished runs are kept until `wfdsl runs prune`")
    else:
        click.echo(
            f"workers delete {'/'.join(policy.statuses)} runs "
            f"{_span(policy.older_than)} after they ended"
        )


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
