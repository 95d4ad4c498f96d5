"""Edit operations on the round-trip document: each does what it says, and
everything it does not touch survives byte for byte, comments included."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from wfdsl.designer.edits import EditError, apply_edit
from wfdsl.dsl.api import validate_text
from wfdsl.dsl.loader import parse_document

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
IDS = [p.stem for p in EXAMPLES]


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()
    ]


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


def errors(text: str) -> list[str]:
    return [f.format() for f in validate_text(text) if f.severity == "error"]


def top_states(text: str) -> list[str]:
    return list(parse_document(text).data["states"])


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_rename_moves_every_reference_and_keeps_every_comment(path: Path) -> None:
    text = path.read_text()
    for name in top_states(text):
        out = apply_edit(text, {"op": "rename_state", "state": name, "to": "renamed_state"})
        assert errors(out) == [], (name, errors(out))
        assert sorted(comments(out)) == sorted(comments(text))
        assert name not in top_states(out) and "renamed_state" in top_states(out)
        # Only the key and the lines that referred to it changed.
        pattern = re.compile(
            rf"^\s*(-\s+)?((next|default|start):\s*)?{re.escape(name)}:?\s*(#.*)?$"
        )
        refs = sum(1 for line in text.splitlines() if pattern.match(line))
        assert len(changed_lines(text, out)) == 2 * refs, (name, changed_lines(text, out))


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_no_op_round_trip_is_byte_identical(path: Path) -> None:
    text = path.read_text()
    out = apply_edit(
        text,
        {
            "op": "set_field",
            "state": top_states(text)[0],
            "path": ["type"],
            "value": parse_document(text).data["states"][top_states(text)[0]]["type"],
        },
    )
    assert out == text


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_add_after_wires_the_new_state_in_and_keeps_the_rest(path: Path) -> None:
    text = path.read_text()
    states = parse_document(text).data["states"]
    first = next(n for n, s in states.items() if s["type"] not in ("choice", "succeed", "fail"))
    out = apply_edit(text, {"op": "add_state", "type": "task", "name": "added", "after": first})
    data = parse_document(out).data["states"]
    assert data[first]["next"] == "added"
    assert list(data).index("added") == list(data).index(first) + 1
    assert sorted(comments(out)) == sorted(comments(text))
    assert not [
        line
        for line in changed_lines(text, out)
        if line.startswith("-") and "next:" not in line and "end:" not in line
    ]
    assert errors(out) == [] or all("WF" in e for e in errors(out))


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_delete_removes_the_state_and_the_validator_flags_the_dangling_places(
    path: Path,
) -> None:
    text = path.read_text()
    victim = top_states(text)[1]
    out = apply_edit(text, {"op": "delete_state", "state": victim})
    assert victim not in top_states(out)
    assert f": {victim}" not in out.replace(f"{victim}_", "")
    # Nothing is added; what goes is the state's block and the references.
    assert not [
        line for line in changed_lines(text, out) if line.startswith("+") and "start:" not in line
    ]
    codes = {f.code for f in validate_text(out) if f.severity == "error"}
    assert codes, "a dangling place must be reported"


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_connect_next_changes_one_line(path: Path) -> None:
    text = path.read_text()
    states = parse_document(text).data["states"]
    source = next(n for n, s in states.items() if "next" in s)
    target = next(n for n in states if n not in (source, states[source]["next"]))
    out = apply_edit(text, {"op": "connect", "state": source, "edge": "next", "to": target})
    diff = changed_lines(text, out)
    assert len(diff) == 2 and diff[1][1:].strip().startswith(f"next: {target}")
    assert parse_document(out).data["states"][source]["next"] == target


def test_connect_choice_catch_wait_and_end() -> None:
    saga = (EXAMPLES[0].parent / "order_saga.yaml").read_text()
    out = apply_edit(
        saga, {"op": "connect", "state": "charge_payment", "edge": "catch:0", "to": "completed"}
    )
    assert parse_document(out).data["states"]["charge_payment"]["catch"][0]["next"] == "completed"
    signup = (EXAMPLES[0].parent / "signup.yaml").read_text()
    out = apply_edit(
        signup, {"op": "connect", "state": "wait_for_click", "edge": "wait:any.1", "to": "welcome"}
    )
    assert parse_document(out).data["states"]["wait_for_click"]["any"][1]["next"] == "welcome"
    assert len(changed_lines(signup, out)) == 2
    out = apply_edit(saga, {"op": "connect", "state": "save_order", "edge": "next", "to": "(end)"})
    state = parse_document(out).data["states"]["save_order"]
    assert state.get("end") is True and "next" not in state


def test_set_field_and_pins_and_unpin() -> None:
    saga = (EXAMPLES[0].parent / "order_saga.yaml").read_text()
    out = apply_edit(
        saga,
        {
            "op": "set_field",
            "state": "reserve_inventory",
            "path": ["retry", "max_attempts"],
            "value": 9,
        },
    )
    assert parse_document(out).data["states"]["reserve_inventory"]["retry"]["max_attempts"] == 9
    assert sorted(comments(out)) == sorted(comments(saga))
    pinned = apply_edit(saga, {"op": "move", "state": "save_order", "x": 10, "y": 20.5})
    assert parse_document(pinned).data["x-designer"]["positions"]["save_order"] == [10.0, 20.5]
    assert errors(pinned) == []
    assert apply_edit(pinned, {"op": "unpin"}) == saga


def test_edits_inside_a_parallel_branch_and_a_map_body() -> None:
    api = (EXAMPLES[0].parent / "api_orchestration.yaml").read_text()
    data = parse_document(api).data["states"]
    fork = next(n for n, s in data.items() if s["type"] == "parallel")
    branch, body = next(iter(data[fork]["branches"].items()))
    inner = next(iter(body["states"]))
    out = apply_edit(
        api, {"op": "rename_state", "state": f"{fork}/{branch}/{inner}", "to": "inner_renamed"}
    )
    new = parse_document(out).data["states"][fork]["branches"][branch]
    assert "inner_renamed" in new["states"] and errors(out) == []
    if new["start"] != "inner_renamed":
        assert body["start"] != inner


@pytest.mark.parametrize(
    "op",
    [
        {"op": "rename_state", "state": "nope", "to": "x"},
        {"op": "rename_state", "state": "save_order", "to": "reserve_inventory"},
        {"op": "rename_state", "state": "save_order", "to": "has space"},
        {"op": "add_state", "type": "teleport"},
        {"op": "connect", "state": "save_order", "edge": "choice:3", "to": "completed"},
        {"op": "connect", "state": "save_order", "edge": "next", "to": "nowhere"},
        {"op": "explode"},
        {"op": "move", "state": "save_order", "x": "1", "y": 2},
    ],
)
def test_impossible_edits_are_refused_with_a_reason(op: dict) -> None:  # type: ignore[type-arg]
    saga = (EXAMPLES[0].parent / "order_saga.yaml").read_text()
    with pytest.raises(EditError):
        apply_edit(saga, op)


def test_a_document_that_does_not_load_cannot_be_edited() -> None:
    with pytest.raises(EditError, match="does not load"):
        apply_edit("a: [\n", {"op": "add_state", "type": "task"})


def test_build_three_states_from_an_empty_document() -> None:
    text = 'wfdsl: "1"\nname: built\n# my comment\nstates: {}\n'
    text = apply_edit(text, {"op": "add_state", "type": "task", "name": "one"})
    text = apply_edit(text, {"op": "add_state", "type": "wait", "name": "two", "after": "one"})
    text = apply_edit(text, {"op": "add_state", "type": "succeed", "name": "three", "after": "two"})
    assert "# my comment" in text
    data = parse_document(text).data
    assert data["start"] == "one"
    assert data["states"]["one"]["next"] == "two" and data["states"]["two"]["next"] == "three"
    assert errors(text) == []
