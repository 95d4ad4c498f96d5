"""Connections, transactions and errors of the PostgreSQL store.

One :class:`Database` per store object: a small ``psycopg_pool`` pool
(``pool_size`` connections at most, one kept open) of autocommit
connections, on which :meth:`Database.transact` runs each unit of work as
one explicit ``BEGIN`` ... ``COMMIT`` at READ COMMITTED.

Errors are classified here, by SQLSTATE, and nowhere else: connection
failures (class 08, 57P01-03 the server shutting down, a pool that cannot
reach it), resource shortage (53), serialization failures and deadlocks
(40001, 40P01) and lock timeouts (55P03) are transient; the rest are not.
A serialization failure or deadlock retries the whole unit at once (the
machine is pure, so computing a group again is safe). A connection lost
before COMMIT was sent retries on a fresh connection; one lost while
COMMIT was in flight may or may not have committed, so only units that
are safe to apply twice (``idempotent``: reads, group commits fenced by
``row_version``, lease changes) are retried, the others raise.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg_pool

from ..errors import StoreError

__all__ = ["Database", "Options", "Unreachable", "parse_url", "redacted", "transient_state"]

T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]

_log = logging.getLogger("wfdsl.interpreter.store.postgres")

#: SQLSTATEs (or their classes) waiting may cure.
_TRANSIENT_CLASSES: Final = ("08", "53")
_TRANSIENT_STATES: Final = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
_RETRY_AT_ONCE: Final = frozenset({"40001", "40P01"})
_CONFLICT_RETRIES: Final = 30
_CONNECTION_RETRIES: Final = 2

# The store's own URL parameters; libpq would refuse them.
_OWN_PARAMETERS: Final = frozenset({"poll_only", "pool_size", "poll_seconds"})


def transient_state(sqlstate: str | None) -> bool:
    """Whether an error of this SQLSTATE may pass with time."""
    if sqlstate is None:
        return False
    return sqlstate.startswith(_TRANSIENT_CLASSES) or sqlstate in _TRANSIENT_STATES


@dataclass(frozen=True, slots=True)
class Options:
    """What the URL asks of the store beyond libpq's own parameters.

    ``poll_only``: no LISTEN (PgBouncer in transaction mode cannot hold a
    listening session) and no server-side prepared statements; other
    processes' messages are noticed by polling every ``poll_seconds``.
    ``pool_size``: connections this process opens at most."""

    conninfo: str
    shown: str
    poll_only: bool = False
    pool_size: int = 4
    poll_seconds: float = 1.0


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _flag(name: str, value: str, shown: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"--db {shown}: {name}={value!r} is not a yes/no value (use 1 or 0)")


def parse_url(url: str) -> Options:
    """Split a ``postgresql://`` URL into libpq's part and the store's options."""
    shown = redacted(url)
    parts = urlsplit(url)
    if parts.scheme == "postgres":
        parts = parts._replace(scheme="postgresql")
    kept: list[tuple[str, str]] = []
    poll_only, pool_size, poll_seconds = False, 4, 1.0
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _OWN_PARAMETERS:
            kept.append((name, value))
        elif name == "poll_only":
            poll_only = _flag(name, value, shown)
        elif name == "pool_size":
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"--db {shown}: pool_size={value!r} must be a whole number >= 1")
            pool_size = int(value)
        else:
            try:
                poll_seconds = float(value)
            except ValueError:
                poll_seconds = -1.0
            if not 0.01 <= poll_seconds <= 3600:
                raise ValueError(
                    f"--db {shown}: poll_seconds={value!r} must be seconds between 0.01 and 3600"
                )
    if not any(name == "connect_timeout" for name, _ in kept):
        kept.append(("connect_timeout", "10"))
    conninfo = urlunsplit(parts._replace(query=urlencode(kept)))
    return Options(
        conninfo=conninfo,
        shown=shown,
        poll_only=poll_only,
        pool_size=pool_size,
        poll_seconds=poll_seconds,
    )


