"""Pick a store backend from what the user typed: a file path or a URL.

``open_store("runs.db")`` and ``open_store("sqlite:///runs.db")`` open the
SQLite file; ``open_store("postgresql://user@host/db")`` (or
``postgres://``) the PostgreSQL store. Backends are imported only when
asked for, so a process that uses SQLite never imports psycopg."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from wfdsl.errors import WfdslError

from .protocol import Store

__all__ = ["POSTGRES_SCHEMES", "StoreUrlError", "is_url", "open_store", "redact", "sqlite_file"]

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


class StoreUrlError(WfdslError, ValueError):
    """The ``--db`` value names no backend this installation can open."""


def sqlite_file(target: str) -> str | None:
    """The file a SQLite target (a path or ``sqlite:///path``) names
    (``":memory:"`` for none), or None when it is another backend's URL."""
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
    """The store ``target`` names: a file path or ``sqlite:///path`` (SQLite),
    ``postgresql://...`` (PostgreSQL). ``options`` that a backend does not
    use (SQLite's ``synchronous``, ``brief``) are ignored by it."""
    path = sqlite_file(target)
    if path is not None:
        from .sqlite import SqliteStore

        return SqliteStore(path, **options)
    scheme = urlsplit(target).scheme
    if scheme in POSTGRES_SCHEMES:
        return _open_postgres(target)
    raise StoreUrlError(
        f"--db {target!r}: no store backend for {scheme!r} URLs; use a file path, "
        "sqlite:///path or postgresql://user@host/database"
    )


def is_url(target: str) -> bool:
    """Whether ``target`` is a URL (a backend's) rather than a file path."""
    return "://" in target


def _open_postgres(target: str) -> Store:
    try:
        from .postgres import PostgresStore
    except ImportError as missing:
        raise StoreUrlError(
            f"--db {redact(target)}: the PostgreSQL store needs psycopg, which is not "
            f"installed ({missing}); install wfdsl[postgres]"
        ) from None
    try:
        return PostgresStore(target)
    except ValueError as error:
        raise StoreUrlError(str(error)) from None


def redact(target: str) -> str:
    """``target`` without a password, for messages."""
    parts = urlsplit(target)
    if parts.password is None:
        return target
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()
