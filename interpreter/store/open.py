"""Pick a store backend from what the user typed: a file path or a URL.

``open_store("runs.db")`` and ``open_store("sqlite:///runs.db")`` open the
SQLite file; other schemes belong to backends that register here as they
are added. Backends are imported only when asked for, so a process that
uses SQLite never imports another database's driver."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from wfdsl.errors import WfdslError

from .protocol import Store

__all__ = ["StoreUrlError", "open_store"]


class StoreUrlError(WfdslError, ValueError):
    """The ``--db`` value names no backend this installation can open."""


def _sqlite_path(target: str) -> str | None:
    """The file a SQLite target names, or None when it is another scheme."""
    if "://" not in target:
        return target
    parts = urlsplit(target)
    if parts.scheme != "sqlite":
        return None
    # sqlite:///relative.db -> "relative.db"; sqlite:////abs/file.db -> "/abs/file.db"
    path = unquote(parts.path)
    path = path[1:] if path.startswith("/") else path
    return path or ":memory:"


def open_store(target: str, **options: Any) -> Store:
    """The store ``target`` names: a file path or ``sqlite:///path`` (SQLite)."""
    path = _sqlite_path(target)
    if path is not None:
        from .sqlite import SqliteStore

        return SqliteStore(path, **options)
    scheme = urlsplit(target).scheme
    raise StoreUrlError(
        f"--db {target!r}: no store backend for {scheme!r} URLs; use a file path or sqlite:///path"
    )
