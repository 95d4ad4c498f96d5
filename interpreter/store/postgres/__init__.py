"""The PostgreSQL backend: many processes on many machines, one database.

The only package that imports ``psycopg`` (and ``psycopg_pool``)."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
