"""Retention: delete finished runs and their history (docs/operations.md).

``prune`` is what ``wfdsl runs prune`` does: batch after batch of
``Store.prune_runs``, each one short transaction. A store-level setting
(``set_retention``, kept in the store so every worker on it sees the same)
makes ``wfdsl worker`` and ``wfdsl serve`` apply it themselves: one small
batch at a time, at most every ``interval`` seconds while batches come
back full, every ``idle_interval`` seconds once nothing is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from .store.protocol import Store
from .store.records import FINAL_STATUSES, PrunedRun

__all__ = [
    "DEFAULT_STATUSES",
    "PruneReport",
    "Retention",
    "RetentionPolicy",
    "check_statuses",
    "prune",
    "retention_policy",
    "set_retention_policy",
]

_log = logging.getLogger("wfdsl.retention")

#: The key of the store-level setting (beside the schedules' own state).
SETTING_KEY = "__retention__"
DEFAULT_STATUSES: tuple[str, ...] = ("cancelled", "completed", "failed")
#: Runs per transaction: small enough that a worker's commits never wait long.
BATCH = 100


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Delete runs that ended more than ``older_than`` seconds ago with one of ``statuses``."""

    older_than: float
    statuses: tuple[str, ...] = DEFAULT_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {"older_than": self.older_than, "statuses": list(self.statuses)}


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune deleted (or, in a dry run, would delete)."""

    runs: int = 0
    events: int = 0
    ended_before: float = 0.0
    dry_run: bool = False
    #: The first runs concerned, oldest end first (at most ``shown``).
    sample: tuple[PrunedRun, ...] = field(default_factory=tuple)
    batches: int = 0


def check_statuses(statuses: Collection[str]) -> tuple[str, ...]:
    """The statuses, checked: only final ones can be pruned (ValueError)."""
    wrong = sorted(set(statuses) - FINAL_STATUSES)
    if wrong:
        raise ValueError(
            f"cannot prune runs that are {', '.join(wrong)}: only finished runs "
            f"({', '.join(sorted(FINAL_STATUSES))}) are pruned"
        )
    return tuple(sorted(set(statuses)))


def prune(
    store: Store,
    *,
    older_than: float,
    now: float,
    statuses: Collection[str] = DEFAULT_STATUSES,
    workflow: str | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
    shown: int = 20,
    max_batches: int | None = None,
) -> PruneReport:
    """Delete (``dry_run``: count) the finished runs that ended more than
    ``older_than`` seconds before ``now``, batch by batch."""
    wanted = check_statuses(statuses)
    ended_before = now - older_than
    runs = events = batches = 0
    sample: list[PrunedRun] = []
    cursor: tuple[float, int] | None = None
    while max_batches is None or batches < max_batches:
        found, cursor = store.prune_runs(
            ended_before=ended_before,
            statuses=wanted,
            workflow=workflow,
            limit=batch,
            dry_run=dry_run,
            after=cursor if dry_run else None,
        )
        if found:
            batches += 1
        runs += len(found)
        events += sum(r.events for r in found)
        sample.extend(found[: max(0, shown - len(sample))])
        # A short batch after deleting may have freed children (their parent
        # gone): look once more; a dry run changes nothing, so it is done.
        if not found or (dry_run and len(found) < batch):
            break
    return PruneReport(
        runs=runs,
        events=events,
        ended_before=ended_before,
        dry_run=dry_run,
        sample=tuple(sample),
        batches=batches,
    )


def retention_policy(store: Store) -> RetentionPolicy | None:
    """The store-level retention setting, or None when there is none."""
    state = store.schedule_state(SETTING_KEY)
    if not state or state.get("older_than") is None:
        return None
    return RetentionPolicy(
        older_than=float(state["older_than"]),
        statuses=tuple(state.get("statuses") or DEFAULT_STATUSES),
    )


def set_retention_policy(store: Store, policy: RetentionPolicy | None) -> None:
    """Store (or, with None, remove) the store-level retention setting."""
    if policy is None:
        store.set_schedule_state(SETTING_KEY, {})
        return
    check_statuses(policy.statuses)
    store.set_schedule_state(SETTING_KEY, policy.to_json())


class Retention:
    """Applies the store's retention setting from a serving loop, one batch
    per call at most, paced so pruning never competes with driving runs."""

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 1.0,
        idle_interval: float = 60.0,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.interval = interval
        self.idle_interval = idle_interval
        self.batch = batch
        self._next = 0.0
        self.pruned = 0

    def apply_due(self, now: float) -> Sequence[PrunedRun]:
        """Prune one batch if it is time to (``now``: the store's clock)."""
        moment = time.monotonic()
        if moment < self._next:
            return ()
        self._next = moment + self.idle_interval
        policy = retention_policy(self.store)
        if policy is None:
            return ()
        found, _ = self.store.prune_runs(
            ended_before=now - policy.older_than,
            statuses=policy.statuses,
            limit=self.batch,
        )
        if found:
            self.pruned += len(found)
            _log.info("wfdsl: retention deleted %d finished run(s)", len(found))
            if len(found) >= self.batch:
                self._next = moment + self.interval
        return found
