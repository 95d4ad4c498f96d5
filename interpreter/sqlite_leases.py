"""Scheduling and leases in the SQLite store: which runs are due, and which
driver holds each. Each function works inside the transaction (or read)
:class:`~.sqlite_store.SqliteStore` opened on ``conn``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import replace

from wfdsl.errors import RunNotFound

from .records import Lease, RunRow
from .sqlite_rows import ACTIVE_SQL, RUN_COLUMNS_BARE, run_from_row
from .store import DamagedRun

__all__ = [
    "claim",
    "claim_ready",
    "free_leases_of",
    "lease_owners",
    "next_ready_at",
    "release",
    "renew",
]

# The store's logger, whichever of its modules reports.
_log = logging.getLogger("wfdsl.interpreter.sqlite_store")


def claim_ready(
    conn: sqlite3.Connection, owner: str, *, now: float, expires: float, limit: int
) -> list[tuple[RunRow, Lease]]:
    """Lease up to ``limit`` due runs to ``owner`` until ``expires``, by
    ready time; a damaged run among them is set aside instead."""
    # One statement: the candidates are chosen and leased under the
    # same write lock, so two owners can never both take a run.
    # INDEXED BY: for `status IN (...)` the planner picked
    # runs_by_status and sorted every active run (4.6 ms a claim at
    # 20,000 parked runs, and their pages in memory); runs_ready
    # walks only the runs due, already in order.
    rows = conn.execute(
        "UPDATE runs SET "
        "lease_generation = CASE WHEN lease_owner IS ?1 THEN lease_generation "
        "ELSE lease_generation + 1 END, lease_owner = ?1, lease_expires_at = ?2 "
        "WHERE key IN (SELECT key FROM runs INDEXED BY runs_ready WHERE ready_at <= ?3 "
        f"AND status IN {ACTIVE_SQL} "
        "AND (lease_owner IS NULL OR lease_expires_at <= ?3 OR lease_owner = ?1) "
        "ORDER BY ready_at LIMIT ?4) "
        f"RETURNING {RUN_COLUMNS_BARE}, lease_generation",
        (owner, expires, now, limit),
    ).fetchall()
    claimed = []
    for row in rows:
        try:
            run = run_from_row(row)
        except DamagedRun as exc:
            # Set aside: out of the ready index and unleased, so no
            # loop claims it again; its data is left as found.
            conn.execute(
                "UPDATE runs SET ready_at = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE id = ?",
                (row[0],),
            )
            _log.error("wfdsl: %s", exc)
            continue
        claimed.append((run, Lease(row[0], owner, row[16], expires)))
    claimed.sort(key=lambda pair: (pair[0].ready_at or 0.0, pair[0].id))
    return claimed


def claim(
    conn: sqlite3.Connection, run_id: str, owner: str, *, now: float, expires: float, path: str
) -> Lease | None:
    """Lease ``run_id`` to ``owner`` unless another owner holds a live lease
    (None); RunNotFound, naming the store ``path``, when there is no such run."""
    row = conn.execute(
        "UPDATE runs SET "
        "lease_generation = CASE WHEN lease_owner IS ?1 THEN lease_generation "
        "ELSE lease_generation + 1 END, lease_owner = ?1, lease_expires_at = ?2 "
        "WHERE id = ?4 AND (lease_owner IS NULL OR lease_expires_at <= ?3 "
        "OR lease_owner = ?1) RETURNING lease_generation",
        (owner, expires, now, run_id),
    ).fetchone()
    if row is not None:
        return Lease(run_id, owner, row[0], expires)
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
        raise RunNotFound(f"no run {run_id!r} in {path!r}")
    return None


def renew(conn: sqlite3.Connection, leases: Sequence[Lease], *, expires: float) -> list[Lease]:
    """The ``leases`` still held, extended to ``expires``."""
    kept: list[Lease] = []
    for lease in leases:
        row = conn.execute(
            "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? "
            "AND lease_generation = ? RETURNING 1",
            (expires, lease.run_id, lease.owner, lease.generation),
        ).fetchone()
        if row is not None:
            kept.append(replace(lease, expires_at=expires))
    return kept


def release(conn: sqlite3.Connection, leases: Sequence[Lease]) -> None:
    conn.executemany(
        "UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL "
        "WHERE id = ? AND lease_owner = ? AND lease_generation = ?",
        [(lease.run_id, lease.owner, lease.generation) for lease in leases],
    )


def lease_owners(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(owner, runs leased) of every owner holding a lease."""
    # Only leased runs are visited (the partial index runs_leased).
    return conn.execute(
        "SELECT lease_owner, count(*) FROM runs INDEXED BY runs_leased "
        "WHERE lease_owner IS NOT NULL GROUP BY lease_owner"
    ).fetchall()


def free_leases_of(
    conn: sqlite3.Connection, owners: Sequence[str], *, now: float
) -> dict[str, int]:
    """Drop every lease of ``owners`` and make their runs due by ``now``; how
    many each held."""
    freed: dict[str, int] = {}
    for owner in owners:
        count = conn.execute(
            "UPDATE runs INDEXED BY runs_leased SET lease_owner = NULL, "
            "lease_expires_at = NULL, ready_at = min(ready_at, ?2) "
            "WHERE lease_owner = ?1",
            (owner, now),
        ).rowcount
        if count:
            freed[owner] = count
    return freed


def next_ready_at(conn: sqlite3.Connection, owner: str | None) -> float | None:
    """When the next run is due (that ``owner`` could claim, when given)."""
    if owner is None:
        row = conn.execute("SELECT min(ready_at) FROM runs WHERE ready_at IS NOT NULL").fetchone()
        return None if row is None else row[0]
    # Walks runs_ready in order and stops at the first run this owner
    # could claim; runs leased elsewhere are few (runs_leased). The
    # planner would pick runs_ready for the second query too and
    # scan every timer-parked run on each idle poll: idle CPU grew
    # linearly with parked runs (3 ms per poll at 20,000).
    free = conn.execute(
        "SELECT ready_at FROM runs WHERE ready_at IS NOT NULL "
        "AND (lease_owner IS NULL OR lease_owner = ?) ORDER BY ready_at LIMIT 1",
        (owner,),
    ).fetchone()
    leased = conn.execute(
        "SELECT min(max(ready_at, lease_expires_at)) FROM runs INDEXED BY runs_leased "
        "WHERE lease_owner IS NOT NULL AND lease_owner != ? AND ready_at IS NOT NULL",
        (owner,),
    ).fetchone()
    times = [t for t in (free and free[0], leased and leased[0]) if t is not None]
    return min(times) if times else None
