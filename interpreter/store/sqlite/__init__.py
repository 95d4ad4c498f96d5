"""The SQLite backend: one file, one writer at a time, WAL mode.

The only package that imports ``sqlite3``."""

from .store import SqliteStore

__all__ = ["SqliteStore"]
