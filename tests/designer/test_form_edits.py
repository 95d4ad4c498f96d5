"""What the property panel's forms send: a field added under a state goes
above its way out, the workflow's own fields are edited like a state's,
and the forms read the document's plain data from the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from wfdsl.designer.edits import EditError, apply_edit
from wfdsl.dsl.api import validate_text
from wfdsl.dsl.loader import parse_document

SIGNUP = (Path(__file__).resolve().parents[2] / "examples" / "signup.yaml").read_text()


def test_a_new_field_goes_above_the_states_next() -> None:
    out = apply_edit(
        SIGNUP,
        {"op": "set_field", "state": "remind", "path": ["retry"], "value": {"max_attempts": 3}},
    )
    lines = out.splitlines()
    at = lines.index("    retry:")
    assert lines[at + 1 : at + 3] == ["      max_attempts: 3", "    next: too_many"]
    assert lines[at + 3] == ""  # the blank line before the next state stays where it was


def test_choice_rules_catch_entries_and_maps_are_edited_item_by_item() -> None:
    text = apply_edit(
        SIGNUP,
        {
            "op": "set_field",
            "state": "too_many",
            "path": ["choices", 1],
            "value": {"when": "${ false }", "next": "welcome"},
        },
    )
    text = apply_edit(
        text,
        {
            "op": "set_field",
            "state": "too_many",
            "path": ["choices", 0, "when"],
            "value": "${ vars.reminders >= 5 }",
        },
    )
    text = apply_edit(
        text, {"op": "set_field", "state": "remind", "path": ["args", "template"], "value": "nudge"}
    )
    text = apply_edit(
        text,
        {
            "op": "set_field",
            "state": "remind",
            "path": ["catch"],
            "value": [{"errors": "*", "next": "give_up"}],
        },
    )
    text = apply_edit(
        text, {"op": "set_field", "state": "too_many", "path": ["choices", 1], "value": None}
    )
    states = parse_document(text).data["states"]
    assert states["too_many"]["choices"] == [
        {"when": "${ vars.reminders >= 5 }", "next": "give_up"}
    ]
    assert states["remind"]["args"] == {"to": "${ input.email }", "template": "nudge"}
    assert states["remind"]["catch"] == [{"errors": "*", "next": "give_up"}]
    assert "# loop back: the wait, not a choice, breaks the cycle" in text
    assert [f for f in validate_text(text) if f.severity == "error"] == []


def test_the_workflows_schedule_and_handlers_are_document_fields() -> None:
    text = apply_edit(
        SIGNUP, {"op": "set_document_field", "path": ["schedule"], "value": {"cron": "0 2 * * *"}}
    )
    text = apply_edit(
        text,
        {"op": "set_document_field", "path": ["handlers", "verify", "when"], "value": "${ true }"},
    )
    text = apply_edit(
        text,
        {"op": "set_document_field", "path": ["handlers", "ping"], "value": {"return": "pong"}},
    )
    data = parse_document(text).data
    assert data["schedule"] == {"cron": "0 2 * * *"}
    assert data["handlers"]["verify"]["when"] == "${ true }"
    assert data["handlers"]["ping"] == {"return": "pong"}
    assert [f for f in validate_text(text) if f.severity == "error"] == []


@pytest.mark.parametrize("path", [["states"], ["start"], ["wfdsl"]])
def test_states_and_start_are_not_document_fields(path: list[str]) -> None:
    with pytest.raises(EditError, match="not as a document field"):
        apply_edit(SIGNUP, {"op": "set_document_field", "path": path, "value": "x"})


def test_the_api_gives_the_forms_the_documents_data(client: Any) -> None:
    answer = client.post("/api/data", json={"text": SIGNUP})
    assert answer.status_code == 200
    assert answer.json()["data"]["states"]["too_many"]["default"] == "wait_for_click"
    assert client.post("/api/data", json={"text": "a: [\n"}).json() == {"data": None}
    assert client.post("/api/data", json={"txt": ""}).status_code == 400


def test_a_flows_saved_input_sits_beside_it_as_stem_input_json(
    client: Any, workspace: Path
) -> None:
    # The examples ship order_saga.input.json beside order_saga.yaml.
    (workspace / "order_saga.input.json").write_text('{"order_id": "o-1"}', encoding="utf-8")
    got = client.get("/api/files/order_saga.yaml/input").json()
    assert got == {"file": "order_saga.input.json", "input": {"order_id": "o-1"}, "error": None}
    assert client.get("/api/files/signup.yaml/input").json()["input"] is None
    saved = client.put("/api/files/signup.yaml/input", json={"input": {"email": "a@b.c"}})
    assert saved.json() == {"file": "signup.input.json", "saved": True}
    assert json.loads((workspace / "signup.input.json").read_text()) == {"email": "a@b.c"}
    assert client.put("/api/files/signup.yaml/input", json={}).status_code == 400
    (workspace / "signup.input.json").write_text("{oops", encoding="utf-8")
    broken = client.get("/api/files/signup.yaml/input").json()
    assert broken["input"] is None and "signup.input.json is not JSON" in broken["error"]
    assert broken["text"] == "{oops"
    assert client.get("/api/files/..%2Fx.yaml/input").status_code == 400


def test_an_input_file_that_links_out_of_the_workspace_is_refused(
    client: Any, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text('{"secret": 1}', encoding="utf-8")
    (workspace / "signup.input.json").symlink_to(outside)
    assert client.get("/api/files/signup.yaml/input").status_code == 400
    assert client.put("/api/files/signup.yaml/input", json={"input": {}}).status_code == 400
    assert outside.read_text() == '{"secret": 1}'


def test_a_preview_gives_the_findings_an_edit_would_bring_and_nothing_else(client: Any) -> None:
    # What a form sends while a field is typed: checked, not drawn, not applied.
    op = {"op": "set_field", "state": "remind", "path": ["timeout"], "value": "10 minutes"}
    answer = client.post("/api/files/signup.yaml/edit?preview=1", json={"text": SIGNUP, "op": op})
    assert answer.status_code == 200
    preview = answer.json()
    assert set(preview) == {"preview", "ok", "findings"}
    assert preview["ok"] is False
    [finding] = [f for f in preview["findings"] if f["path"] == "$.states.remind.timeout"]
    assert finding["message"].startswith("state 'remind': invalid duration '10 minutes'")
    # The same op as an edit gives the drawn view and the text.
    edited = client.post("/api/files/signup.yaml/edit", json={"text": SIGNUP, "op": op}).json()
    assert {"text", "svg", "graph", "findings"} <= set(edited)
    # An op that does not apply is refused the same way either way.
    bad = {"op": "set_field", "state": "nowhere", "path": ["timeout"], "value": "1s"}
    refused = client.post("/api/files/signup.yaml/edit?preview=1", json={"text": SIGNUP, "op": bad})
    assert refused.status_code == 400


CHAIN = (Path(__file__).resolve().parents[2] / "examples" / "approval_chain.yaml").read_text()


def branches_of(text: str, state: str = "review") -> dict[str, Any]:
    found: dict[str, Any] = parse_document(text).data["states"][state]["branches"]
    return found


def test_a_parallel_states_branches_are_added_renamed_and_removed_one_edit_each() -> None:
    fork = next(
        n for n, s in parse_document(CHAIN).data["states"].items() if s["type"] == "parallel"
    )
    pinned = apply_edit(CHAIN, {"op": "move", "state": f"{fork}/reminders/nudge", "x": 10, "y": 20})
    pinned = apply_edit(
        pinned, {"op": "move", "state": f"{fork}/sign_off/signed", "x": 30, "y": 40}
    )

    added = apply_edit(pinned, {"op": "add_branch", "state": fork, "name": "audit"})
    assert list(branches_of(added, fork)) == ["sign_off", "reminders", "audit"]
    assert branches_of(added, fork)["audit"] == {
        "start": "done",
        "states": {"done": {"type": "succeed"}},
    }
    # Only the new branch's lines are new; the comment after the branches
    # (on `result:`) and the one introducing `catch:` stay where they were.
    assert (
        added.replace(
            "      audit:\n        start: done\n        states:\n          done:\n            type: succeed\n",
            "",
        )
        == pinned
    )
    assert apply_edit(added, {"op": "add_branch", "state": fork}).count("branch_1:") == 1

    renamed = apply_edit(
        added, {"op": "rename_branch", "state": fork, "branch": "reminders", "to": "nudges"}
    )
    assert list(branches_of(renamed, fork)) == ["sign_off", "nudges", "audit"]
    assert (
        renamed.replace("      nudges:\n", "      reminders:\n").replace(
            f"{fork}/nudges/nudge", f"{fork}/reminders/nudge"
        )
        == added
    )
    positions = parse_document(renamed).data["x-designer"]["positions"]
    assert positions == {f"{fork}/nudges/nudge": [10, 20], f"{fork}/sign_off/signed": [30, 40]}

    removed = apply_edit(renamed, {"op": "remove_branch", "state": fork, "branch": "sign_off"})
    assert list(branches_of(removed, fork)) == ["nudges", "audit"]
    positions = parse_document(removed).data["x-designer"]["positions"]
    assert positions == {f"{fork}/nudges/nudge": [10, 20]}
    assert comments(removed) == [c for c in comments(CHAIN) if c not in comments_in_sign_off()]


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if " #" in line]


def comments_in_sign_off() -> list[str]:
    lines = CHAIN.splitlines()
    start = lines.index("      sign_off:")
    end = lines.index("      reminders:")
    return comments("\n".join(lines[start:end]))


@pytest.mark.parametrize(
    "op",
    [
        pytest.param({"op": "add_branch", "state": "refund"}, id="not-a-parallel-state"),
        pytest.param({"op": "add_branch", "state": "nope"}, id="no-such-state"),
        pytest.param({"op": "add_branch", "state": "review", "name": "reminders"}, id="add-taken"),
        pytest.param(
            {"op": "rename_branch", "state": "review", "branch": "reminders", "to": "sign_off"},
            id="rename-taken",
        ),
        pytest.param(
            {"op": "rename_branch", "state": "review", "branch": "reminders", "to": "has space"},
            id="rename-not-a-name",
        ),
        pytest.param(
            {"op": "remove_branch", "state": "review", "branch": "nope"}, id="remove-unknown"
        ),
    ],
)
def test_impossible_branch_edits_are_refused_with_a_reason(op: dict[str, Any]) -> None:
    with pytest.raises(EditError):
        apply_edit(CHAIN, op)
