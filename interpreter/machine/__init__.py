"""The pure state machine: (workflow, run state, trigger) -> transition.

No I/O here: no store, no clock, no actions. ``transition`` holds the entry
points; the other modules are the parts of the language it interprets
(tasks, waits, parallel and map forks, sagas, handlers, retries)."""

from .transition import advance, new_run, written_size

__all__ = ["advance", "new_run", "written_size"]
