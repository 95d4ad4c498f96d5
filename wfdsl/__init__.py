"""wfdsl: durable YAML state-machine workflows on one SQLite file.

The public API is exactly ``__all__`` (docs/python-api.md);
tests/test_public_api.py keeps it so.

Every name is imported on first use (PEP 562 ``__getattr__``): importing
``wfdsl`` or any of its modules (``wfdsl.cli``, ``wfdsl.errors``) loads
nothing else, so ``wfdsl --help`` does not pay for the engine, and
``load``/``validate`` bring the front end (the YAML loaders, JSON Schema,
the expression parser) only when called, which an engine serving parked
runs needs only once one is due. tests/interpreter/test_lazy_imports.py and
tests/cli/test_cli_startup.py keep it so.
"""

import importlib
import typing

if typing.TYPE_CHECKING:  # pragma: no cover
    from wfdsl.dsl.api import load, validate
    from wfdsl.dsl.findings import Finding
    from wfdsl.errors import (
        ActionError,
        AmbiguousRunId,
        CallbackNotFound,
        CallbackRefused,
        ExpressionError,
        HandlerRejected,
        RunAlreadyExists,
        RunEnded,
        RunNotFound,
        ValidationError,
        WfdslError,
    )
    from wfdsl.interpreter.actions.registry import ActionContext, action
    from wfdsl.interpreter.clock import SystemClock, VirtualClock
    from wfdsl.interpreter.engine import Engine
    from wfdsl.interpreter.run_view import Run
    from wfdsl.interpreter.store.records import Event

__all__ = [
    "ActionContext",
    "ActionError",
    "AmbiguousRunId",
    "CallbackNotFound",
    "CallbackRefused",
    "Engine",
    "Event",
    "ExpressionError",
    "Finding",
    "HandlerRejected",
    "Run",
    "RunAlreadyExists",
    "RunEnded",
    "RunNotFound",
    "SystemClock",
    "ValidationError",
    "VirtualClock",
    "WfdslError",
    "action",
    "load",
    "validate",
]

#: Where each public name lives.
_HOMES = {
    "ActionContext": "wfdsl.interpreter.actions.registry",
    "ActionError": "wfdsl.errors",
    "AmbiguousRunId": "wfdsl.errors",
    "CallbackNotFound": "wfdsl.errors",
    "CallbackRefused": "wfdsl.errors",
    "Engine": "wfdsl.interpreter.engine",
    "Event": "wfdsl.interpreter.store.records",
    "ExpressionError": "wfdsl.errors",
    "Finding": "wfdsl.dsl.findings",
    "HandlerRejected": "wfdsl.errors",
    "Run": "wfdsl.interpreter.run_view",
    "RunAlreadyExists": "wfdsl.errors",
    "RunEnded": "wfdsl.errors",
    "RunNotFound": "wfdsl.errors",
    "SystemClock": "wfdsl.interpreter.clock",
    "ValidationError": "wfdsl.errors",
    "VirtualClock": "wfdsl.interpreter.clock",
    "WfdslError": "wfdsl.errors",
    "action": "wfdsl.interpreter.actions.registry",
    "load": "wfdsl.dsl.api",
    "validate": "wfdsl.dsl.api",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
