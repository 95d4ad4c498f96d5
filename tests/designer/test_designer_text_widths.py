"""The designer lays graphs out with the text widths the browser measured
(the ``wfdsl_text`` cookie that designer/static/text_metrics.js sets): the
editor's views and the run page's graph; a bad cookie is the estimate."""

from __future__ import annotations

from pathlib import Path

from tests.designer.conftest import TestClient
from tests.dsl.test_text_metrics import cookie


def widths(view: dict) -> dict[str, float]:  # type: ignore[type-arg]
    return {k: b["w"] for k, b in view["layout"]["nodes"].items()}


def test_views_are_laid_out_with_the_browsers_text_widths(
    client: TestClient, workspace: Path
) -> None:
    estimated = widths(client.get("/api/files/signup.yaml").json()["view"])
    client.cookies.set("wfdsl_text", cookie(11.0, 9.0))
    wide = widths(client.get("/api/files/signup.yaml").json()["view"])
    assert wide["send_verification"] == 11.0 * len("send_verification") + 32
    assert wide["send_verification"] > estimated["send_verification"]
    text = (workspace / "signup.yaml").read_text()
    validated = client.post("/api/files/signup.yaml/validate", json={"text": text}).json()
    assert widths(validated) == wide
    assert widths(client.post("/api/graph", json={"text": text}).json()) == wide
    page = client.get("/edit/signup.yaml").text  # the editor's first drawing too
    assert 'width="219" height="46"' in page

    client.cookies.set("wfdsl_text", "v1.not-a-measurement")
    assert widths(client.get("/api/files/signup.yaml").json()["view"]) == estimated


def test_the_run_page_draws_with_them_too(client: TestClient, workspace: Path) -> None:
    client.post(
        "/api/runs", json={"file": "signup.yaml", "run_id": "s1", "input": {"email": "a@b.c"}}
    )
    estimated = widths(client.get("/api/runs/s1").json()["view"])
    client.cookies.set("wfdsl_text", cookie(11.0, 9.0))
    wide = widths(client.get("/api/runs/s1").json()["view"])
    assert (
        wide["send_verification"]
        == 11.0 * len("send_verification") + 32
        != estimated["send_verification"]
    )
