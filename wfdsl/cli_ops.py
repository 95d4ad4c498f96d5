"""Commands that repair runs in production (docs/operations.md): ``redrive``
restarts a failed run where it failed, ``fork`` starts a new run from a point
of a run's history with vars patched.

Exit codes: 0 done, 2 a bad ``--set``, 4 no such run (or an ambiguous RUN
prefix, or no store), 5 refused (not failed, the definition is gone, no
such point in the history: the message says why), 74 the store failed.
"""

from __future__ import annotations

import json
from typing import Any

import click

from wfdsl.cli_errors import EXIT_USAGE, CliError
from wfdsl.cli_options import db_option
from wfdsl.cli_output import emit_json
from wfdsl.cli_runs import _engine, json_option

__all__ = ["fork", "migrate", "redrive"]

_CODES = (
    "Exit codes: 0 done, 4 no such run (or no store at PATH, or an ambiguous RUN prefix), "
    "5 refused ({why}), 74 the store failed."
)


@click.command(epilog=_CODES.format(why="the run is not failed, or its definition is gone"))
@click.argument("run_id", metavar="RUN")
@click.option(
    "--by", metavar="WHO", help="Who asks (recorded in run_redriven; default: user@host)."
)
@db_option
@json_option
def redrive(run_id: str, by: str | None, db: str | None, as_json: bool) -> None:
    """Restart a failed RUN at the state that failed, with the vars it held
    then; `wfdsl worker` (or `wfdsl run`) drives it on."""
    with _engine(db) as engine:
        run = engine.redrive(run_id, by=by)
        event = next(e for e in reversed(run.history()) if e.type == "run_redriven")
    if as_json:
        emit_json({**run.to_json(), "redriven": dict(event.data)})
        return
    error = event.data.get("error") or {}
    click.echo(
        f"redriven run {run.id} at state {event.data['state']} "
        f"(it failed with {error.get('error')}: {error.get('message')}); it is now {run.status}"
    )


def _patches(items: tuple[str, ...]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise CliError(
                "usage", f"--set {item!r}: expected PATH=JSON, e.g. --set amount=42", EXIT_USAGE
            )
        try:
            patch[path] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(
                "usage",
                f"--set {item!r}: {text!r} is not JSON ({exc.msg}); "
                f"quote a string as JSON: --set '{path}=\"{text}\"'",
                EXIT_USAGE,
            ) from None
    return patch


@click.command(
    epilog=_CODES.format(why="no such point in RUN's history, or its definition is gone")
)
@click.argument("run_id", metavar="RUN")
@click.option(
    "--at",
    "at",
    required=True,
    metavar="SEQ|STATE",
    help="An event seq of RUN's history, or a state (its last entry).",
)
@click.option("--set", "sets", multiple=True, metavar="PATH=JSON", help="Patch a var; repeatable.")
@click.option(
    "--run-id", "new_run_id", metavar="NEW", help="Id of the new run (default: generated)."
)
@db_option
@json_option
def fork(
    run_id: str,
    at: str,
    sets: tuple[str, ...],
    new_run_id: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Start a new run from a point of RUN's history, vars patched; RUN is
    not touched and nothing before the point runs again."""
    patch = _patches(sets)
    with _engine(db) as engine:
        run = engine.fork(run_id, at=at, set=patch, new_run_id=new_run_id)
        origin = dict(run.history()[0].data.get("forked_from") or {})
    if as_json:
        emit_json({**run.to_json(), "forked_from": origin})
        return
    patched = ", ".join(f"{k}={json.dumps(v)}" for k, v in patch.items())
    click.echo(
        f"forked run {run.id} from {origin.get('run')} at seq {origin.get('seq')} "
        f"(state {origin.get('state')})" + (f", set {patched}" if patched else "")
    )


_MIGRATE_CODES = (
    "Exit codes: 0 every active run can move (or, with --apply, moved), 1 some cannot "
    "(listed with the reason), 2 FLOW is invalid or a bad --map, 4 no store at PATH, "
    "74 the store failed."
)


@click.command(epilog=_MIGRATE_CODES)
@click.option("--check", "name", required=True, metavar="NAME", help="The workflow (name).")
@click.option("--to", "to", required=True, type=click.Path(dir_okay=False), metavar="FLOW")
@click.option(
    "--map", "maps", multiple=True, metavar="OLD=NEW", help="A renamed state; repeatable."
)
@click.option("--apply", is_flag=True, help="Move the runs that can (one transaction each).")
@db_option
@json_option
def migrate(
    name: str, to: str, maps: tuple[str, ...], apply: bool, db: str | None, as_json: bool
) -> None:
    """Tell which active runs of workflow NAME can move to the version in
    FLOW, and with --apply move them."""
    from pathlib import Path

    from wfdsl.cli_errors import EXIT_FAILED, EXIT_INVALID, invalid_document
    from wfdsl.dsl.api import load as load_flow
    from wfdsl.errors import ValidationError

    mapping: dict[str, str] = {}
    for item in maps:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise CliError("usage", f"--map {item!r}: expected OLD=NEW state names", EXIT_USAGE)
        mapping[old.strip()] = new.strip()
    # What was typed is checked before the store is looked for: an invalid
    # FLOW is named (exit 2) even where there is no store yet.
    try:
        load_flow(Path(to))
    except ValidationError as exc:
        raise invalid_document(exc) from None
    try:
        with _engine(db) as engine:
            report = engine.migrate(name, to, mapping=mapping, apply=apply)
    except CliError as exc:
        if exc.code == "rejected" and "findings" in exc.details:
            raise CliError("invalid", exc.message, EXIT_INVALID, exc.details) from None
        raise
    except ValidationError as exc:  # pragma: no cover - _engine maps it
        raise CliError("invalid", str(exc), EXIT_INVALID) from None
    if as_json:
        emit_json(
            {
                "workflow": report.workflow,
                "to_version": report.to_version,
                "applied": report.applied,
                "runs": [
                    {
                        "id": r.run_id,
                        "version": r.version,
                        "positions": list(r.positions),
                        "can_move": r.can_move,
                        "moved": r.moved,
                        "reasons": list(r.reasons),
                    }
                    for r in report.runs
                ],
            }
        )
    else:
        target = f"version {report.to_version}" if report.to_version else report.to_hash[:12]
        if not report.runs:
            click.echo(f"no active runs of {name} to move to {target}")
        for r in report.runs:
            at = ", ".join(r.positions) or "-"
            if r.moved:
                click.echo(f"moved     {r.run_id} (at {at}) to {target}")
            elif r.can_move:
                click.echo(f"can move  {r.run_id} (at {at})")
            else:
                click.echo(f"cannot    {r.run_id} (at {at}): " + "; ".join(r.reasons))
    if not report.all_can_move:
        raise SystemExit(EXIT_FAILED)
