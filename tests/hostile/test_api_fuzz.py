"""Schemathesis against the designer's own ``/openapi.json`` (issue 6, item 5).

The app is driven in-process through schemathesis's ASGI integration, with
the per-launch token, the CSRF header and a same-origin ``Origin`` supplied,
so every generated request passes the guard and reaches a handler. For every
documented operation, generated requests (schema-conforming and not) must
never produce a 5xx, and every 4xx must carry the one error shape of
designer/API.md. The number of examples is small so the whole file stays
well under a minute on a loaded two-core machine.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from wfdsl.designer.app import create_app  # noqa: E402
from wfdsl.designer.security import csrf_for  # noqa: E402
from wfdsl.interpreter.clock import VirtualClock  # noqa: E402
from wfdsl.interpreter.engine import Engine  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-token-0123456789abcdef"
HOST = "testserver"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "X-CSRF-Token": csrf_for(TOKEN),
    "Origin": f"http://{HOST}",
}
EXAMPLES = 12
# Status codes per operation, so a test can check the fuzzer got past the guard.
SEEN: list[tuple[str, str, int]] = []

WAITER = """\
wfdsl: "1"
name: fuzz-waiter
vars: {n: 0}
handlers:
  bump:
    set: {n: "${ vars.n + 1 }"}
    return: ${ vars.n }
  peek:
    return: ${ vars }
start: hold
states:
  hold:
    type: wait
    any:
      - {signal: go, as: got, next: hold}
      - {timer: 1d, next: fin}
  fin: {type: succeed}
"""

DONE = """\
wfdsl: "1"
name: fuzz-done
start: fin
states:
  fin: {type: succeed, output: "<b>${ 'x' }</b>"}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    base = tmp_path_factory.mktemp("fuzz")
    workspace = base / "ws"
    workspace.mkdir()
    for example in (ROOT / "examples").glob("*.yaml"):
        shutil.copy(example, workspace / example.name)
    (workspace / "waiter.yaml").write_text(WAITER)
    (workspace / "done.yaml").write_text(DONE)
    engine = Engine(base / "store.db", clock=VirtualClock(), synchronous="OFF")
    waiting = engine.submit(WAITER, run_id="fuzz-waiting")
    engine.run_until_idle()
    finished = engine.submit(DONE, run_id="fuzz-done")
    engine.run_until_complete(finished.id)
    assert engine.get(waiting.id).status == "waiting"
    # drive=False: no worker loop; requests alone act on runs.
    app = create_app(workspace, engine=engine, token=TOKEN, allowed_hosts=[HOST], drive=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=HEADERS)
    yield app, schema
    engine.close()


def _operations(schema: Any) -> dict[tuple[str, str], Any]:
    out = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        out[(operation.method.upper(), operation.path)] = operation
    return out


def _header(response: Any, name: str) -> str:
    """One header of a schemathesis response (its headers map names to lists)."""
    value = response.headers.get(name) or response.headers.get(name.title()) or [""]
    return str(value[0] if isinstance(value, list) else value)


def _check(case: Any, response: Any) -> None:
    where = f"{case.method} {case.formatted_path} body={getattr(case, 'body', None)!r:.300}"
    assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        assert _header(response, "content-type").startswith("application/json"), where
        error = response.json().get("error")
        assert isinstance(error, dict), where
        assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), where
        assert isinstance(error.get("findings"), list), where
    # The guard's headers are on every answer, error or not.
    assert "script-src 'self'" in _header(response, "content-security-policy"), where


# Path parameters: a random value (mostly refused) and one that names
# something real, so the handlers past the lookup are exercised too.
FIXED: dict[str, dict[str, str]] = {
    "/api/files/{path}": {"path": "signup.yaml"},
    "/api/files/{path}/validate": {"path": "signup.yaml"},
    "/api/files/{path}/edit": {"path": "signup.yaml"},
    "/api/files/{path}/input": {"path": "signup.yaml"},
    "/api/files/{path}/coverage": {"path": "signup.yaml"},
    "/api/runs/{run_id}": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/history": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/state": {"run_id": "fuzz-waiting"},
    # The stream of a finished run ends at once; a live one would not.
    "/api/runs/{run_id}/events": {"run_id": "fuzz-done"},
    "/api/runs/{run_id}/signal": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/call": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/pause": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/resume": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/step": {"run_id": "fuzz-waiting"},
    "/api/runs/{run_id}/cancel": {"run_id": "fuzz-done"},
}
# Generated run ids must not name a live run: its event stream never ends.
RANDOM_SKIPPED = {("GET", "/api/runs/{run_id}/events")}


def _modes() -> list[Any]:
    mode = schemathesis.GenerationMode
    return [mode.POSITIVE, mode.NEGATIVE]


def test_every_operation_is_fuzzed(served: tuple[Any, Any]) -> None:
    _, schema = served
    operations = _operations(schema)
    assert len(operations) >= 20
    assert {path for _, path in operations if "{" in path} <= set(FIXED)


@pytest.mark.parametrize("negative", [False, True], ids=["conforming", "non-conforming"])
def test_no_server_errors_and_one_error_shape(served: tuple[Any, Any], negative: bool) -> None:
    _, schema = served
    mode = _modes()[1 if negative else 0]
    strategies = []
    for (method, path), operation in sorted(_operations(schema).items()):
        if (method, path) not in RANDOM_SKIPPED:
            strategies.append(operation.as_strategy(generation_mode=mode))
        if path in FIXED:
            strategies.append(
                operation.as_strategy(generation_mode=mode, path_parameters=FIXED[path])
            )

    @settings(
        max_examples=EXAMPLES * len(strategies),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(strategies))
    def run(case: Any) -> None:
        # The generated X-CSRF-Token (a documented header parameter) is
        # replaced by the real one, or the guard would refuse nearly all.
        case.headers = {
            **{k: v for k, v in (case.headers or {}).items() if k.lower() != "x-csrf-token"},
            **HEADERS,
        }
        response = case.call()
        SEEN.append((case.method, case.path, response.status_code))
        _check(case, response)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()


def test_the_fuzzer_reached_the_handlers_not_only_the_guard() -> None:
    """Generated requests passed the guard and succeeded on most operations
    (a fuzzer stopped by 401/403 everywhere would prove nothing)."""
    if not SEEN:
        pytest.skip("runs after the fuzzing tests of this file")
    refused = sum(status in (401, 403) for _, _, status in SEEN)
    succeeded = {(m, p) for m, p, status in SEEN if 200 <= status < 300}
    assert refused < len(SEEN) // 10, refused
    assert len(succeeded) >= 15, sorted(succeeded)


@pytest.mark.parametrize("kind", [["add_state"], {"a": 1}, 1, None, True])
def test_an_edit_op_name_of_the_wrong_type_is_400(served: tuple[Any, Any], kind: Any) -> None:
    """Found by this fuzzer: ``{"op": {"op": [...]}}`` was a TypeError (500)."""
    app, _ = served
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    text = (ROOT / "examples" / "signup.yaml").read_text()
    with TestClient(app, base_url=f"http://{HOST}") as client:
        response = client.post(
            "/api/files/signup.yaml/edit", json={"text": text, "op": {"op": kind}}, headers=HEADERS
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
