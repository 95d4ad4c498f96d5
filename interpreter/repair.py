"""Redrive and fork: restart a run at a top-level state (docs/operations.md).

``redrive`` puts a failed run back to work where it failed: same run, same
vars as at the failure, its history continuing with ``run_redriven``, the
failed state entered again as a new visit (new idempotency keys). ``fork``
starts a NEW run from any top-level point of an existing run's history,
with vars patched; the original is not touched and nothing before the fork
point runs again. Both rebuild the point from the history
(``machine.rewind``) and commit through the store protocol, so they work on
every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wfdsl.dsl.model import VarPath

from wfdsl.errors import WfdslError

from .definitions import Definitions
from .machine.rewind import (
    Point,
    RewindError,
    failure_point,
    point_at,
    restart_state,
)
from .machine.run_state import RunState
from .machine.scope import Failure, write_path
from .store.protocol import Store
from .store.records import Event, RunRow, RunUpdate

__all__ = ["RestartRefused", "fork_row", "parse_fork_point", "redrive_update"]


class RestartRefused(WfdslError):
    """A redrive or fork that cannot be done; the message says why."""

    error_name = "RestartRefused"


def redrive_update(
    store: Store,
    definitions: Definitions,
    row: RunRow,
    *,
    by: str,
    now: float,
    secrets: Mapping[str, str] | None = None,
) -> RunUpdate:
    """The update that puts failed run ``row`` back at the state that failed."""
    if row.status != "failed":
        raise RestartRefused(
            f"cannot redrive run {row.id!r}: it is {row.status}, and only a failed run "
            "can be redriven (fork it to start again from a point of its history)"
        )
    if row.parent_run:
        raise RestartRefused(
            f"cannot redrive run {row.id!r}: it is a subflow child of run {row.parent_run!r}, "
            "which has already handled its failure; redrive the parent instead"
        )
    workflow = _workflow(definitions, row, "redrive")
    if workflow.timeout is not None and now >= row.started_at + workflow.timeout:
        raise RestartRefused(
            f"cannot redrive run {row.id!r}: its timeout of {workflow.timeout:g}s since it "
            "started is over, so it would fail again at once; fork it instead"
        )
    events = store.history(row.id, execution=row.execution)
    try:
        point = failure_point(workflow, row, events, secrets=secrets)
    except RewindError as exc:
        raise RestartRefused(f"cannot redrive: {exc}") from None
    seq = events[-1].seq if events else int(row.state.get("seq", 0))
    redriven = sum(1 for e in events if e.type == "run_redriven") + 1
    event = Event(
        run_id=row.id,
        seq=seq + 1,
        type="run_redriven",
        time=now,
        state=point.state,
        data={
            "by": by,
            "state": point.state,
            "failed_seq": point.seq,
            "error": None if row.error is None else dict(row.error),
            "redrive": redriven,
        },
    )
    new_row = _restarted(row, point, vars=row.vars, seq=seq + 1, now=now)
    return RunUpdate(
        run=new_row,
        expected_version=row.row_version,
        events=(event,),
        inbox_seen=int(row.state.get("seen", 0)),
        previous_status=row.status,
    )


def parse_fork_point(events: Sequence[Event], at: str | int) -> int:
    """The seq ``at`` names: a seq (an int or digits), or a top-level state
    (its last entry) or a state path (its last entry's top-level state)."""
    if isinstance(at, int) or (isinstance(at, str) and at.isdigit()):
        seq = int(at)
        if not any(e.seq == seq for e in events):
            last = events[-1].seq if events else 0
            raise RestartRefused(f"no event with seq {seq} in the run's history (1..{last})")
        return seq
    entered = [e for e in events if e.type == "state_entered" and e.state == at]
    if not entered:
        states = sorted({str(e.state) for e in events if e.type == "state_entered"})
        raise RestartRefused(
            f"the run never entered a state {at!r}; it entered: {', '.join(states) or 'none'}"
        )
    # Its last visit; a path inside a branch restarts its top-level state.
    return entered[-1].seq


def fork_row(
    definitions: Definitions,
    source: RunRow,
    events: Sequence[Event],
    *,
    at: str | int,
    patch: Mapping[str, Any],
    run_id: str,
    now: float,
    secrets: Mapping[str, str] | None = None,
) -> tuple[RunRow, Event]:
    """A new run starting at the point ``at`` of ``source``'s history, its
    vars patched (``patch``: var path -> value), with its first event."""
    workflow = _workflow(definitions, source, "fork")
    seq = parse_fork_point(events, at)
    try:
        point = point_at(workflow, source, events, seq, secrets=secrets)
    except RewindError as exc:
        raise RestartRefused(f"cannot fork: {exc}") from None
    vars_: Mapping[str, Any] = point.vars
    for text, value in patch.items():
        try:
            vars_ = write_path(vars_, VarPath.parse(text).parts, value)
        except Failure as failure:
            raise RestartRefused(f"cannot fork: --set {text}: {failure.message}") from None
    version = None if workflow.version is None else str(workflow.version)
    started = Event(
        run_id=run_id,
        seq=1,
        type="run_started",
        time=now,
        data={
            "input": source.input,
            "workflow": workflow.name,
            "version": version,
            "forked_from": {
                "run": source.id,
                "execution": source.execution,
                "seq": point.seq,
                "state": point.state,
                "set": dict(patch),
            },
        },
    )
    row = RunRow(
        id=run_id,
        workflow=source.workflow,
        version=source.version,
        definition_hash=source.definition_hash,
        status="running",
        input=source.input,
        vars=vars_,
        started_at=now,
        ready_at=now,
        state={},
    )
    base = RunState().to_json()
    return _restarted(row, point, vars=vars_, seq=1, now=now, previous=base), started


def _restarted(
    row: RunRow,
    point: Point,
    *,
    vars: Mapping[str, Any],
    seq: int,
    now: float,
    previous: Mapping[str, Any] | None = None,
) -> RunRow:
    state = restart_state(row.state if previous is None else previous, point, seq=seq, vars=vars)
    return RunRow(
        id=row.id,
        workflow=row.workflow,
        version=row.version,
        definition_hash=row.definition_hash,
        status="running",
        input=row.input,
        vars=dict(vars),
        output=None,
        error=None,
        started_at=row.started_at,
        ended_at=None,
        ready_at=now,
        state=state,
        search=row.search,
        parent_run=row.parent_run,
        row_version=row.row_version,
        needs_action=None,
        execution=row.execution,
    )


def _workflow(definitions: Definitions, row: RunRow, verb: str) -> Any:
    try:
        return definitions.get(row.definition_hash)
    except WfdslError as exc:
        raise RestartRefused(
            f"cannot {verb} run {row.id!r}: the definition it is pinned to "
            f"({row.workflow}, {row.definition_hash[:12]}) is gone or no longer compiles: {exc}"
        ) from None
