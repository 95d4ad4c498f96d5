"""Every example is clean under --strict and compiles to a Workflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfdsl.dsl.api import load, validate_path
from wfdsl.dsl.model import Workflow, iter_states

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_clean_under_strict(path: Path) -> None:
    findings = validate_path(path, strict=True)
    assert findings == [], "\n".join(f.format() for f in findings)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_compiles_to_a_workflow(path: Path) -> None:
    workflow = load(path, strict=True)
    assert isinstance(workflow, Workflow)
    assert workflow.start in workflow.states
    assert workflow.file == str(path) and len(workflow.source_hash) == 64
    # Every state is a record with the JSON path the source map knows.
    for _scope, state in iter_states(workflow.root):
        assert workflow.source_map.node(state.path) is not None, state.path
