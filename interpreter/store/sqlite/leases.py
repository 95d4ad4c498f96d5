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

from ..errors import DamagedRun
from ..records import ChangedRuns, Lease, RunRow
from .rows import ACTIVE_SQL, RUN_COLUMNS_BARE, run_from_row

__all__ = [
    "changed_runs",
    "claim",
    "claim_ready",
    "free_leases_of",
    "lease_owners",
    "next_ready_at",
    "release",
    "renew",
]

# The store's logger, whichever of its modules reports.
_log = logging.getLogger("wfdsl.interpreter.store.sqlite.store")


def _candidates(actions: bool, tree: bool) -> str:
    """The keys a claim may take (parameters: :owner, :now, :limit,
    :actions the claimer's actions as a JSON array, :tree the tree's root run id).

    Runs that wait for no particular action are walked in ready order on
    ``runs_ready``; runs handed back for an action (``needs_action``) are
    looked up on ``runs_needing`` by the claimer's own actions only, so runs
    nobody here can take are never visited. INDEXED BY: for `status IN
    (...)` the planner picked runs_by_status and sorted every active run
    (4.6 ms a claim at 20,000 parked runs, and their pages in memory)."""
    free = f"status IN {ACTIVE_SQL} AND (lease_owner IS NULL OR lease_expires_at <= :now OR lease_owner = :owner)"
    if tree:
        # One run and its subflow children (ids "root/state..."): the id
        # index finds them, whatever else the store holds.
        needs = "(needs_action IS NULL OR needs_action IN (SELECT value FROM json_each(:actions)))"
        if not actions:
            needs = "1"
        return (
            "SELECT key FROM runs WHERE (id = :tree OR (id > :tree || '/' AND id < :tree || '0')) "
            f"AND ready_at <= :now AND {needs} AND {free} ORDER BY ready_at LIMIT :limit"
        )
    plain = (
        "SELECT key, ready_at FROM runs INDEXED BY runs_ready WHERE ready_at <= :now "
        f"AND needs_action IS NULL AND {free} ORDER BY ready_at LIMIT :limit"
    )
    routed = (
        "needs_action IN (SELECT value FROM json_each(:actions))"
        if actions
        else "needs_action IS NOT NULL"
    )
    needing = (
        f"SELECT key, ready_at FROM runs INDEXED BY runs_needing WHERE {routed} "
        f"AND ready_at <= :now AND {free} ORDER BY ready_at LIMIT :limit"
    )
    return (
        f"SELECT key FROM (SELECT * FROM ({plain}) UNION ALL SELECT * FROM ({needing})) "
        "ORDER BY ready_at LIMIT :limit"
    )


