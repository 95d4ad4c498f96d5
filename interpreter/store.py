"""The store protocol: the only way the engine reaches durable state.

``sqlite_store.SqliteStore`` implements it on one SQLite file; a PostgreSQL
store can implement the same protocol later. Nothing outside a store module
contains SQL.

Every method is a complete unit: it commits before returning (``commit``
commits a whole group of run updates in ONE transaction: group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .records import (
    CommitResult,
    Definition,
    Event,
    InboxMessage,
    Lease,
    RunFilter,
    RunRow,
    RunUpdate,
)

__all__ = ["Store", "StoreError"]


class StoreError(Exception):
    """The store could not do what was asked (disk full, I/O error, locked
    past the busy timeout). Nothing was committed."""


class Store(Protocol):
    # --- definitions -------------------------------------------------------
    def put_definition(self, definition: Definition) -> None:
        """Store a definition by content hash (idempotent)."""

    def get_definition(self, hash: str) -> Definition | None: ...

    def find_definition(self, name: str, version: str | None = None) -> Definition | None:
        """The newest stored definition of that name (and version)."""

    # --- runs ----------------------------------------------------------------
    def create_run(
        self,
        run: RunRow,
        events: Sequence[Event],
        *,
        id_reuse: str = "allow_if_no_running",
        now: float,
    ) -> RunRow:
        """Insert a run with its first events, applying ``id_reuse`` when a run
        with that id exists (``allow_if_no_running``: replace a finished one,
        refuse a running one; ``allow_if_failed``: replace a failed/cancelled
        one only; ``disallow``: refuse; ``terminate_if_running``: mark the
        running one cancelled (event ``run_cancelled``) and replace it).
        Raises ``wfdsl.RunAlreadyExists`` when refused. A replaced run's rows
        (history, inbox) are deleted in the same transaction."""
        ...

    def get_run(self, run_id: str) -> RunRow | None: ...

    def list_runs(self, criteria: RunFilter) -> list[RunRow]:
        """Runs matching, newest first, without their history."""
        ...

    def history(self, run_id: str, after_seq: int = 0) -> list[Event]: ...

    def commit(self, updates: Sequence[RunUpdate], *, now: float) -> list[CommitResult]:
        """Apply every update whose ``expected_version`` and lease still match,
        all in one transaction; refuse the others without failing the group."""
        ...

    # --- inbox ---------------------------------------------------------------
    def send(self, run_id: str, channel: str, data: Any, *, now: float) -> InboxMessage:
        """Append a message to a run's inbox and mark the run ready; durable on
        return. Raises ``wfdsl.RunNotFound``."""
        ...

    def inbox(self, run_id: str, *, after_seq: int = 0) -> list[InboxMessage]:
        """The run's unconsumed messages in order."""
        ...

    # --- scheduling and leases -------------------------------------------------
    def claim_ready(
        self, owner: str, *, now: float, lease_seconds: float, limit: int
    ) -> list[tuple[RunRow, Lease]]:
        """Take the lease of up to ``limit`` active runs whose ``ready_at <= now``
        and whose lease is free or expired (one transaction); newest
        generation in the returned lease."""
        ...

    def claim(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Lease | None:
        """Take one run's lease if it is free, expired or already ours."""
        ...

    def renew(self, leases: Sequence[Lease], *, now: float, lease_seconds: float) -> list[Lease]:
        """Extend leases still held; the ones lost are left out of the result."""
        ...

    def release(self, leases: Sequence[Lease]) -> None: ...

    def next_ready_at(self) -> float | None:
        """The earliest ``ready_at`` among active runs (what the loop sleeps on)."""
        ...

    def change_counter(self) -> int:
        """Increases whenever another connection commits (``PRAGMA
        data_version``): a cheap poll for signals from other processes."""
        ...

    # --- schedules ---------------------------------------------------------------
    def schedule_state(self, definition_name: str) -> dict[str, Any] | None: ...

    def set_schedule_state(self, definition_name: str, state: dict[str, Any]) -> None: ...

    def close(self) -> None: ...
