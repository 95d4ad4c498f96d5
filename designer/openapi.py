"""``/openapi.json``: the designer's API (designer/API.md) as OpenAPI 3.1.

Written as a table, one row per operation, so it reads like API.md and a
test can check that every API route is documented and nothing else is.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OPERATIONS", "openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "findings"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
            },
        }
    },
}
_FINDING = {
    "type": "object",
    "properties": {
        k: {"type": ["string", "integer", "null"]}
        for k in (
            "code",
            "name",
            "severity",
            "message",
            "suggestion",
            "file",
            "line",
            "col",
            "end_line",
            "end_col",
            "path",
        )
    },
}
_VIEW = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "loaded": {"type": "boolean"},
        "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
        "graph": {"type": ["object", "null"]},
        "layout": {"type": ["object", "null"]},
        "svg": {"type": ["string", "null"]},
    },
}
_RUN = {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"}}}

# The type of each request body field (designer/API.md); a field not named
# here takes any JSON value (run input, signal data, handler args).
_FIELDS: dict[str, Any] = {
    "text": {"type": "string"},
    "path": {"type": "string"},
    "template": {"type": "string"},
    "file": {"type": "string"},
    "run_id": {"type": "string"},
    "channel": {"type": "string"},
    "handler": {"type": "string"},
    "compensate": {"type": "boolean"},
    "token": {"type": "string"},
    "error": {"type": "string"},
    "message": {"type": "string"},
    "heartbeat": {"type": "boolean"},
    "op": {
        "type": "object",
        "required": ["op"],
        "properties": {
            "op": {"type": "string"},
            "state": {"type": "string"},
            "branch": {"type": "string"},
            "to": {"type": "string"},
            "type": {"type": "string"},
        },
    },
}
# The fields a request must have, by path (a missing one is 400 bad_request).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "/api/graph": ("text",),
    "/api/data": ("text",),
    "/api/files": ("path",),
    "/api/files/{path}": ("text",),
    "/api/files/{path}/validate": ("text",),
    "/api/files/{path}/edit": ("text", "op"),
    "/api/files/{path}/input": ("input",),
    "/api/runs": ("file",),
    "/api/runs/{run_id}/signal": ("channel",),
    "/api/runs/{run_id}/call": ("handler",),
    "/api/callbacks/complete": ("token",),
}

_RUN_ID_IN_PATH = (
    "A run id, percent-encoded as one segment: a child run's id holds '/' "
    "(parent/state), sent as %2F (designer/API.md, Run ids in paths)."
)

# (method, path, summary, request body fields, success status)
OPERATIONS: tuple[tuple[str, str, str, tuple[str, ...], int], ...] = (
    ("get", "/api/session", "CSRF token and server facts", (), 200),
    ("get", "/api/workspace", "Workflow files with validity and run counts", (), 200),
    ("get", "/api/templates", "Starter templates for new workflows", (), 200),
    ("get", "/api/schema", "The wfdsl JSON Schema", (), 200),
    ("post", "/api/graph", "View of a text without a file", ("text",), 200),
    ("post", "/api/data", "A text's plain data for the forms", ("text",), 200),
    ("post", "/api/files", "Create a workflow from a starter template", ("path", "template"), 201),
    ("get", "/api/files/{path}", "A file's text and View", (), 200),
    ("put", "/api/files/{path}", "Save a file atomically", ("text",), 200),
    ("post", "/api/files/{path}/validate", "View of unsaved text", ("text",), 200),
    ("post", "/api/files/{path}/edit", "Apply one edit operation to text", ("text", "op"), 200),
    (
        "get",
        "/api/files/{path}/coverage",
        "Run the flow's wfdsl test files; states and edges their cases took",
        (),
        200,
    ),
    ("get", "/api/files/{path}/input", "The flow's saved run input (STEM.input.json)", (), 200),
    ("put", "/api/files/{path}/input", "Save the flow's run input", ("input",), 200),
    ("get", "/api/runs", "Runs, filtered by status, workflow and a where expression", (), 200),
    ("post", "/api/runs", "Start a run of a workspace file", ("file", "input", "run_id"), 201),
    ("get", "/api/runs/{run_id}", "A run, its state statuses and definition View", (), 200),
    (
        "get",
        "/api/runs/{run_id}/history",
        "History events between sequence numbers (?after=&before=), of one state (?state=) "
        "and event types (?type=), the first or newest N (?limit=&newest=1)",
        (),
        200,
    ),
    ("get", "/api/runs/{run_id}/state", "What the run did in one state (?path=NODE)", (), 200),
    ("get", "/api/runs/{run_id}/events", "Server-Sent Events: snapshot, delta, end", (), 200),
    ("post", "/api/runs/{run_id}/signal", "Send a signal", ("channel", "data"), 200),
    ("post", "/api/runs/{run_id}/call", "Call a handler", ("handler", "args"), 200),
    ("post", "/api/runs/{run_id}/cancel", "Cancel, optionally compensating", ("compensate",), 200),
    ("post", "/api/runs/{run_id}/pause", "Pause", (), 200),
    ("post", "/api/runs/{run_id}/resume", "Resume", (), 200),
    ("post", "/api/runs/{run_id}/step", "One transition of a paused run", (), 200),
    (
        "post",
        "/api/callbacks/complete",
        "Complete, fail or heartbeat a callback token",
        ("token", "output", "error", "message", "heartbeat"),
        200,
    ),
)

_ERRORS = {
    "400": "bad_host, bad_json, bad_request, bad_path",
    "401": "unauthorized",
    "403": "bad_origin, csrf, shell_refused, imports_refused",
    "404": "not_found, no_such_run",
    "408": "request_timeout",
    "409": "exists, rejected",
    "413": "too_large",
    "415": "unsupported_media_type",
    "422": "invalid",
}


def _operation(method: str, path: str, summary: str, fields: tuple[str, ...], ok: int) -> Any:
    op: dict[str, Any] = {"summary": summary, "responses": {}}
    params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            | ({"description": _RUN_ID_IN_PATH} if p == "run_id" else {})
            for p in params
        ]
    if path == "/api/runs" and method == "get":
        op["parameters"] = [
            {"name": n, "in": "query", "schema": {"type": "string"}}
            for n in ("status", "workflow", "where", "limit")
        ]
    if path == "/api/files/{path}/edit":
        op["parameters"] = [
            *op.get("parameters", []),
            {
                "name": "preview",
                "in": "query",
                "description": "1: only the findings the edit would bring, not drawn",
                "schema": {"type": "string", "enum": ["1"]},
            },
        ]
    if method != "get":
        op["parameters"] = [
            *op.get("parameters", []),
            {
                "name": "X-CSRF-Token",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
        ]
        op["requestBody"] = {
            "required": bool(fields),
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {f: _FIELDS.get(f, {}) for f in fields},
                        "required": [f for f in fields if f in _REQUIRED.get(path, ())],
                    }
                }
            },
        }
    media = "text/event-stream" if path.endswith("/events") else "application/json"
    schema: dict[str, Any] = {"type": "object"}
    if path.endswith(("/validate", "/edit", "/api/graph")):
        schema = {"$ref": "#/components/schemas/View"}
    op["responses"][str(ok)] = {"description": "success", "content": {media: {"schema": schema}}}
    for status, codes in _ERRORS.items():
        op["responses"][status] = {
            "description": codes,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return op


def openapi_document(version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the JSON API."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, fields, ok in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(method, path, summary, fields, ok)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wfdsl designer API",
            "version": version,
            "description": "See designer/API.md. Authenticate with the per-launch token "
            "(cookie wfdsl_token, or Authorization: Bearer); state-changing requests also "
            "need X-CSRF-Token (GET /api/session) and a same-origin Origin.",
        },
        "components": {
            "schemas": {"Error": _ERROR, "Finding": _FINDING, "View": _VIEW, "Run": _RUN},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "wfdsl_token"},
            },
        },
        "security": [{"token": []}, {"cookie": []}],
        "paths": paths,
    }