def claim_ready(
    conn: sqlite3.Connection,
    owner: str,
    *,
    now: float,
    expires: float,
    limit: int,
    actions: str | None = None,
    tree: str | None = None,
) -> list[tuple[RunRow, Lease]]:
    """Lease up to ``limit`` due runs to ``owner`` until ``expires``, by
    ready time; a damaged run among them is set aside instead. ``actions``
    (a JSON array of names): a run handed back for an action is taken only
    when the action is among them. ``tree``: only that run and its
    subflow children."""
    # One statement: the candidates are chosen and leased under the
    # same write lock, so two owners can never both take a run.
    rows = conn.execute(
        "UPDATE runs SET "
        "lease_generation = CASE WHEN lease_owner IS :owner THEN lease_generation "
        "ELSE lease_generation + 1 END, lease_owner = :owner, lease_expires_at = :expires "
        f"WHERE key IN ({_candidates(actions is not None, tree is not None)}) "
        f"RETURNING {RUN_COLUMNS_BARE}, lease_generation",
        {
            "owner": owner,
            "expires": expires,
            "now": now,
            "limit": limit,
            "actions": actions,
            "tree": tree,
        },
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
        claimed.append((run, Lease(row[0], owner, row[-1], expires)))
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


def release(
    conn: sqlite3.Connection, leases: Sequence[Lease], *, ready_at: float | None = None
) -> None:
    """Drop ``leases`` still held; with ``ready_at``, their active runs are
    due by then at the latest (a run handed back mid-call: the next claimer
    takes it at once, not when the lease would have ended)."""
    if ready_at is None:
        conn.executemany(
            "UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE id = ? AND lease_owner = ? AND lease_generation = ?",
            [(lease.run_id, lease.owner, lease.generation) for lease in leases],
        )
        return
    conn.executemany(
        "UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, "
        f"ready_at = CASE WHEN status IN {ACTIVE_SQL} THEN min(coalesce(ready_at, ?1), ?1) END "
        "WHERE id = ?2 AND lease_owner = ?3 AND lease_generation = ?4",
        [(ready_at, lease.run_id, lease.owner, lease.generation) for lease in leases],
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


def next_ready_at(
    conn: sqlite3.Connection,
    owner: str | None,
    *,
    actions: str | None = None,
    tree: str | None = None,
) -> float | None:
    """When the next run is due (that ``owner`` could claim, when given;
    among runs ``actions`` may take and in ``tree``, as :func:`claim_ready`)."""
    if owner is None:
        row = conn.execute("SELECT min(ready_at) FROM runs WHERE ready_at IS NOT NULL").fetchone()
        return None if row is None else row[0]
    if tree is not None:
        needs = (
            "(needs_action IS NULL OR needs_action IN (SELECT value FROM json_each(:actions)))"
            if actions is not None
            else "1"
        )
        row = conn.execute(
            "SELECT min(CASE WHEN lease_owner IS NULL OR lease_owner = :owner THEN ready_at "
            "ELSE max(ready_at, lease_expires_at) END) FROM runs "
            "WHERE (id = :tree OR (id > :tree || '/' AND id < :tree || '0')) "
            f"AND ready_at IS NOT NULL AND {needs}",
            {"owner": owner, "tree": tree, "actions": actions},
        ).fetchone()
        return None if row is None else row[0]
    # Walks runs_ready in order and stops at the first run this owner
    # could claim; runs leased elsewhere are few (runs_leased). The
    # planner would pick runs_ready for the second query too and
    # scan every timer-parked run on each idle poll: idle CPU grew
    # linearly with parked runs (3 ms per poll at 20,000). The three
    # go in one statement (a driver asks at every tick; three statements
    # were a tenth of a sequential step's CPU), each keeping its index.
    routed = (
        "needs_action IN (SELECT value FROM json_each(:actions))"
        if actions is not None
        else "needs_action IS NOT NULL"
    )
    row = conn.execute(
        "SELECT (SELECT ready_at FROM runs INDEXED BY runs_ready WHERE ready_at IS NOT NULL "
        "AND needs_action IS NULL AND (lease_owner IS NULL OR lease_owner = :owner) "
        "ORDER BY ready_at LIMIT 1), "
        f"(SELECT min(ready_at) FROM runs INDEXED BY runs_needing WHERE {routed} "
        "AND ready_at IS NOT NULL AND (lease_owner IS NULL OR lease_owner = :owner)), "
        "(SELECT min(max(ready_at, lease_expires_at)) FROM runs INDEXED BY runs_leased "
        "WHERE lease_owner IS NOT NULL AND lease_owner != :owner AND ready_at IS NOT NULL "
        f"AND (needs_action IS NULL OR {routed}))",
        {"owner": owner, "actions": actions},
    ).fetchone()
    times = [t for t in row if t is not None]
    return min(times) if times else None


def changed_runs(conn: sqlite3.Connection, since: object | None) -> ChangedRuns:
    """The runs sent a message or given a new row since the cursor
    ``since`` = (data_version, last inbox seq, last run key).

    ``PRAGMA data_version`` changes only when another connection commits:
    unchanged, nothing was written by anyone else and no query runs. Else
    the new messages (inbox seq is AUTOINCREMENT: never reused, in commit
    order under SQLite's one writer) and new run rows (keys only grow) name
    the runs. The version is read before the snapshot the rest comes from,
    so a commit between the two is seen again next time rather than missed."""
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    if isinstance(since, tuple) and since[0] == version:
        return ChangedRuns(since, frozenset(), False)
    conn.execute("BEGIN")
    try:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone()
        seq = 0 if row is None else int(row[0])
        (key,) = conn.execute("SELECT coalesce(max(key), 0) FROM runs").fetchone()
        cursor = (version, seq, int(key))
        if not isinstance(since, tuple):
            return ChangedRuns(cursor, frozenset(), True)
        _, last_seq, last_key = since
        ids = {
            run_id
            for (run_id,) in conn.execute(
                "SELECT coalesce(r.id, r.name) FROM inbox i JOIN runs r ON r.key = i.run_key "
                "WHERE i.seq > ?1 AND i.seq <= ?2 "
                "UNION SELECT coalesce(id, name) FROM runs WHERE key > ?3 AND key <= ?4",
                (last_seq, seq, last_key, int(key)),
            )
        }
    finally:
        conn.execute("COMMIT")
    return ChangedRuns(cursor, frozenset(ids), True)
