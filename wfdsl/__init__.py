"""wfdsl: durable YAML state-machine workflows on one SQLite file.

The public API is exactly ``__all__`` (DSL.md §12); tests/test_public_api.py
keeps it so.
"""

from wfdsl.dsl.api import load, validate
from wfdsl.dsl.findings import Finding
from wfdsl.errors import (
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

__all__ = [
    "ActionContext",
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
