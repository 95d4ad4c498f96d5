"""The JSON API of designer/API.md: thin handlers over the workspace, the
front end and the engine. Every failure leaves as the one error shape."""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from wfdsl.dsl.api import compile_text
from wfdsl.dsl.findings import has_errors
from wfdsl.dsl.graph import build_graph
from wfdsl.dsl.loader import parse_document
from wfdsl.dsl.schema_check import schema as wfdsl_schema
from wfdsl.dsl.text_metrics import TextMetrics, parse_metrics
from wfdsl.interpreter.engine import Engine

from wfdsl.errors import (
    AmbiguousRunId,
    CallbackNotFound,
    CallbackRefused,
    RunNotFound,
    ValidationError,
    WfdslError,
)

from .edits import EditError, apply_edit
from .responses import ApiError
from .run_inspect import failure_of, lineage_of, state_detail
from .run_overlay import Overlay, event_json, node_of
from .security import csrf_for
from .sse import event_stream
from .starters import STARTERS
from .view import document_view
from .workspace import PathRefused, Workspace

__all__ = ["SLOW_WORKERS", "Context", "routes"]

T = TypeVar("T")

#: How many slow requests (validate, compile, lay out and draw a document)
#: may run at once, each in a worker thread; more wait their turn.
SLOW_WORKERS = 2

#: How many engine calls (store reads, controls) may run at once, each in a
#: worker thread (:func:`on_engine`).
ENGINE_WORKERS = 8


@dataclass
class Context:
    """What every handler needs; kept on ``app.state.wfdsl``."""

    workspace: Workspace
    engine: Engine
    token: str
    allow_shell: bool = False
    actions: tuple[str, ...] = ()
    version: str = ""
    #: definition hash -> workspace file, for runs started from here
    sources: dict[str, str] = field(default_factory=dict)
    #: the limiter of :func:`off_loop`, made on (and for) the running event loop
    _limiter: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = field(
        default=None, repr=False
    )
    _engine_limiter: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = field(
        default=None, repr=False
    )

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    def limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter[0] is not loop:
            self._limiter = (loop, anyio.CapacityLimiter(SLOW_WORKERS))
        return self._limiter[1]

    def engine_limiter(self) -> anyio.CapacityLimiter:
        """The limiter of :func:`on_engine` (apart from the slow work's, so
        a hostile document being compiled never holds up a run's page)."""
        loop = asyncio.get_running_loop()
        if self._engine_limiter is None or self._engine_limiter[0] is not loop:
            self._engine_limiter = (loop, anyio.CapacityLimiter(ENGINE_WORKERS))
        return self._engine_limiter[1]


async def off_loop(context: Context, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, at most :data:`SLOW_WORKERS` at once.

    Validating a hostile 1 MiB document takes seconds (expressions parse at
    tens of microseconds a character); on the event loop that would stall
    every other request and every live run stream meanwhile. Only pure work
    goes here (parse, compile, lay out, draw); engine calls go through
    :func:`on_engine`.
    """
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=context.limiter())


async def on_engine(context: Context, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, a call of the engine (or of a helper that
    calls it), in a worker thread: every engine method blocks on the store
    (a read waits for a group commit of the driving thread; a control waits
    up to 5 s for the run's driver), so on the event loop each would stall
    every other request and live stream meanwhile (issue 13 §1). The engine
    drives on a thread of its own (``Engine.serve_in_thread``)."""
    return await anyio.to_thread.run_sync(
        functools.partial(fn, *args, **kwargs), limiter=context.engine_limiter()
    )


def ctx(request: Request) -> Context:
    context: Context = request.app.state.wfdsl
    return context


# ------------------------------------------------------------------ helpers


async def body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw and content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if not raw:
        return {}
    try:
        data = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad_json", "the body is not JSON: it nests too deeply") from None
    if b"\\u" in raw:
        # A \ud800 escape decodes to a lone surrogate, which no file, database
        # or response can encode as UTF-8: refuse it here, not as a 500 later.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400, "bad_json", "the body is not JSON: it holds a lone surrogate (\\ud800-\\udfff)"
            ) from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return data


