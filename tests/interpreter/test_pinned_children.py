"""A run uses the subflows it was submitted with (issue 13 §1 "Definitions"):
a subflow's document is resolved and stored when its parent run is
submitted, and the run carries the pins, so every machine starts the same
child however the files on its disk differ, or whether it has them at all."""

from __future__ import annotations

from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

PARENT = """
wfdsl: "1"
name: parent
signals:
  go: {}
start: hold
states:
  hold: {type: wait, signal: go, next: call}
  call: {type: subflow, workflow: child.yaml, result: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""


def child(word: str) -> str:
    return f"""
wfdsl: "1"
name: child
start: nested
states:
  nested: {{type: subflow, workflow: grandchild.yaml, result: inner, next: done}}
  done: {{type: succeed, output: "${{ '{word}-' + vars.inner }}"}}
"""


def grandchild(word: str) -> str:
    return f"""
wfdsl: "1"
name: grandchild
start: done
states:
  done: {{type: succeed, output: {word}}}
"""


def test_a_parent_starts_the_children_it_was_submitted_with_not_todays_files(
    tmp_path: Path,
) -> None:
    here = tmp_path / "submitter"
    here.mkdir()
    (here / "parent.yaml").write_text(PARENT)
    (here / "child.yaml").write_text(child("first"))
    (here / "grandchild.yaml").write_text(grandchild("one"))
    db = str(tmp_path / "runs.db")
    clock = VirtualClock()
    with Engine(db, clock=clock, owner="submitter") as submitter:
        run = submitter.submit(here / "parent.yaml", run_id="p1")
        submitter.run_until_complete(run.id)  # parked on `go`
    # The files change (or are gone) before the parent reaches its subflow;
    # another machine, with no copy of them, drives it.
    (here / "child.yaml").write_text(child("second"))
    (here / "grandchild.yaml").unlink()
    with Engine(db, clock=clock, owner="elsewhere") as other:
        other.signal("p1", "go")
        done = other.run_until_complete("p1")
    assert done.status == "completed", done.error
    assert done.output == "first-one"


def test_a_run_submitted_after_the_files_changed_gets_the_new_children(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(PARENT)
    (tmp_path / "child.yaml").write_text(child("first"))
    (tmp_path / "grandchild.yaml").write_text(grandchild("one"))
    with Engine(str(tmp_path / "runs.db"), clock=VirtualClock()) as engine:
        old = engine.submit(tmp_path / "parent.yaml", run_id="old")
        (tmp_path / "child.yaml").write_text(child("second"))
        new = engine.submit(tmp_path / "parent.yaml", run_id="new")
        for run_id in (old.id, new.id):
            engine.signal(run_id, "go")
        assert engine.run_until_complete("old").output == "first-one"
        assert engine.run_until_complete("new").output == "second-one"
