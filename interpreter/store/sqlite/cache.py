"""The task cache in the SQLite store: one row per key, the newest
successful result of any run (``Store.cached_result`` / ``cache_result``)."""

from __future__ import annotations

import sqlite3

from ..records import CachedResult
from .rows import loads

__all__ = ["keep", "lookup"]


def lookup(conn: sqlite3.Connection, key: str, now: float) -> CachedResult | None:
    row = conn.execute(
        "SELECT value, run_id, created_at, expires_at FROM task_cache "
        "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
        (key, now),
    ).fetchone()
    if row is None:
        return None
    value, run_id, created_at, expires_at = row
    return CachedResult(
        key=key, value=loads(value), run_id=run_id, created_at=created_at, expires_at=expires_at
    )


def keep(
    conn: sqlite3.Connection,
    key: str,
    encoded: str,
    run_id: str,
    now: float,
    expires_at: float | None,
) -> None:
    conn.execute(
        "INSERT INTO task_cache (key, value, run_id, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "run_id = excluded.run_id, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at",
        (key, encoded, run_id, now, expires_at),
    )
