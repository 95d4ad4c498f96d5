"""The designer as one Starlette application: pages, JSON API, static files.

:func:`create_app` wires the routes of api.py and the pages below behind the
guard of security.py. The pages are server-rendered by the templates in
``designer/templates`` (autoescaped: a state named ``<img onerror=...>`` is
text) and enhanced by the ES modules in ``designer/static``; the context
each template gets is listed in designer/API.md.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.errors import StoreError

from wfdsl.errors import WfdslError

from . import api
from .api import Context
from .openapi import openapi_document
from .responses import ApiError, error_response
from .security import BODY_TIMEOUT, MAX_BODY, Guard
from .starters import STARTERS
from .workspace import Workspace

__all__ = ["create_app"]

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"

_FALLBACK = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="csrf-token" content="{{ csrf }}">
<title>{{ title }} · wfdsl</title></head>
<body><main><h1>{{ title }}</h1><p>{{ message }}</p></main></body></html>
"""


def _version() -> str:
    try:
        return metadata.version("wfdsl")
    except metadata.PackageNotFoundError:
        return "0"


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
    )
    return Jinja2Templates(env=env)


def _page(
    request: Request, template: str, title: str, http_status: int = 200, **extra: Any
) -> Response:
    context: Context = request.app.state.wfdsl
    values = {
        "csrf": context.csrf,
        "allow_shell": context.allow_shell,
        "version": context.version,
        "title": title,
        **extra,
    }
    templates: Jinja2Templates = request.app.state.templates
    try:
        return templates.TemplateResponse(request, template, values, status_code=http_status)
    except jinja2.TemplateNotFound:
        # The pages are not there (a stripped install): say so, safely.
        env = jinja2.Environment(autoescape=True)
        message = extra.get("message") or f"the page template {template} is missing"
        html = env.from_string(_FALLBACK).render(csrf=context.csrf, title=title, message=message)
        return HTMLResponse(html, status_code=http_status)


def _error_page(request: Request, status: int, message: str) -> Response:
    return _page(
        request, "error.html", f"{status}", http_status=status, status=status, message=message
    )


async def workspace_page(request: Request) -> Response:
    context: Context = request.app.state.wfdsl
    files = await api.workspace_files(context)
    starters = [{"id": k, "title": v.title} for k, v in STARTERS.items()]
    return _page(request, "workspace.html", "Workspace", files=files, templates=starters)


async def editor_page(request: Request) -> Response:
    context: Context = request.app.state.wfdsl
    rel = api.file_path(request)
    text = api.read_file(context, rel)
    view = await api.off_loop(context, api.view_for(request), text, rel)
    return _page(
        request, "editor.html", rel, path=rel, text=text, view=view, schema_url="/api/schema"
    )


async def runs_page(request: Request) -> Response:
    context: Context = request.app.state.wfdsl
    q = request.query_params
    filters = {k: q.get(k) or "" for k in ("status", "workflow", "where")}
    error = None
    try:
        runs = await api.on_engine(
            context,
            context.engine.list_runs,
            where=filters["where"] or None,
            status=filters["status"] or None,
            workflow=filters["workflow"] or None,
        )
    except WfdslError as exc:
        runs, error = [], str(exc)
    everything = await api.on_engine(context, context.engine.list_runs, limit=1000)
    workflows = sorted({r.workflow for r in everything})
    return _page(
        request,
        "runs.html",
        "Runs",
        runs=[r.to_json() for r in runs],
        filters=filters,
        error=error,
        workflows=workflows,
    )


async def run_page(request: Request) -> Response:
    context: Context = request.app.state.wfdsl
    # A child run's id holds "/" (parent/state): the route is {run_id:path}.
    details = await api.run_details(
        context, request.path_params["run_id"], api.text_metrics(request)
    )
    return _page(request, "run.html", f"Run {details['run']['id']}", **details)


async def favicon(request: Request) -> Response:
    # Browsers ask for /favicon.ico when a page names no icon (the guard's
    # own 401 page, say): the same drawing the pages link to.
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(request.app.state.wfdsl.version))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if request.url.path.startswith("/api/"):
        return error_response(exc.status, exc.code, exc.message, exc.findings)
    return _error_page(request, exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    if request.url.path.startswith("/api/"):
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)
    return _error_page(request, exc.status_code, str(exc.detail))


async def _store_error(request: Request, exc: Exception) -> Response:
    # Disk full, an I/O error, a lock held past the busy timeout: nothing was
    # committed and the server carries on; a condition of the machine, not a bug.
    message = str(exc).splitlines()[0] if str(exc) else "the store failed"
    if request.url.path.startswith("/api/"):
        return error_response(503, "store_error", message, headers={"Retry-After": "5"})
    return _error_page(request, 503, message)


#: A write the file system refused for want of space (ENOSPC, a quota, a file
#: size limit): the workspace file was replaced atomically or not at all.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


async def _os_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OSError)
    if exc.errno not in _NO_SPACE:
        return await _internal(request, exc)
    message = f"no space left to write the file ({exc.strerror}); the file on disk is unchanged"
    if request.url.path.startswith("/api/"):
        return error_response(507, "no_space", message)
    return _error_page(request, 507, message)


async def _internal(request: Request, exc: Exception) -> Response:
    message = (
        f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    )
    if request.url.path.startswith("/api/"):
        return error_response(500, "internal", message)
    return _error_page(request, 500, message)


def create_app(
    workspace: Path,
    *,
    engine: Engine,
    token: str,
    allowed_hosts: Iterable[str],
    allow_shell: bool = False,
    actions: Iterable[str] = (),
    drive: bool = True,
    max_body: int = MAX_BODY,
    body_timeout: float = BODY_TIMEOUT,
    sse_poll: float = 0.25,
) -> Starlette:
    """The designer over the workflow files in ``workspace`` and ``engine``'s store.

    ``token`` is the per-launch secret (security.py); ``allowed_hosts`` the
    ``host:port`` values the server answers to. With ``drive``, the app's
    lifespan runs the engine's worker loop on a thread of the engine's own
    (``Engine.serve_in_thread``), so runs started here (and any other
    unfinished run) make progress without stalling the server's requests.
    """
    context = Context(
        workspace=Workspace(workspace),
        engine=engine,
        token=token,
        allow_shell=allow_shell,
        actions=tuple(actions),
        version=_version(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not drive:
            yield
            return
        # The engine drives on a thread of its own with its own loop: its
        # ticks and store I/O never hold up this loop's requests (issue 13 §1).
        stop = engine.serve_in_thread()
        try:
            yield
        finally:
            # stop() returns once the calls in flight are finished (at most
            # drain_seconds): cutting them off would hand them back mid-call,
            # and another process would run them again.
            await anyio.to_thread.run_sync(stop)

    routes: list[Route | Mount] = [
        Route("/", workspace_page, methods=["GET"]),
        Route("/edit/{path:path}", editor_page, methods=["GET"]),
        Route("/runs", runs_page, methods=["GET"]),
        Route("/runs/{run_id:path}", run_page, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        *api.routes(),
    ]
    if STATIC.is_dir():
        routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            StoreError: _store_error,
            OSError: _os_error,
            Exception: _internal,
        },
    )
    app.state.wfdsl = context
    app.state.templates = _templates()
    app.state.sse_poll = sse_poll
    app.add_middleware(
        Guard,
        token=token,
        allowed_hosts=allowed_hosts,
        max_body=max_body,
        body_timeout=body_timeout,
    )
    return app
