"""`GET /api/files/{path}/coverage` (designer/API.md): the flow's `wfdsl test`
files are run as the CLI runs them, and the answer says which transitions
and states their cases took, so the editor can dash the ones none takes."""

from __future__ import annotations

from pathlib import Path

from tests.designer.conftest import TestClient

CHECK = """\
wfdsl: "1"
name: check-amount
start: decide
states:
  decide:
    type: choice
    choices:
      - when: ${ input.amount > 100 }
        next: review
    default: approve
  review: {type: fail, error: NeedsReview}
  approve: {type: succeed}
"""

ONE_BRANCH = """\
wfdsl-test: "1"
flow: ../check.yaml
cases:
  - name: a small amount is approved
    input: {amount: 5}
    expect: {status: completed}
"""


def _write(workspace: Path) -> None:
    (workspace / "check.yaml").write_text(CHECK)
    (workspace / "tests").mkdir(exist_ok=True)
    (workspace / "tests" / "check.test.yaml").write_text(ONE_BRANCH)


def test_the_transition_no_case_takes_is_reported_untaken(
    client: TestClient, workspace: Path
) -> None:
    _write(workspace)
    answer = client.get("/api/files/check.yaml/coverage")
    assert answer.status_code == 200, answer.json()
    data = answer.json()
    assert data["test_files"] == ["tests/check.test.yaml"]
    assert data["cases"] == {"total": 1, "passed": 1, "failed": []}
    edges = {
        (e["source"], e["target"], e["kind"]): e["taken"] for e in data["coverage"]["edges"]["list"]
    }
    assert edges[("decide", "approve", "default")] == 1
    assert edges[("decide", "review", "choice")] == 0
    states = data["coverage"]["states"]["by_state"]
    assert states["approve"] == 1 and states["review"] == 0


def test_a_failing_case_is_named(client: TestClient, workspace: Path) -> None:
    _write(workspace)
    (workspace / "tests" / "check.test.yaml").write_text(
        ONE_BRANCH.replace("status: completed", "status: failed")
    )
    data = client.get("/api/files/check.yaml/coverage").json()
    assert data["cases"]["failed"] == [
        {"name": "a small amount is approved", "file": "tests/check.test.yaml"}
    ]


def test_a_flow_without_test_files_has_no_coverage(client: TestClient, workspace: Path) -> None:
    _write(workspace)
    data = client.get("/api/files/signup.yaml/coverage").json()
    assert data["coverage"] is None and data["test_files"] == []


def test_a_flow_with_unlisted_imports_is_skipped_with_the_reason(
    client: TestClient, workspace: Path
) -> None:
    _write(workspace)
    text = CHECK.replace("name: check-amount\n", "name: check-amount\nimports: [os]\n")
    (workspace / "check.yaml").write_text(text)
    data = client.get("/api/files/check.yaml/coverage").json()
    assert data["coverage"] is None
    assert data["skipped"][0]["file"] == "tests/check.test.yaml"
    assert "imports os" in data["skipped"][0]["reason"]


def test_a_test_file_for_another_flow_is_not_run(client: TestClient, workspace: Path) -> None:
    _write(workspace)
    (workspace / "other.yaml").write_text(CHECK.replace("check-amount", "other"))
    data = client.get("/api/files/other.yaml/coverage").json()
    assert data["test_files"] == [] and data["coverage"] is None


def test_paths_are_confined_and_missing_files_are_404(client: TestClient) -> None:
    assert client.get("/api/files/nope.yaml/coverage").status_code == 404
    assert client.get("/api/files/..%2Fx.yaml/coverage").status_code in (400, 404)
