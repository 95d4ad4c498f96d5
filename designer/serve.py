"""``wfdsl serve [DIR]``: the worker, the JSON API and the designer in one process.

uvicorn runs the Starlette app of app.py; the app's lifespan runs the
engine's worker loop on a thread of the engine's own, so runs started from
the browser (and every other unfinished run in the store) are driven here
without stalling the server's requests.
A fresh token is made at each launch and printed inside the URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from wfdsl.interpreter.actions.registry import ActionImportError, load_modules
from wfdsl.interpreter.engine import Engine
from wfdsl.observe.cli import MetricsAddr, metrics_option, start_metrics

__all__ = ["serve"]


def _default_db() -> str:
    return os.environ.get("WFDSL_DB") or "wfdsl.db"


# The designer sits below the CLI layer, so these repeat wfdsl/cli_options.py's
# spelling, metavars and help word for word (tests/cli checks `serve --help`).
db_option = click.option(
    "--db",
    "db",
    default=None,
    metavar="PATH|URL",
    help="The store: a SQLite file or a postgresql:// URL (default: $WFDSL_DB or ./wfdsl.db).",
)
actions_option = click.option(
    "--actions",
    "actions",
    multiple=True,
    metavar="MOD",
    help="Python module (or .py file) registering actions; repeatable.",
)


def _positive_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """As `wfdsl worker --lease`: zero, negative, NaN or infinite is a usage error."""
    if not value > 0 or value == float("inf"):
        raise click.BadParameter(f"{value:g} is not a positive number of seconds")
    return value


lease_option = click.option(
    "--lease",
    "lease_seconds",
    type=float,
    callback=_positive_seconds,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds a run stays leased to this process between renewals.",
)
owner_option = click.option(
    "--owner",
    default=None,
    metavar="NAME",
    help="A stable name for this process in run leases: restarted with the same name, it "
    "takes back at once the runs it left in flight. Never give one name to two live "
    "processes. Default: host:pid:start:space:random, unique per process.",
)
synchronous_option = click.option(
    "--synchronous",
    type=click.Choice(["FULL", "NORMAL"], case_sensitive=False),
    default="FULL",
    show_default=True,
    help="SQLite synchronous: FULL survives power loss, NORMAL only process crashes.",
)


@click.command()
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@actions_option
@click.option(
    "--allow-shell",
    is_flag=True,
    help="Let workflows use the built-in shell action and import modules of their own.",
)
@lease_option
@owner_option
@synchronous_option
@metrics_option
def serve(
    directory: Path,
    db: str | None,
    host: str,
    port: int,
    actions: tuple[str, ...],
    allow_shell: bool,
    lease_seconds: float,
    owner: str | None,
    synchronous: str,
    metrics_addr: MetricsAddr | None,
) -> None:
    """Worker + HTTP API + designer over the workflows in DIRECTORY (default: here)."""
    # Imported here so other commands do not pay for starlette and uvicorn.
    import uvicorn

    from .app import create_app
    from .security import allowed_hosts_for, new_token
    from .server import server_config

    try:
        load_modules(actions, origin="--actions")
    except ActionImportError as exc:
        raise click.UsageError(str(exc)) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: binding {host}: anyone who can reach it and learns the token can run "
            "workflows; prefer 127.0.0.1 and an SSH tunnel",
            err=True,
        )
    token = new_token()
    db = db or _default_db()
    engine = Engine(
        db,
        allow_shell=allow_shell,
        lease_seconds=lease_seconds,
        owner=owner,
        synchronous=synchronous.upper(),
    )
    app = create_app(
        directory,
        engine=engine,
        token=token,
        allowed_hosts=allowed_hosts_for(host, port),
        allow_shell=allow_shell,
        actions=actions,
    )
    try:
        stop_metrics = start_metrics(engine, metrics_addr)
    except click.UsageError:
        engine.close()
        raise
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    click.echo(f"wfdsl designer for {directory.resolve()} (store {db})")
    click.echo(f"open http://{shown}:{port}/?token={token}")
    try:
        server = uvicorn.Server(server_config(app, host=host, port=port))
        server.run()
        if not server.started:  # the port is taken, say: uvicorn logged why
            raise SystemExit(3)
    finally:
        stop_metrics()
        engine.close()
