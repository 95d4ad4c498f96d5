"""Retention, heartbeats and the task result cache on PostgreSQL (the
SQLite store's prune.py and cache.py, in this backend's SQL). Each function
works inside the transaction :class:`~.store.PostgresStore` opened."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..records import CachedResult, PrunedRun
from .rows import json_or_null, loads

__all__ = ["cached_result", "prune_runs", "store_result"]

_ELIGIBLE = """
SELECT r.key, coalesce(r.id, r.name), r.execution, r.workflow, r.status, r.ended_at,
       (SELECT count(*) FROM events e WHERE e.run_key = r.key)
FROM runs r
WHERE r.ended_at IS NOT NULL AND r.ended_at < %s AND r.status = ANY(%s){workflow}
  AND (r.ended_at > %s OR (r.ended_at = %s AND r.key > %s))
  AND (r.parent_run IS NULL OR NOT EXISTS (
        SELECT 1 FROM runs p WHERE p.id = r.parent_run OR p.name = r.parent_run))
  AND NOT EXISTS (
        SELECT 1 FROM runs c WHERE c.parent_run = coalesce(r.id, r.name) AND c.ended_at IS NULL)
  AND coalesce(r.id, r.name) NOT IN (
        SELECT s.state::jsonb ->> 'last_run' FROM schedules s
        WHERE s.state::jsonb ->> 'last_run' IS NOT NULL)
  AND (r.id IS NULL OR NOT EXISTS (SELECT 1 FROM runs x WHERE x.name = r.id))
ORDER BY r.ended_at, r.key
LIMIT %s
"""


def prune_runs(
    cur: Any,
    *,
    ended_before: float,
    statuses: Collection[str],
    workflow: str | None,
    limit: int,
    dry_run: bool,
    after: tuple[float, int] | None,
) -> tuple[list[PrunedRun], tuple[float, int] | None]:
    if not statuses or limit <= 0:
        return [], None
    sql = _ELIGIBLE.format(workflow=" AND r.workflow = %s" if workflow else "")
    last_end, last_key = after if after is not None else (float("-inf"), 0)
    params: list[object] = [ended_before, sorted(statuses)]
    if workflow:
        params.append(workflow)
    params.extend([last_end, last_end, last_key, limit])
    cur.execute(sql, params)
    rows = cur.fetchall()
    found = [
        PrunedRun(
            run_id=run_id,
            execution=execution,
            workflow=name,
            status=status,
            ended_at=ended_at,
            events=int(events),
        )
        for _key, run_id, execution, name, status, ended_at, events in rows
    ]
    if not dry_run and rows:
        cur.execute("DELETE FROM runs WHERE key = ANY(%s)", ([row[0] for row in rows],))
    cursor = (rows[-1][5], rows[-1][0]) if rows else None
    return found, cursor


def cached_result(cur: Any, key: str, now: float) -> CachedResult | None:
    cur.execute(
        "SELECT value, run_id, created_at, expires_at FROM task_cache WHERE key = %s", (key,)
    )
    row = cur.fetchone()
    if row is None or (row[3] is not None and row[3] <= now):
        return None
    value = None if row[0] is None else loads(row[0])
    return CachedResult(key=key, value=value, run_id=row[1], created_at=row[2], expires_at=row[3])


def store_result(
    cur: Any, key: str, value: Any, run_id: str, now: float, expires_at: float | None
) -> None:
    cur.execute(
        "INSERT INTO task_cache (key, value, run_id, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "run_id = excluded.run_id, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at",
        (key, json_or_null(value), run_id, now, expires_at),
    )
