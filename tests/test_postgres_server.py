"""The PostgreSQL fixtures the store tests stand on: a real server, one fresh
database per test, reachable with psycopg (the PostgreSQL backend's driver)."""

from __future__ import annotations

import psycopg
import pytest
from postgres_server import PostgresServer


def test_each_test_gets_an_empty_database_of_its_own(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (id text PRIMARY KEY)")
        conn.execute("INSERT INTO runs VALUES ('r1')")
    with psycopg.connect(second, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_the_server_is_postgresql_15_or_newer_with_skip_locked(postgres_url: str) -> None:
    # The claim the PostgreSQL store will use: a second session skips the row
    # the first holds instead of waiting for it.
    with psycopg.connect(postgres_url) as one, psycopg.connect(postgres_url) as two:
        assert one.info.server_version >= 150000
        one.execute("CREATE TABLE queue (id int PRIMARY KEY)")
        one.execute("INSERT INTO queue VALUES (1), (2)")
        one.commit()
        held = one.execute("SELECT id FROM queue ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
        assert held.fetchall() == [(1,)]
        other = two.execute("SELECT id FROM queue ORDER BY id FOR UPDATE SKIP LOCKED")
        assert other.fetchall() == [(2,)]


def test_a_missing_database_is_a_clear_connection_error(postgres_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(postgres_server.url("no_such_database")).close()