def _not_a_number(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _sequence_number(raw: str, name: str) -> int:
    """A history sequence number from a query parameter or header; 400 otherwise."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise ApiError(400, "bad_request", f"{name} is a number")
    return int(raw)


def field_of(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise ApiError(400, "bad_request", f"field {name!r} is required ({expected})")
    return value


#: The cookie designer/static/text_metrics.js keeps the browser's text widths in.
TEXT_COOKIE = "wfdsl_text"


def text_metrics(request: Request) -> TextMetrics | None:
    """The browser's own text widths (``wfdsl_text``), the layout's input; None: an estimate."""
    return parse_metrics(request.cookies.get(TEXT_COOKIE))


def view_for(request: Request) -> Callable[..., dict[str, Any]]:
    """:func:`document_view` laid out with the text widths of ``request``'s browser."""
    return functools.partial(document_view, metrics=text_metrics(request))


def file_path(request: Request) -> str:
    rel: str = request.path_params["path"]
    try:
        ctx(request).workspace.resolve(rel)
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    return rel


def read_file(context: Context, rel: str) -> str:
    try:
        return context.workspace.read(rel)
    except FileNotFoundError:
        raise ApiError(404, "not_found", f"no workflow file {rel!r} in the workspace") from None
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", f"{rel!r} is not UTF-8 text") from None


def get_run(context: Context, run_id: str) -> Any:
    """The run ``run_id`` (an id or a unique prefix of one) names: 404 for
    none, 409 ``ambiguous_run_id`` when the prefix begins several ids."""
    try:
        return context.engine.get(run_id)
    except AmbiguousRunId as exc:
        raise ApiError(409, "ambiguous_run_id", str(exc)) from None
    except RunNotFound as exc:
        raise ApiError(404, "no_such_run", str(exc)) from None


def check_file(workspace: Workspace, rel: str, size: int, modified: float) -> dict[str, Any]:
    """A file's summary without its run counts: read and compiled (slow; no store)."""
    summary: dict[str, Any] = {"path": rel, "size": size, "modified": modified, "name": None}
    try:
        text = workspace.read(rel)
    except (OSError, PathRefused, UnicodeDecodeError):
        return {**summary, "ok": False, "errors": 1, "warnings": 0, "runs": None}
    workflow, findings = compile_text(text, rel)
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    if workflow is not None:
        summary["name"] = workflow.name
    return {
        **summary,
        "ok": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "runs": None,
        "_text": text,
    }


def check_workspace(workspace: Workspace) -> list[dict[str, Any]]:
    return [check_file(workspace, f.path, f.size, f.modified) for f in workspace.files()]


def _run_counts(runs: list[Any]) -> dict[str, int]:
    return {
        "total": len(runs),
        "running": sum(r.status in ("running", "waiting", "paused") for r in runs),
        "failed": sum(r.status == "failed" for r in runs),
    }


def _source_file(context: Context, definition_hash: str, texts: dict[str, str]) -> str | None:
    """The workspace file a run's definition came from, when it can be told:
    started here, submitted from a file in the workspace, or the same text
    as a file now holds."""
    if definition_hash in context.sources:
        return context.sources[definition_hash]
    definition = context.engine.definition(definition_hash)
    if definition is None:
        return None
    if definition.file:
        try:
            return context.workspace.relative(Path(definition.file).resolve())
        except ValueError:
            pass  # a file outside the workspace
    return next((rel for rel, text in texts.items() if text == definition.source), None)


async def workspace_files(context: Context) -> list[dict[str, Any]]:
    """Every workflow file with its validity (in a worker thread) and run counts.

    Runs are counted by workflow name, except where two files hold the same
    name: then each file counts the runs whose definition is known to come
    from it (runs of neither are left out rather than counted twice)."""
    files = await off_loop(context, check_workspace, context.workspace)
    texts = {f["path"]: f.pop("_text", None) for f in files}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for summary in files:
        if summary["name"] is not None:
            by_name.setdefault(summary["name"], []).append(summary)
    for name, holders in by_name.items():
        everything = await on_engine(context, context.engine.list_runs, workflow=name, limit=1000)
        if len(holders) == 1:
            holders[0]["runs"] = _run_counts(everything)
            continue
        mine = {h["path"]: h for h in holders}
        known = {rel: t for rel, t in texts.items() if rel in mine and t is not None}
        origin: dict[str, str | None] = {}
        for run in everything:
            if run.definition_hash not in origin:
                origin[run.definition_hash] = await on_engine(
                    context, _source_file, context, run.definition_hash, known
                )
        for rel, holder in mine.items():
            holder["runs"] = _run_counts(
                [r for r in everything if origin[r.definition_hash] == rel]
            )
    return files


def uses_shell(data: Any) -> bool:
    """Whether any mapping in the document names the built-in ``shell`` action."""
    if isinstance(data, Mapping):
        if data.get("action") == "shell":
            return True
        return any(uses_shell(v) for v in data.values())
    if isinstance(data, list):
        return any(uses_shell(v) for v in data)
    return False


# ------------------------------------------------------------------ workspace and files


async def session(request: Request) -> Response:
    c = ctx(request)
    return JSONResponse(
        {
            "csrf": c.csrf,
            "workspace": str(c.workspace.root),
            "allow_shell": c.allow_shell,
            "version": c.version,
        }
    )


async def workspace(request: Request) -> Response:
    return JSONResponse({"files": await workspace_files(ctx(request))})


async def templates_list(request: Request) -> Response:
    return JSONResponse({"templates": [{"id": k, "title": v.title} for k, v in STARTERS.items()]})


async def create_file(request: Request) -> Response:
    c = ctx(request)
    data = await body(request)
    rel = field_of(data, "path")
    template = data.get("template") or "blank"
    if template not in STARTERS:
        raise ApiError(400, "bad_request", f"no starter template {template!r}")
    try:
        c.workspace.resolve(rel)
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    name = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    text = STARTERS[template].text(name)
    try:
        c.workspace.write(rel, text, create=True)
    except FileExistsError:
        raise ApiError(409, "exists", f"{rel!r} already exists") from None
    return JSONResponse({"path": rel, "text": text}, status_code=201)


async def get_file(request: Request) -> Response:
    c = ctx(request)
    rel = file_path(request)
    text = read_file(c, rel)
    view = await off_loop(c, view_for(request), text, rel)
    return JSONResponse({"path": rel, "text": text, "view": view})


async def put_file(request: Request) -> Response:
    c = ctx(request)
    rel = file_path(request)
    text = field_of(await body(request), "text")
    try:
        c.workspace.write(rel, text)
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    view = await off_loop(c, view_for(request), text, rel)
    return JSONResponse({"path": rel, "saved": True, "view": view})


async def validate_file(request: Request) -> Response:
    rel = file_path(request)
    text = field_of(await body(request), "text")
    return JSONResponse(await off_loop(ctx(request), view_for(request), text, rel))


async def graph(request: Request) -> Response:
    text = field_of(await body(request), "text")
    return JSONResponse(await off_loop(ctx(request), view_for(request), text))


def _document_data(text: str) -> dict[str, Any]:
    data = parse_document(text).data
    return {"data": data if isinstance(data, dict) else None}


async def document_data(request: Request) -> Response:
    """The text's plain data (what the property panel's forms show), null when it does not load."""
    text = field_of(await body(request), "text")
    return JSONResponse(await off_loop(ctx(request), _document_data, text))


def _applied(text: str, op: dict[str, Any]) -> str:
    try:
        return apply_edit(text, op)
    except EditError as exc:
        message = str(exc)
        status, code = (422, "invalid") if "does not load" in message else (400, "bad_request")
        raise ApiError(status, code, message) from None


def _edited_view(
    text: str, op: dict[str, Any], rel: str, metrics: TextMetrics | None = None
) -> dict[str, Any]:
    edited = _applied(text, op)
    # Tidy (every pin removed) lays the graph out anew; other edits keep
    # the places of the states they did not touch.
    tidy = op.get("op") == "unpin" and not op.get("state")
    return {"text": edited, **document_view(edited, rel, fresh=tidy, metrics=metrics)}


def _previewed(text: str, op: dict[str, Any], rel: str) -> dict[str, Any]:
    """The findings an edit would bring, neither drawn nor remembered as the
    file's last drawing: what a form checks while a field is typed."""
    _, findings = compile_text(_applied(text, op), rel)
    return {
        "preview": True,
        "ok": not has_errors(findings),
        "findings": [f.to_json() for f in findings],
    }


async def edit_file(request: Request) -> Response:
    rel = file_path(request)
    data = await body(request)
    text = field_of(data, "text")
    op = field_of(data, "op", dict)
    if request.query_params.get("preview") == "1":
        return JSONResponse(await off_loop(ctx(request), _previewed, text, op, rel))
    return JSONResponse(
        await off_loop(ctx(request), _edited_view, text, op, rel, text_metrics(request))
    )


async def get_input(request: Request) -> Response:
    """The flow's saved run input (``<stem>.input.json`` beside it), for the Run dialog."""
    c = ctx(request)
    rel = file_path(request)
    try:
        name = c.workspace.input_path(rel).name
        text = c.workspace.read_input(rel)
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", f"the input file of {rel!r} is not UTF-8 text") from None
    if text is None:
        return JSONResponse({"file": name, "input": None, "error": None})
    try:
        value = json.loads(text)
    except ValueError as exc:
        # Shown in the dialog, with the text, so it can be fixed there.
        return JSONResponse(
            {"file": name, "input": None, "text": text, "error": f"{name} is not JSON: {exc}"}
        )
    return JSONResponse({"file": name, "input": value, "error": None})


async def put_input(request: Request) -> Response:
    c = ctx(request)
    rel = file_path(request)
    data = await body(request)
    if "input" not in data:
        raise ApiError(400, "bad_request", "field 'input' is required (any JSON)")
    text = json.dumps(data["input"], indent=2, ensure_ascii=False) + "\n"
    try:
        c.workspace.write_input(rel, text)
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    return JSONResponse({"file": c.workspace.input_path(rel).name, "saved": True})


async def schema(request: Request) -> Response:
    return JSONResponse(wfdsl_schema())


# ------------------------------------------------------------------ runs


def run_json(run: Any) -> dict[str, Any]:
    data: dict[str, Any] = run.to_json()
    return data


async def list_runs(request: Request) -> Response:
    c = ctx(request)
    q = request.query_params
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise ApiError(400, "bad_request", "limit is a number") from None
    try:
        runs = await on_engine(
            c,
            c.engine.list_runs,
            where=q.get("where") or None,
            status=q.get("status") or None,
            workflow=q.get("workflow") or None,
            limit=max(1, min(limit, 1000)),
        )
    except WfdslError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return JSONResponse({"runs": [run_json(r) for r in runs]})


def _check_to_start(text: str, rel: str) -> tuple[Any, list[Any], bool]:
    """The workflow, its findings and whether it uses the shell action (slow; no store)."""
    workflow, findings = compile_text(text, rel)
    if workflow is None or has_errors(findings):
        return workflow, findings, False
    # The engine compiles the text again, without a file name: done here, its
    # compile comes from compile_text's cache instead of stalling the loop.
    compile_text(text)
    return workflow, findings, uses_shell(parse_document(text, rel).data)


async def start_run(request: Request) -> Response:
    c = ctx(request)
    data = await body(request)
    rel = field_of(data, "file")
    try:
        c.workspace.resolve(rel)
    except PathRefused as exc:
        raise ApiError(400, "bad_path", str(exc)) from None
    text = read_file(c, rel)
    run_id = data.get("run_id")
    if run_id is not None and (not isinstance(run_id, str) or not run_id):
        raise ApiError(400, "bad_request", "run_id is text")
    workflow, findings, shell = await off_loop(c, _check_to_start, text, rel)
    if workflow is None or has_errors(findings):
        raise ApiError(
            422, "invalid", f"{rel} has errors; fix them first", [f.to_json() for f in findings]
        )
    if shell and not c.allow_shell:
        raise ApiError(
            403,
            "shell_refused",
            f"{rel} uses the built-in shell action; start `wfdsl serve` with --allow-shell "
            "to run it",
        )
    imports = [m for m in workflow.imports if m not in c.actions]
    if imports and not c.allow_shell:
        raise ApiError(
            403,
            "imports_refused",
            f"{rel} imports {', '.join(imports)}; pass them with --actions to `wfdsl serve` "
            "(or --allow-shell) to run it",
        )
    try:
        run = await on_engine(c, c.engine.submit, text, data.get("input"), run_id=run_id)
    except ValidationError as exc:
        raise ApiError(
            422, "invalid", str(exc).splitlines()[0], [f.to_json() for f in exc.findings]
        ) from None
    except WfdslError as exc:
        if type(exc).__name__ == "RunAlreadyExists":
            raise ApiError(409, "exists", str(exc)) from None
        raise ApiError(409, "rejected", str(exc)) from None
    c.sources[run.definition_hash] = rel
    return JSONResponse({"run": run_json(run)}, status_code=201)


#: The statuses of a run that has ended, and the controls such a run refuses
#: (designer/API.md: 409 ``rejected``). A handler ``call`` is the engine's to
#: answer: a read-only handler may still report on an ended run.
ENDED = frozenset({"completed", "failed", "cancelled"})
ENDED_REFUSES = frozenset({"signal", "cancel", "pause", "resume", "step"})


def _sent_as(request: Request, segment: str) -> bool:
    """Whether the request path, as the client sent it, ends in ``/segment``.

    A child run's id holds ``/`` (``parent/state``), so the run routes take
    ``{run_id:path}``, and ``/api/runs/p/history`` could be the history of
    ``p`` or the run ``p/history`` (a subflow state named ``history``). A
    client that sends the id as one segment, its slashes as ``%2F`` (what
    ``encodeURIComponent`` does), means the run: the raw path tells them
    apart. Without a raw path, or with literal slashes, it is the suffix.
    """
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return True
    last = raw.split(b"?", 1)[0].rpartition(b"/")[2]
    return unquote(last.decode("latin-1")) == segment


def run_id_of(request: Request, suffix: str | None = None) -> str:
    """The run id of a run route; ``suffix`` is the route's last segment (``history``)."""
    run_id: str = request.path_params["run_id"]
    if suffix is not None and not _sent_as(request, suffix):
        return f"{run_id}/{suffix}"
    return run_id


async def run_details(
    c: Context, run_id: str, metrics: TextMetrics | None = None
) -> dict[str, Any]:
    run = await on_engine(c, get_run, c, run_id)
    events = await on_engine(c, c.engine.history, run.id, execution=run.execution)
    rel = c.sources.get(run.definition_hash)
    view = None
    # The graph the run is pinned to: the stored definition, not today's file.
    definition = await on_engine(c, c.engine.definition, run.definition_hash)
    if definition is not None:
        view = await off_loop(
            c,
            functools.partial(document_view, metrics=metrics),
            definition.source,
            rel or definition.file,
        )
    overlay = Overlay()
    overlay.feed(events)
    forks = await on_engine(c, c.engine.forks, run.id, execution=run.execution, limit=FORKS_SHOWN)
    shown, gap = history_pages(events)
    return {
        "run": run_json(run),
        **lineage_of(events),
        "forks": [_fork_json(f) for f in forks],
        "states": overlay.statuses(),
        "overlay": overlay.to_json(),
        "failure": failure_of(events, run.error) if run.status == "failed" else None,
        "file": rel,
        "view": view,
        "events": [event_json(e) for e in shown],
        "history": {
            "total": len(events),
            "gap": gap,
            "states": sorted({node_of(e.state) for e in events if e.state}),
            "types": sorted({e.type for e in events}),
        },
    }


#: A long history's page shows its first and newest events and loads the
#: rest on demand (runs.js, run_history.js): how many of each it starts with.
HISTORY_HEAD = 50
HISTORY_TAIL = 200


def history_pages(events: list[Any]) -> tuple[list[Any], dict[str, int] | None]:
    """The events a run page starts with, and the gap between its first and
    newest ones (``after``/``before`` seqs and how many events it holds),
    ``None`` when every event is shown."""
    if len(events) <= HISTORY_HEAD + HISTORY_TAIL:
        return events, None
    head, tail = events[:HISTORY_HEAD], events[-HISTORY_TAIL:]
    gap = {
        "after": head[-1].seq,
        "before": tail[0].seq,
        "count": len(events) - HISTORY_HEAD - HISTORY_TAIL,
    }
    return head + tail, gap


#: How many of a run's forks its page lists (oldest first).
FORKS_SHOWN = 50


def _fork_json(fork: Any) -> dict[str, Any]:
    return {
        "id": fork.run.id,
        "status": fork.run.status,
        "started_at": fork.run.started_at,
        "seq": fork.seq,
        "state": fork.state,
        "set": dict(fork.set),
    }


async def _run_response(c: Context, run_id: str, request: Request | None = None) -> Response:
    details = await run_details(c, run_id, None if request is None else text_metrics(request))
    details.pop("events")
    return JSONResponse(details)


async def get_run_route(request: Request) -> Response:
    return await _run_response(ctx(request), run_id_of(request), request)


async def history(request: Request) -> Response:
    c = ctx(request)
    if not _sent_as(request, "history"):
        return await _run_response(c, run_id_of(request, "history"))  # the run `p/history`
    run_id = (await on_engine(c, get_run, c, run_id_of(request))).id
    q = request.query_params
    after = _sequence_number(q.get("after", "0"), "after")
    before = _sequence_number(q["before"], "before") if q.get("before") else None
    limit = _sequence_number(q["limit"], "limit") if q.get("limit") else None
    events = await on_engine(c, c.engine.history, run_id, after=after)
    events = history_matching(events, before=before, state=q.get("state"), type_=q.get("type"))
    matched = len(events)
    if limit is not None:  # the first `limit`, or with `newest` the last
        newest = q.get("newest") in ("1", "true")
        events = (events[-limit:] if newest else events[:limit]) if limit else []
    return JSONResponse({"events": [event_json(e) for e in events], "matched": matched})


def history_matching(
    events: list[Any], *, before: int | None = None, state: str | None, type_: str | None
) -> list[Any]:
    """The events (seq below ``before``) of graph node ``state`` and of the
    comma-separated event types ``type_``, in order."""
    if before is not None:
        events = [e for e in events if e.seq < before]
    if state:
        events = [e for e in events if e.state is not None and node_of(e.state) == state]
    if type_:
        types = {t.strip() for t in type_.split(",") if t.strip()}
        events = [e for e in events if e.type in types]
    return events


async def state(request: Request) -> Response:
    """``GET /api/runs/{id}/state?path=NODE``: what the run did in one state."""
    c = ctx(request)
    if not _sent_as(request, "state"):
        return await _run_response(c, run_id_of(request, "state"))  # the run `p/state`
    run = await on_engine(c, get_run, c, run_id_of(request))
    node = request.query_params.get("path") or ""
    if not node:
        raise ApiError(400, "bad_request", "path is the graph node id of a state (?path=charge)")
    definition = await on_engine(c, c.engine.definition, run.definition_hash)
    known = await off_loop(c, _node_ids, definition.source if definition else "")
    events = await on_engine(c, c.engine.history, run.id, execution=run.execution)
    if node not in known and not any(e.state and node_of(e.state) == node for e in events):
        raise ApiError(404, "not_found", f"run {run.id!r} has no state {node!r}")
    detail = state_detail(events, node, positions=run.positions(), now=c.engine.clock.now())
    return JSONResponse(detail)


def _node_ids(source: str) -> set[str]:
    """The graph node ids of a stored document (slow: it is compiled)."""
    workflow, _ = compile_text(source) if source else (None, [])
    return set() if workflow is None else {n.id for n in build_graph(workflow).nodes}


async def control(request: Request) -> Response:
    c = ctx(request)
    run_id = run_id_of(request)
    action = request.path_params["action"]
    if not _sent_as(request, action):
        # `POST /api/runs/p%2Fpause`: the run `p/pause`, and no action.
        raise ApiError(405, "method_not_allowed", "POST a run's action: /api/runs/{id}/{action}")
    data = await body(request)
    run = await on_engine(c, get_run, c, run_id)
    run_id = run.id
    if run.status in ENDED and action in ENDED_REFUSES:
        raise ApiError(
            409, "rejected", f"run {run_id!r} has ended ({run.status}): it takes no {action}"
        )
    engine = c.engine
    result: Any = None
    try:
        if action == "signal":
            channel = field_of(data, "channel")
            await on_engine(c, engine.signal, run_id, channel, data.get("data"))
        elif action == "call":
            handler = field_of(data, "handler")
            result = await on_engine(c, engine.call, run_id, handler, data.get("args"))
        elif action == "cancel":
            compensate = bool(data.get("compensate", False))
            await on_engine(c, engine.cancel, run_id, compensate=compensate)
        elif action == "pause":
            await on_engine(c, engine.pause, run_id)
        elif action == "resume":
            await on_engine(c, engine.resume, run_id)
        elif action == "step":
            await on_engine(c, engine.step, run_id)
        elif action == "redrive":
            by = f"designer {request.client.host if request.client else ''}"
            await on_engine(c, engine.redrive, run_id, by=by)
        else:
            raise ApiError(404, "not_found", f"no run action {action!r}")
    except ApiError:
        raise
    except WfdslError as exc:
        raise ApiError(409, "rejected", str(exc)) from None
    out: dict[str, Any] = {"run": run_json(await on_engine(c, engine.get, run_id))}
    if action == "call":
        out["result"] = result
    return JSONResponse(out)


async def complete_callback(request: Request) -> Response:
    """Complete (``output``), fail (``error``, ``message``) or heartbeat a
    callback token: what ``wfdsl complete`` does."""
    c = ctx(request)
    data = await body(request)
    token = field_of(data, "token")
    error = data.get("error")
    if error is not None and (not isinstance(error, str) or not error.strip()):
        raise ApiError(400, "bad_request", "field 'error' must be an error name (text)")
    heartbeat = data.get("heartbeat") is True
    if heartbeat and any(k in data for k in ("output", "error", "message")):
        raise ApiError(400, "bad_request", "a heartbeat takes no output, error or message")
    if error is not None and "output" in data:
        raise ApiError(400, "bad_request", "give output or error, not both")
    engine = c.engine
    try:
        if heartbeat:
            await off_loop(c, engine.heartbeat, token)
        else:
            message = data.get("message")
            await off_loop(
                c,
                engine.complete,
                token,
                data.get("output"),
                error,
                None if message is None else str(message),
            )
    except CallbackNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except (CallbackRefused, WfdslError) as exc:
        raise ApiError(409, "rejected", str(exc)) from None
    sent = "heartbeat" if heartbeat else ("failed" if error is not None else "completed")
    return JSONResponse({"sent": sent})


async def events(request: Request) -> Response:
    c = ctx(request)
    if not _sent_as(request, "events"):
        return await _run_response(c, run_id_of(request, "events"))  # the run `p/events`
    run_id = (await on_engine(c, get_run, c, run_id_of(request))).id
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    # Given (even 0), the events after it come first: what a page rendered
    # before the run's first commits would otherwise never see.
    after = None if raw is None else _sequence_number(raw, "after (or Last-Event-ID)")
    poll = float(request.app.state.sse_poll)
    return StreamingResponse(
        event_stream(c.engine, run_id, after=after, poll=poll, limiter=c.engine_limiter()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def routes() -> list[Route]:
    """The API routes, each with the metadata openapi.py documents."""
    from .coverage import coverage  # it imports this module's helpers

    return [
        Route("/api/session", session, methods=["GET"]),
        Route("/api/workspace", workspace, methods=["GET"]),
        Route("/api/templates", templates_list, methods=["GET"]),
        Route("/api/schema", schema, methods=["GET"]),
        Route("/api/graph", graph, methods=["POST"]),
        Route("/api/data", document_data, methods=["POST"]),
        Route("/api/files", create_file, methods=["POST"]),
        Route("/api/files/{path:path}/validate", validate_file, methods=["POST"]),
        Route("/api/files/{path:path}/edit", edit_file, methods=["POST"]),
        Route("/api/files/{path:path}/coverage", coverage, methods=["GET"]),
        Route("/api/files/{path:path}/input", get_input, methods=["GET"]),
        Route("/api/files/{path:path}/input", put_input, methods=["PUT"]),
        Route("/api/files/{path:path}", get_file, methods=["GET"]),
        Route("/api/files/{path:path}", put_file, methods=["PUT"]),
        Route("/api/callbacks/complete", complete_callback, methods=["POST"]),
        Route("/api/runs", list_runs, methods=["GET"]),
        Route("/api/runs", start_run, methods=["POST"]),
        # A child run's id holds "/" (parent/state): {run_id:path}, the
        # suffixed routes first (run_id_of tells `p/history` the run apart).
        Route("/api/runs/{run_id:path}/history", history, methods=["GET"]),
        Route("/api/runs/{run_id:path}/events", events, methods=["GET"]),
        Route("/api/runs/{run_id:path}/state", state, methods=["GET"]),
        Route("/api/runs/{run_id:path}/{action}", control, methods=["POST"]),
        Route("/api/runs/{run_id:path}", get_run_route, methods=["GET"]),
    ]
