"""Scheduling and leases in the PostgreSQL store, all on the narrow
``queue`` table. Claims take rows with ``FOR UPDATE SKIP LOCKED``: two
workers claiming at once never wait for each other and never take the same
run; a run whose row another transaction holds (a commit in progress) is
simply left for the next claim. Each function works inside the transaction
:class:`~.store.PostgresStore` opened on ``cur``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from wfdsl.errors import RunNotFound

from ..errors import DamagedRun
from ..records import Lease, RunRow
from .rows import FROM_RUNS, RUN_COLUMNS, run_from_row

__all__ = [
    "claim",
    "claim_ready",
    "free_leases_of",
    "lease_owners",
    "next_ready_at",
    "release",
    "renew",
]

_log = logging.getLogger("wfdsl.interpreter.store.postgres")

_FREE: Final = (
    "(q.lease_owner IS NULL OR q.lease_expires_at <= %(now)s OR q.lease_owner = %(owner)s)"
)
_TREE: Final = (
    "q.run_key IN (SELECT key FROM runs WHERE id = %(tree)s "
    "OR (id > %(tree)s || '/' AND id < %(tree)s || '0'))"
)


def _candidates(actions: bool, tree: bool) -> str:
    """The queue rows a claim takes (locked, skipping rows others hold)."""
    if tree:
        needs = (
            "(q.needs_action IS NULL OR q.needs_action = ANY(%(actions)b::text[]))"
            if actions
            else "true"
        )
        return (
            f"SELECT q.run_key, q.ready_at FROM queue q WHERE {_TREE} AND q.ready_at <= %(now)s "
            f"AND {needs} AND {_FREE} ORDER BY q.ready_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
        )
    plain = (
        "SELECT q.run_key, q.ready_at FROM queue q WHERE q.ready_at <= %(now)s "
        f"AND q.needs_action IS NULL AND {_FREE} ORDER BY q.ready_at LIMIT %(limit)s "
        "FOR UPDATE SKIP LOCKED"
    )
    routed = (
        "q.needs_action = ANY(%(actions)b::text[])" if actions else "q.needs_action IS NOT NULL"
    )
    needing = (
        f"SELECT q.run_key, q.ready_at FROM queue q WHERE {routed} AND q.ready_at <= %(now)s "
        f"AND {_FREE} ORDER BY q.ready_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    )
    return (
        f"WITH plain AS ({plain}), needing AS ({needing}) "
        "SELECT run_key FROM (SELECT * FROM plain UNION ALL SELECT * FROM needing) c "
        "ORDER BY ready_at LIMIT %(limit)s"
    )


def claim_ready(
    cur: Any,
    owner: str,
    *,
    now: float,
    expires: float,
    limit: int,
    actions: list[str] | None = None,
    tree: str | None = None,
    searches: list[tuple[str, int, str]] | None = None,
) -> list[tuple[RunRow, Lease]]:
    """Lease up to ``limit`` due runs to ``owner``; ``searches`` gets (run
    id, row_version, search JSON) of each run claimed."""
    params = {
        "owner": owner,
        "now": now,
        "limit": limit,
        "actions": actions,
        "tree": tree,
        "expires": expires,
    }
    candidates = _candidates(actions is not None, tree is not None)
    if candidates.startswith("WITH"):
        head, _, select = candidates.rpartition(") SELECT")
        query = (
            f"{head}), chosen AS (SELECT{select}) UPDATE queue q SET "
            "lease_generation = CASE WHEN q.lease_owner = %(owner)s THEN q.lease_generation "
            "ELSE q.lease_generation + 1 END, lease_owner = %(owner)s, "
            "lease_expires_at = %(expires)s FROM chosen WHERE q.run_key = chosen.run_key "
            "RETURNING q.run_key, q.lease_generation"
        )
    else:
        query = (
            f"WITH chosen AS ({candidates}) UPDATE queue q SET "
            "lease_generation = CASE WHEN q.lease_owner = %(owner)s THEN q.lease_generation "
            "ELSE q.lease_generation + 1 END, lease_owner = %(owner)s, "
            "lease_expires_at = %(expires)s FROM chosen WHERE q.run_key = chosen.run_key "
            "RETURNING q.run_key, q.lease_generation"
        )
    cur.execute(query, params)
    generations = dict(cur.fetchall())
    if not generations:
        return []
    cur.execute(
        f"SELECT r.key, {RUN_COLUMNS} FROM {FROM_RUNS} WHERE r.key = ANY(%b::int8[])",
        (list(generations),),
    )
    claimed: list[tuple[RunRow, Lease]] = []
    for key, *row in cur.fetchall():
        try:
            run = run_from_row(row)
        except DamagedRun as exc:
            cur.execute(
                "UPDATE queue SET ready_at = NULL, lease_owner = NULL, lease_expires_at = NULL "
                "WHERE run_key = %s",
                (key,),
            )
            _log.error("wfdsl: %s", exc)
            continue
        claimed.append((run, Lease(run.id, owner, int(generations[key]), expires)))
        if searches is not None:
            searches.append((run.id, run.row_version, row[13]))
    claimed.sort(key=lambda pair: (pair[0].ready_at or 0.0, pair[0].id))
    return claimed


def claim(
    cur: Any, run_id: str, owner: str, *, now: float, expires: float, where: str
) -> Lease | None:
    cur.execute(
        "UPDATE queue q SET lease_generation = CASE WHEN q.lease_owner = %(owner)s "
        "THEN q.lease_generation ELSE q.lease_generation + 1 END, lease_owner = %(owner)s, "
        "lease_expires_at = %(expires)s FROM runs r WHERE r.key = q.run_key AND r.id = %(id)s "
        f"AND {_FREE} RETURNING q.lease_generation",
        {"owner": owner, "expires": expires, "now": now, "id": run_id},
    )
    row = cur.fetchone()
    if row is not None:
        return Lease(run_id, owner, int(row[0]), expires)
    cur.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,))
    if cur.fetchone() is None:
        raise RunNotFound(f"no run {run_id!r} in {where}")
    return None


#: The leases' runs, joined by id first. Written as ``FROM runs r,
#: unnest(...) l WHERE r.id = l.id AND q.lease_owner = l.owner AND ...``, the
#: planner joined queue to the leases on (owner, generation), which every
#: lease of one claim shares: 512 leases made 262,144 rows, ~0.6 s per renew
#: or release (bench/pg_raw.py). ``OFFSET 0`` keeps this join on its own.
_LEASED_RUNS: Final = (
    "(SELECT r.key, r.id, r.status, l.owner, l.generation "
    "FROM unnest(%(ids)b::text[], %(owners)b::text[], %(generations)b::int8[]) "
    "AS l(id, owner, generation) JOIN runs r ON r.id = l.id OFFSET 0) r"
)


def _lock(cur: Any, leases: Sequence[Lease]) -> None:
    """Lock the leases' queue rows in key order (against deadlocks with a
    group commit that locks them in that order too)."""
    cur.execute(
        "SELECT q.run_key FROM queue q JOIN runs r ON r.key = q.run_key "
        "WHERE r.id = ANY(%b::text[]) ORDER BY q.run_key FOR UPDATE OF q",
        (sorted({lease.run_id for lease in leases}),),
    )


def renew(cur: Any, leases: Sequence[Lease], *, expires: float) -> list[Lease]:
    _lock(cur, leases)
    cur.execute(
        f"UPDATE queue q SET lease_expires_at = %(expires)s FROM {_LEASED_RUNS} "
        "WHERE r.key = q.run_key AND q.lease_owner = r.owner "
        "AND q.lease_generation = r.generation RETURNING r.id",
        {
            "expires": expires,
            "ids": [lease.run_id for lease in leases],
            "owners": [lease.owner for lease in leases],
            "generations": [lease.generation for lease in leases],
        },
    )
    kept = {run_id for (run_id,) in cur.fetchall()}
    return [replace(lease, expires_at=expires) for lease in leases if lease.run_id in kept]


def release(cur: Any, leases: Sequence[Lease], *, ready_at: float | None = None) -> None:
    _lock(cur, leases)
    due = (
        ""
        if ready_at is None
        else (
            ", ready_at = CASE WHEN r.status IN ('running', 'waiting', 'paused') "
            "THEN least(coalesce(q.ready_at, %(ready)s), %(ready)s) END"
        )
    )
    cur.execute(
        f"UPDATE queue q SET lease_owner = NULL, lease_expires_at = NULL{due} "
        f"FROM {_LEASED_RUNS} WHERE r.key = q.run_key AND q.lease_owner = r.owner "
        "AND q.lease_generation = r.generation",
        {
            "ready": ready_at,
            "ids": [lease.run_id for lease in leases],
            "owners": [lease.owner for lease in leases],
            "generations": [lease.generation for lease in leases],
        },
    )


def lease_owners(cur: Any) -> list[tuple[str, int]]:
    cur.execute(
        "SELECT lease_owner, count(*) FROM queue WHERE lease_owner IS NOT NULL GROUP BY lease_owner"
    )
    return [(str(owner), int(count)) for owner, count in cur.fetchall()]


def free_leases_of(cur: Any, owners: Sequence[str], *, now: float) -> dict[str, int]:
    """Drop every lease of ``owners`` (rows locked in key order) and make
    their runs due by ``now`` (a run waiting only on messages stays so);
    how many each held."""
    cur.execute(
        "WITH freed AS (SELECT run_key, lease_owner FROM queue "
        "WHERE lease_owner = ANY(%b::text[]) ORDER BY run_key FOR UPDATE), "
        "done AS (UPDATE queue q SET lease_owner = NULL, lease_expires_at = NULL, "
        "ready_at = CASE WHEN q.ready_at IS NULL THEN NULL ELSE least(q.ready_at, %s) END "
        "FROM freed WHERE q.run_key = freed.run_key RETURNING freed.lease_owner) "
        "SELECT lease_owner, count(*) FROM done GROUP BY lease_owner",
        (list(owners), now),
    )
    return {str(owner): int(count) for owner, count in cur.fetchall()}


def next_ready_at(
    cur: Any,
    owner: str | None,
    *,
    actions: list[str] | None = None,
    tree: str | None = None,
) -> float | None:
    params = {"owner": owner, "actions": actions, "tree": tree}
    if owner is None:
        cur.execute("SELECT min(ready_at) FROM queue WHERE ready_at IS NOT NULL")
        row = cur.fetchone()
        return None if row is None else row[0]
    if tree is not None:
        needs = (
            "(q.needs_action IS NULL OR q.needs_action = ANY(%(actions)b::text[]))"
            if actions is not None
            else "true"
        )
        cur.execute(
            "SELECT min(CASE WHEN q.lease_owner IS NULL OR q.lease_owner = %(owner)s "
            "THEN q.ready_at ELSE greatest(q.ready_at, q.lease_expires_at) END) FROM queue q "
            f"WHERE {_TREE} AND q.ready_at IS NOT NULL AND {needs}",
            params,
        )
        row = cur.fetchone()
        return None if row is None else row[0]
    routed = (
        "q.needs_action = ANY(%(actions)b::text[])"
        if actions is not None
        else "q.needs_action IS NOT NULL"
    )
    cur.execute(
        "SELECT (SELECT q.ready_at FROM queue q WHERE q.ready_at IS NOT NULL "
        "AND q.needs_action IS NULL AND (q.lease_owner IS NULL OR q.lease_owner = %(owner)s) "
        "ORDER BY q.ready_at LIMIT 1), "
        f"(SELECT min(q.ready_at) FROM queue q WHERE {routed} AND q.ready_at IS NOT NULL "
        "AND (q.lease_owner IS NULL OR q.lease_owner = %(owner)s)), "
        "(SELECT min(greatest(q.ready_at, q.lease_expires_at)) FROM queue q "
        "WHERE q.lease_owner IS NOT NULL AND q.lease_owner <> %(owner)s "
        f"AND q.ready_at IS NOT NULL AND (q.needs_action IS NULL OR {routed}))",
        params,
    )
    row = cur.fetchone()
    times = [t for t in (row or ()) if t is not None]
    return min(times) if times else None