class Unreachable(StoreError):
    """The database cannot be reached (refused, no such host, wrong
    password, no such database) when the store is opened."""


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Database:
    """The pool and the transaction runner of one store object."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.shown = options.shown
        # PgBouncer in transaction mode hands each transaction to any
        # server connection: a statement prepared on one is unknown on the
        # next, so poll-only (the PgBouncer mode) prepares nothing.
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": None if options.poll_only else 5,
        }
        self.pool: psycopg_pool.ConnectionPool[Conn] | None = None

    def connect(self) -> Conn:
        """A connection of its own (not pooled): for start-up and LISTEN."""
        try:
            conn: Conn = psycopg.Connection.connect(self.options.conninfo, **self._kwargs)
        except psycopg.Error as error:
            raise Unreachable(
                f"cannot connect to the PostgreSQL store {self.shown}: {first_line(error)}"
            ) from error
        return conn

    def open_pool(self) -> None:
        self.pool = psycopg_pool.ConnectionPool(
            self.options.conninfo,
            min_size=1,
            max_size=self.options.pool_size,
            kwargs=self._kwargs,
            # A connection the server dropped (a restart) is found out when
            # it is handed out, not by the statement that then fails.
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=10.0,
            reconnect_timeout=0,  # keep trying while the server is away
            name="wfdsl",
            open=True,
        )

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close(timeout=5.0)

    def error(
        self, error: BaseException, doing: str, *, maybe_committed: bool = False
    ) -> StoreError:
        """``error`` as a StoreError that says whether waiting may cure it."""
        sqlstate = getattr(error, "sqlstate", None)
        lost = isinstance(error, (psycopg.OperationalError, psycopg_pool.PoolTimeout)) and (
            sqlstate is None or sqlstate.startswith("08")
        )
        transient = lost or transient_state(sqlstate)
        if lost:
            what = f"lost the connection to the PostgreSQL store {self.shown}"
        elif sqlstate == "23503":
            what = (
                f"{self.shown}: {doing} refers to a row that does not exist "
                "(a run's definition must be stored first)"
            )
        else:
            what = f"{self.shown}: PostgreSQL error"
        code = f" [{sqlstate}]" if sqlstate else ""
        if maybe_committed:
            outcome = "it may or may not have been committed"
        else:
            outcome = "nothing was committed"
        message = f"{what} while {doing}: {first_line(error)}{code}; {outcome}"
        return StoreError(message, transient=transient)

    def transact(
        self,
        doing: str,
        work: Callable[[Conn], T],
        *,
        idempotent: bool = True,
        read_only: bool = False,
    ) -> T:
        """``work`` in one transaction, retried as the module says."""
        pool = self.pool
        if pool is None:
            raise StoreError(f"the store {self.shown} is closed")
        conflicts = 0
        lost = 0
        while True:
            committing = False
            try:
                with pool.connection() as conn:
                    # A read is one snapshot (REPEATABLE READ: a read-only
                    # one never fails to serialize); writes lock what they
                    # change, at READ COMMITTED.
                    conn.execute(
                        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if read_only else "BEGIN"
                    )
                    try:
                        result = work(conn)
                    except BaseException:
                        if not conn.broken:
                            conn.execute("ROLLBACK")
                        raise
                    committing = True
                    conn.execute("COMMIT")
                    return result
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
                sqlstate = getattr(error, "sqlstate", None)
                if sqlstate in _RETRY_AT_ONCE and conflicts < _CONFLICT_RETRIES:
                    conflicts += 1
                    # A short, jittered pause lets the other side finish.
                    time.sleep(random.uniform(0, 0.002 * conflicts))
                    continue
                failed = self.error(error, doing, maybe_committed=committing)
                connection_lost = isinstance(error, psycopg.OperationalError) and not isinstance(
                    error, psycopg.errors.QueryCanceled
                )
                if (
                    failed.transient
                    and connection_lost
                    and (idempotent or not committing)
                    and lost < _CONNECTION_RETRIES
                ):
                    lost += 1
                    _log.warning("wfdsl: %s; trying again", failed)
                    continue
                raise failed from error
