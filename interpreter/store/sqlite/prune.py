"""Retention on SQLite: delete finished runs, in small batches.

One call is one short transaction over at most ``limit`` runs (their
events, inbox and search rows go with them: ``ON DELETE CASCADE``), so a
worker pruning a large store never holds the write lock long. Runs still
referenced are kept: a subflow child while its parent exists (it goes once
the parent has), a parent while one of its children is active, the last
run a schedule started, and the current execution of an id while earlier
executions of it remain (they go first, so execution numbers stay unique).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from ..records import PrunedRun

__all__ = ["prune_runs"]

_ELIGIBLE = """
SELECT r.key, coalesce(r.id, r.name), r.execution, r.workflow, r.status, r.ended_at,
       (SELECT count(*) FROM events e WHERE e.run_key = r.key)
FROM runs r
WHERE r.ended_at IS NOT NULL AND r.ended_at < ? AND r.status IN ({statuses}){workflow}
  AND (r.ended_at > ? OR (r.ended_at = ? AND r.key > ?))
  AND (r.parent_run IS NULL OR NOT EXISTS (
        SELECT 1 FROM runs p WHERE p.id = r.parent_run OR p.name = r.parent_run))
  AND NOT EXISTS (
        SELECT 1 FROM runs c WHERE c.parent_run = coalesce(r.id, r.name) AND c.ended_at IS NULL)
  AND coalesce(r.id, r.name) NOT IN (
        SELECT json_extract(s.state, '$.last_run') FROM schedules s
        WHERE json_valid(s.state) AND json_extract(s.state, '$.last_run') IS NOT NULL)
  AND (r.id IS NULL OR NOT EXISTS (SELECT 1 FROM runs x WHERE x.name = r.id))
ORDER BY r.ended_at, r.key
LIMIT ?
"""


def prune_runs(
    conn: sqlite3.Connection,
    *,
    ended_before: float,
    statuses: Collection[str],
    workflow: str | None,
    limit: int,
    dry_run: bool,
    after: tuple[float, int] | None,
) -> tuple[list[PrunedRun], tuple[float, int] | None]:
    """Up to ``limit`` eligible runs, oldest end first, after the cursor
    ``after``; deleted unless ``dry_run``. Also the cursor to continue from."""
    if not statuses or limit <= 0:
        return [], None
    marks = ", ".join("?" * len(statuses))
    sql = _ELIGIBLE.format(statuses=marks, workflow=" AND r.workflow = ?" if workflow else "")
    last_end, last_key = after if after is not None else (float("-inf"), 0)
    params: list[object] = [ended_before, *sorted(statuses)]
    if workflow:
        params.append(workflow)
    params.extend([last_end, last_end, last_key, limit])
    rows = conn.execute(sql, params).fetchall()
    found = [
        PrunedRun(
            run_id=run_id,
            execution=execution,
            workflow=name,
            status=status,
            ended_at=ended_at,
            events=events,
        )
        for _key, run_id, execution, name, status, ended_at, events in rows
    ]
    if not dry_run and rows:
        conn.executemany("DELETE FROM runs WHERE key = ?", [(row[0],) for row in rows])
    cursor = (rows[-1][5], rows[-1][0]) if rows else None
    return found, cursor
