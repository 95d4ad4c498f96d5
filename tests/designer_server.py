"""The real designer served by uvicorn on a free port of 127.0.0.1, for the
tests that talk to it over a socket (the browser tests, the slow clients).

One helper so every such test starts and stops the server the same way: the
engine (and its SQLite connection) is made on the server's thread, which uses
it; the start waits for uvicorn to say it is serving, and a failure on that
thread surfaces in the test instead of a hang.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["START_WITHIN", "Served", "serve_designer"]

#: Seconds; a hang guard only, reached when the server never starts (a loaded
#: machine starts it within a few seconds).
START_WITHIN = 60.0


@dataclass
class Served:
    """The running designer: its URL, token and workspace folder."""

    url: str
    token: str
    workspace: Path
    errors: list[str] = field(default_factory=list)
    port: int = 0


@contextmanager
def serve_designer(
    workspace: Path,
    store: Path,
    *,
    token: str | None = None,
    prepare: Callable[[Any], None] | None = None,
    config: Callable[[Any], Any] | None = None,
    name: str = "designer-server",
    **app_options: Any,
) -> Iterator[Served]:
    """Serve ``workspace`` over the engine of ``store`` until the block ends.

    ``prepare(engine)`` runs on the server's thread before the app is made
    (registering actions); ``config(app)`` gives the uvicorn.Config (default:
    warnings only, lifespan on, so the app drives its runs); ``app_options``
    go to ``create_app`` (``drive=False``, ``body_timeout=...``).
    """
    import uvicorn
    from wfdsl.designer.app import create_app
    from wfdsl.designer.security import allowed_hosts_for, new_token
    from wfdsl.interpreter.engine import Engine

    token = token or new_token()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    holder: dict[str, Any] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            engine = Engine(store)
            try:
                if prepare is not None:
                    prepare(engine)
                app = create_app(
                    workspace,
                    engine=engine,
                    token=token,
                    allowed_hosts=allowed_hosts_for("127.0.0.1", port),
                    **app_options,
                )
                made = (
                    config(app)
                    if config is not None
                    else uvicorn.Config(app, log_level="warning", lifespan="on")
                )
                server = uvicorn.Server(made)
                holder["server"] = server
                server.run(sockets=[sock])
            finally:
                engine.close()
        except BaseException as exc:  # raised in the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_WITHIN
    while not (holder.get("server") and holder["server"].started):
        if failure:
            raise RuntimeError("the designer did not start") from failure[0]
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the designer did not start within {START_WITHIN:.0f} s")
        time.sleep(0.02)
    try:
        yield Served(url=f"http://127.0.0.1:{port}", token=token, workspace=workspace, port=port)
    finally:
        holder["server"].should_exit = True
        thread.join(timeout=START_WITHIN)
        sock.close()
