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

Each backend gives its rows in the neutral shapes below (``copy_out``)
and writes them in ONE transaction (``copy_in``): the destination has all
of them or none. Nothing holds a whole table: ``copy_out`` keeps one read
snapshot open while the rows are read :data:`BATCH_ROWS` at a time
(server-side cursors on PostgreSQL, SQLite's stepping cursor), and
``copy_in`` writes each batch before taking the next, so a copy's memory
does not grow with the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol, TypeVar, runtime_checkable

from wfdsl.errors import WfdslError

from .protocol import Store

__all__ = [
    "BATCH_ROWS",
    "RUN_FIELDS",
    "CopyCount",
    "Copyable",
    "DestinationNotEmpty",
    "Tables",
    "batches",
    "copy_store",
]

#: Rows read, and written, at a time.
BATCH_ROWS = 500

T = TypeVar("T")


def batches(rows: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """``rows`` in lists of at most ``size`` (default :data:`BATCH_ROWS`,
    read when called, so a test can lower it)."""
    limit = BATCH_ROWS if size is None else size
    iterator = iter(rows)
    while chunk := list(islice(iterator, limit)):
        yield chunk


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

    def close(self) -> None:
        """Stop reading: close the tables' generators (and so their cursors)."""
        for rows in (self.definitions, self.runs, self.events, self.inbox, self.schedules):
            close = getattr(rows, "close", None)
            if close is not None:
                close()


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

    def copy_out(self) -> AbstractContextManager[Tables]:
        """Every row, read lazily from one snapshot that stays open until
        the ``with`` block ends (the tables are read in their order)."""
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
    with source.copy_out() as tables:
        return destination.copy_in(tables, replace=replace)
