"""Adding states where the user puts them: after a state (the palette), on
an edge (a drop onto an arrow), before the start. The new state is wired
in so nothing is left floating, and its lines sit among the others the way
the rest of the document is written: set apart by a blank line, the next
state's comment still right above the state it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from wfdsl.designer.edits import apply_edit
from wfdsl.designer.view import document_view
from wfdsl.dsl.api import validate_text
from wfdsl.dsl.loader import parse_document

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
IDS = [p.stem for p in EXAMPLES]


def error_codes(text: str) -> list[str]:
    return sorted(f.code for f in validate_text(text) if f.severity == "error")


def key_line(lines: list[str], name: str, indent: int = 2) -> int:
    return next(i for i, line in enumerate(lines) if line == " " * indent + name + ":")


def introduction(lines: list[str], at: int) -> list[str]:
    """The comment lines right above line ``at``."""
    out = []
    while at > 0 and lines[at - 1].strip().startswith("#"):
        at -= 1
        out.insert(0, lines[at])
    return out


def block_end(lines: list[str], at: int, indent: int = 2) -> int:
    end = at + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    return end


def anchors(text: str) -> list[str | None]:
    states = parse_document(text).data["states"]
    return [None, *(n for n, s in states.items() if s["type"] not in ("succeed", "fail"))]


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_state_added_from_the_palette_is_set_apart_like_the_others(path: Path) -> None:
    text = path.read_text()
    before = text.splitlines()
    for after in anchors(text):
        op: dict[str, Any] = {"op": "add_state", "type": "task", "name": "added"}
        if after:
            op["after"] = after
        out = apply_edit(text, op).splitlines()
        at = key_line(out, "added")
        assert out[at - 1] == "", (after, out[at - 2 : at + 1])
        end = block_end(out, at)
        assert end == len(out) or out[end] == "", (after, out[end : end + 2])
        # Every other state keeps the comment lines that introduce it.
        for name in parse_document(text).data["states"]:
            old, new = key_line(before, name), key_line(out, name)
            assert introduction(out, new) == introduction(before, old), (after, name)
        assert sorted(line.split("#", 1)[1] for line in out if "#" in line) == sorted(
            line.split("#", 1)[1] for line in before if "#" in line
        )


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_choice_added_after_a_state_takes_its_old_successor_as_default(path: Path) -> None:
    text = path.read_text()
    states = parse_document(text).data["states"]
    for after, state in states.items():
        if state["type"] in ("succeed", "fail", "choice") or "next" not in state:
            continue
        out = apply_edit(
            text, {"op": "add_state", "type": "choice", "name": "pick", "after": after}
        )
        new = parse_document(out).data["states"]
        assert new[after]["next"] == "pick"
        assert new["pick"]["default"] == state["next"]
        # The only new error: "choices must be a list of at least 1 item", for the form to fill.
        assert set(error_codes(out)) - set(error_codes(text)) <= {"WF105"}, error_codes(out)


def test_a_task_added_after_a_choice_goes_on_its_default() -> None:
    text = (EXAMPLES[0].parent / "signup.yaml").read_text()
    out = apply_edit(
        text, {"op": "add_state", "type": "task", "name": "nudge", "after": "too_many"}
    )
    states = parse_document(out).data["states"]
    assert states["too_many"]["default"] == "nudge"
    assert states["nudge"]["next"] == "wait_for_click"
    assert "# loop back" in out.split("nudge:")[0].splitlines()[-3]
    assert error_codes(out) == error_codes(text)


def insert_on(edge: dict[str, Any], types: dict[str, str]) -> dict[str, Any] | None:
    """The op a drop onto ``edge`` sends (editor.js insertOnEdge); a succeed
    or fail state's way out is not a place for another state."""
    if edge["edit"]:
        return {"after": edge["edit"]["state"], "edge": edge["edit"]["edge"]}
    if edge["kind"] == "end" and types.get(edge["source"]) not in ("succeed", "fail"):
        return {"after": edge["source"], "edge": "end"}
    if edge["kind"] == "start":
        scope = edge["target"].rpartition("/")[0]
        return {"edge": "start", **({"scope": scope} if scope else {})}
    return None


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_state_dropped_on_any_edge_sits_on_that_edge(path: Path) -> None:
    text = path.read_text()
    graph = document_view(text, path.name)["graph"]
    before = error_codes(text)
    tried = 0
    for edge in graph["edges"]:
        where = insert_on(edge, {n["id"]: n["type"] for n in graph["nodes"]})
        if where is None:
            continue
        out = apply_edit(text, {"op": "add_state", "type": "task", "name": "dropped", **where})
        new_graph = document_view(out, path.name)["graph"]
        prefix = where.get("scope") or where.get("after", "").rpartition("/")[0]
        dropped = f"{prefix}/dropped" if prefix else "dropped"
        pairs = {(e["source"], e["target"]) for e in new_graph["edges"]}
        assert (edge["source"], dropped) in pairs, (edge, sorted(pairs))
        assert (dropped, edge["target"]) in pairs, (edge, sorted(pairs))
        assert (edge["source"], edge["target"]) not in pairs or edge["kind"] in ("catch", "choice")
        assert error_codes(out) == before, (edge, error_codes(out))
        tried += 1
    assert tried >= 4


def test_a_choice_dropped_on_an_edge_defaults_to_its_target() -> None:
    text = (EXAMPLES[0].parent / "signup.yaml").read_text()
    out = apply_edit(
        text,
        {"op": "add_state", "type": "choice", "name": "check", "after": "remind", "edge": "next"},
    )
    states = parse_document(out).data["states"]
    assert states["remind"]["next"] == "check"
    assert states["check"] == {"type": "choice", "choices": [], "default": "too_many"}
