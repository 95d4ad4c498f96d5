"""Slow work (validate, compile, lay out and draw) runs in worker threads, at
most two at a time: a hostile document that takes seconds to validate holds
up no other request, and a flood of them starts no more threads."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wfdsl.designer import api

from tests.designer.conftest import TestClient

WAIT = 10.0  # seconds; only reached when something is wrong


class SlowView:
    """``document_view`` that stops until released: stands in for a document
    that takes seconds to validate, and counts how many run at once."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.entered = 0
        self.finished = 0
        self.first_in = threading.Event()
        self.two_in = threading.Event()

    def __call__(self, text: str, file: str | None = None, **options: Any) -> Any:
        with self.lock:
            self.running += 1
            self.entered += 1
            self.most = max(self.most, self.running)
            self.first_in.set()
            if self.entered >= 2:
                self.two_in.set()
        try:
            self.release.wait(WAIT)
            return self.real(text, file, **options)
        finally:
            with self.lock:
                self.running -= 1
                self.finished += 1


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowView]:
    view = SlowView(api.document_view)
    monkeypatch.setattr(api, "document_view", view)
    yield view
    view.release.set()  # never leave a worker waiting


def in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


@pytest.mark.parametrize(
    "slow_request",
    [
        pytest.param(("POST", "/api/files/signup.yaml/validate", None), id="validate"),
        pytest.param(("POST", "/api/graph", None), id="graph"),
        pytest.param(("PUT", "/api/files/signup.yaml", None), id="save"),
        pytest.param(
            ("POST", "/api/files/signup.yaml/edit", {"op": "unpin"}),
            id="edit",
        ),
    ],
)
def test_a_slow_document_does_not_hold_up_other_requests(
    client: TestClient, workspace: Path, slow: SlowView, slow_request: tuple[str, str, Any]
) -> None:
    method, url, op = slow_request
    text = (workspace / "signup.yaml").read_text()
    body: dict[str, Any] = {"text": text} if op is None else {"text": text, "op": op}
    thread, answers = in_background(lambda: client.request(method, url, json=body))
    assert slow.first_in.wait(WAIT), "the slow request never started its work"
    # While it works, other requests answer: the session, the runs, a page.
    for cheap in ("/api/session", "/api/runs", "/runs", "/static/api.js"):
        response = client.get(cheap)
        assert response.status_code == 200, (cheap, response.text)
    assert slow.finished == 0 and not answers, "the cheap requests waited for the slow one"
    slow.release.set()
    thread.join(WAIT)
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()  # the real view, once released


def test_at_most_two_slow_requests_work_at_once_and_the_rest_wait_their_turn(
    client: TestClient, workspace: Path, slow: SlowView
) -> None:
    text = (workspace / "signup.yaml").read_text()
    started = [
        in_background(
            lambda: client.post("/api/files/signup.yaml/validate", json={"text": text + "\n"})
        )
        for _ in range(5)
    ]
    assert slow.two_in.wait(WAIT)
    # Give the other three every chance to start too; the limit keeps them out.
    assert not slow.release.wait(0.5)
    assert slow.entered == 2 == api.SLOW_WORKERS
    assert client.get("/api/session").status_code == 200  # the loop is free meanwhile
    slow.release.set()
    for thread, _ in started:
        thread.join(WAIT)
    answers = [out[0] for _, out in started if out]
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.json()["ok"] for a in answers)
    assert slow.entered == 5 and slow.most == 2


def wide_choice(branches: int) -> str:
    choices = ", ".join(f'{{when: "${{ input.x == {i} }}", next: s{i}}}' for i in range(branches))
    lines = [f"  pick: {{type: choice, choices: [{choices}], default: s0}}"]
    lines += [f"  s{i}: {{type: succeed}}" for i in range(branches)]
    lines[-1] = f'  s{branches - 1}: {{type: succeed, output: "${{ vars.never_set }}"}}'
    return 'wfdsl: "1"\nname: wide\nstart: pick\nstates:\n' + "\n".join(lines) + "\n"


def test_a_wide_graph_is_drawn_with_the_builtin_layout_and_keeps_its_badges(
    client: TestClient,
) -> None:
    # graphlay holds the GIL for seconds on a graph this wide (a thread would
    # not help): past GRAPHLAY_MAX_DEGREE edges on one node the designer lays out by itself.
    branches = 150
    view = client.post("/api/graph", json={"text": wide_choice(branches)}).json()
    assert view["layout"]["engine"] == "builtin"
    assert len(view["layout"]["nodes"]) == branches + 3  # pick, (start), (end)
    badges = {n["id"]: n["findings"] for n in view["graph"]["nodes"]}
    flagged = [
        f for f in view["findings"] if (f["path"] or "").startswith(f"$.states.s{branches - 1}")
    ]
    assert flagged and badges[f"s{branches - 1}"] == len(flagged)
    assert badges["s0"] == 0 and badges["(start)"] == 0
    # A graph of an everyday size keeps the default engine.
    small = client.post("/api/graph", json={"text": wide_choice(5)}).json()
    default = "graphlay" if importlib.util.find_spec("graphlay") else "builtin"
    assert small["layout"]["engine"] == default and small["graph"]["nodes"]
