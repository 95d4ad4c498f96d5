"""Actions: what a task calls. The registry (``@action``, modules, entry
points), the built-in actions, the runner that calls them with retries'
idempotency keys and deadlines, and the check that a flow's actions exist."""

from .registry import (
    ENTRY_POINT_GROUP,
    ActionContext,
    ActionImportError,
    ActionNotFound,
    ActionRegistry,
    ActionSpec,
    ArgumentError,
    action,
    default_registry,
    load_entry_points,
    load_modules,
    registrations,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "ActionImportError",
    "ActionNotFound",
    "ActionRegistry",
    "ActionSpec",
    "ArgumentError",
    "action",
    "default_registry",
    "load_entry_points",
    "load_modules",
    "registrations",
]
