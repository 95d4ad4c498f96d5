"""What a store raises: every backend raises these, never its driver's own errors."""

from __future__ import annotations

__all__ = ["DamagedRun", "RunNotActive", "StoreError", "passing"]


class StoreError(Exception):
    """The store could not do what was asked (disk full, I/O error, locked
    past the busy timeout, a file with a newer schema). Nothing was committed."""


# SQLite results that waiting may cure: the disk full, an I/O error (a file
# size limit, a quota, a failing disk), another connection holding the lock
# past the busy timeout.
_PASSING = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED")


def passing(exc: StoreError) -> bool:
    """Whether waiting may cure ``exc`` (a corrupt file or a closed store won't)."""
    name = getattr(exc.__cause__, "sqlite_errorname", "")
    return isinstance(name, str) and name.startswith(_PASSING)


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
