"""``wfdsl db copy SRC DST``: every run with its full history from one store
to another (SQLite to PostgreSQL and back).

The copy is of rows, not of runs replayed: definitions, every execution
of every run (with its key, so earlier executions stay earlier), events,
the whole inbox (consumed messages included, with their seq numbers: a
run's state records the highest seq its machine looked at, so the numbers
must not change), and schedules. Search rows are rebuilt from each run's
search attributes; timers are the runs' ``ready_at``. Leases are not
copied: the copy is made with the workers stopped, and a run's lease
generation is kept so no lease of the old store could ever match.

Each backend gives its rows in the neutral shapes below (``copy_out``) and
writes them in ONE transaction (``copy_in``): the destination has all of
them or none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from wfdsl.errors import WfdslError

from .protocol import Store

__all__ = [
    "RUN_FIELDS",
    "CopyCount",
    "Copyable",
    "DestinationNotEmpty",
    "Tables",
    "copy_store",
]

#: The columns of a copied run row, in order (JSON columns as their text).
RUN_FIELDS = (
    "key",
    "id",
    "name",
    "execution",
    "workflow",
    "version",
    "definition_hash",
    "status",
    "input",
    "vars",
    "output",
    "error",
    "started_at",
    "ended_at",
    "ready_at",
    "state",
    "search",
    "parent_run",
    "row_version",
    "needs_action",
    "lease_generation",
)


@dataclass(slots=True)
class Tables:
    """A store's rows, table by table, as iterators (a large store is
    streamed, not loaded whole). Shapes:

    - ``definitions``: (hash, name, version, source, file, created_at),
      oldest first;
    - ``runs``: :data:`RUN_FIELDS`, by key;
    - ``events``: (run key, seq, type, time, state, data JSON or None);
    - ``inbox``: (seq, run key, channel, data JSON or None, sent_at, consumed);
    - ``schedules``: (name, state JSON).
    """

    definitions: Iterator[tuple[Any, ...]]
    runs: Iterator[tuple[Any, ...]]
    events: Iterator[tuple[Any, ...]]
    inbox: Iterator[tuple[Any, ...]]
    schedules: Iterator[tuple[Any, ...]]


@dataclass(slots=True)
class CopyCount:
    """How many rows of each table were copied."""

    workflows: int = 0  # definition rows: every version of every workflow
    runs: int = 0
    events: int = 0
    inbox: int = 0
    schedules: int = 0


class DestinationNotEmpty(WfdslError):
    """The destination store already holds runs, definitions or schedules."""


@runtime_checkable
class Copyable(Protocol):
    """A store that can give and take all its rows (both backends)."""

    def copy_out(self) -> Tables:
        """Every row, read in one snapshot."""
        ...

    def copy_in(self, tables: Tables, *, replace: bool) -> CopyCount:
        """Write ``tables`` in one transaction; with ``replace`` the store's
        own rows are deleted first, else a store that is not empty raises
        :class:`DestinationNotEmpty` and nothing is written."""
        ...


def copy_store(source: Store, destination: Store, *, replace: bool = False) -> CopyCount:
    """Copy every row of ``source`` into ``destination`` (see the module)."""
    if not isinstance(source, Copyable) or not isinstance(destination, Copyable):
        raise TypeError("both stores must be wfdsl's own backends (SQLite, PostgreSQL)")
    return destination.copy_in(source.copy_out(), replace=replace)
