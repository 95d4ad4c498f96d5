"""wfdsl: durable YAML state-machine workflows on one SQLite file.

The public API is exactly ``__all__`` (DSL.md §12); tests/test_public_api.py
keeps it so.

``load`` and ``validate`` are imported on first use: they bring the front
end (the YAML loaders, JSON Schema, the expression parser), which an engine
serving parked runs needs only once one is due, and which would otherwise be
most of its memory. tests/interpreter/test_lazy_imports.py keeps it so.
"""

import typing

from wfdsl.dsl.findings import Finding
from wfdsl.errors import (
    ActionError,
    ExpressionError,
    HandlerRejected,
    RunAlreadyExists,
    RunNotFound,
    ValidationError,
    WfdslError,
)
from wfdsl.interpreter.actions import ActionContext, action
from wfdsl.interpreter.clock import SystemClock, VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.records import Event
from wfdsl.interpreter.run_view import Run

if typing.TYPE_CHECKING:  # pragma: no cover
    from wfdsl.dsl.api import load, validate

__all__ = [
    "ActionContext",
    "ActionError",
    "Engine",
    "Event",
    "ExpressionError",
    "Finding",
    "HandlerRejected",
    "Run",
    "RunAlreadyExists",
    "RunNotFound",
    "SystemClock",
    "ValidationError",
    "VirtualClock",
    "WfdslError",
    "action",
    "load",
    "validate",
]


def __getattr__(name: str) -> object:
    if name in ("load", "validate"):
        from wfdsl.dsl import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
