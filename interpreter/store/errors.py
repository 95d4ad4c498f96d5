"""What a store raises: every backend raises these, never its driver's own errors."""

from __future__ import annotations

__all__ = ["DamagedRun", "RunNotActive", "StoreError", "passing"]


class StoreError(Exception):
    """The store could not do what was asked (disk full, I/O error, locked
    past the busy timeout, a file with a newer schema). Nothing was committed.

    ``transient``: whether waiting may cure it (the disk full, an I/O error,
    a lock held past the timeout, the database server restarting or out of
    reach, a serialization failure). The BACKEND that raises the error sets
    it, from its own driver's error codes (SQLite result names, PostgreSQL
    SQLSTATE classes 08, 40, 53, 57P, 55P03); nothing above the store reads a
    driver's codes. A corrupt file, a closed store, a schema newer than this
    wfdsl are not transient: a worker that gets one stops instead of
    retrying forever."""

    def __init__(self, *args: object, transient: bool = False) -> None:
        super().__init__(*args)
        self.transient = transient


def passing(exc: StoreError) -> bool:
    """Whether waiting may cure ``exc``: its backend's own verdict
    (:attr:`StoreError.transient`)."""
    return bool(getattr(exc, "transient", False))


class DamagedRun(StoreError):
    """A run's row cannot be read back (a column that is not the JSON the
    store wrote: the file was edited or damaged). Reading that run fails
    with this, naming it; a worker sets it aside and drives the others
    (research/reliability.md G7: one bad row must not stop recovery)."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} is damaged in the store ({reason}); it is set aside and left "
            "as found, the other runs carry on"
        )


class RunNotActive(StoreError):
    """A message was sent to a run that has finished. Refused rather than
    stored: a finished run never consumes it, and docs/reference.md §8 promises that a
    message is never lost once ``signal`` returned (Temporal refuses signals
    to closed workflows the same way)."""

    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id!r} is {status}: it takes no more messages")
