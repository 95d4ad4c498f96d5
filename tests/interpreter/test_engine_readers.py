"""The public readers the designer follows a run with: ``history(after=)``
and ``definition(hash)`` (docs/python-api.md)."""

from __future__ import annotations

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

FLOW = """\
wfdsl: "1"
name: two-steps
version: 3
start: first
states:
  first: {type: set, set: {n: 1}, next: done}
  done: {type: succeed}
"""


def test_history_after_a_sequence_number_gives_only_what_is_new() -> None:
    with Engine(":memory:", clock=VirtualClock()) as engine:
        run = engine.run_until_complete(engine.submit(FLOW, {}).id)
        everything = engine.history(run.id)
        later = engine.history(run.id, after=everything[2].seq)
        assert later == everything[3:] and later
        assert engine.history(run.id, after=everything[-1].seq) == []


def test_definition_is_the_document_a_run_is_pinned_to() -> None:
    with Engine(":memory:", clock=VirtualClock()) as engine:
        run = engine.submit(FLOW, {})
        stored = engine.definition(run.definition_hash)
        assert stored is not None
        assert (stored.source, stored.name, stored.version) == (FLOW, "two-steps", "3")
        assert engine.definition("no-such-hash") is None
