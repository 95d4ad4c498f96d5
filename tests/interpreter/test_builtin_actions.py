"""The built-in actions: http (on httpx.MockTransport), log, noop and shell."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wfdsl.interpreter.actions.builtin import BUILTIN_ACTIONS, Builtins
from wfdsl.interpreter.actions.registry import ActionRegistry
from wfdsl.interpreter.actions.runner import ActionRunner
from wfdsl.interpreter.machine.steps import ActionOutcome, CallAction

Handler = Callable[[httpx.Request], httpx.Response]


def call(action: str, args: dict[str, Any] | None = None, **fields: Any) -> CallAction:
    return CallAction(
        call_id="c1", run_id="o1", state="fetch", action=action, args=args or {}, **fields
    )


def failed(outcome: ActionOutcome) -> tuple[str | None, str]:
    assert not outcome.ok, outcome
    return outcome.error, outcome.message or ""


@pytest.fixture
def runner() -> Iterator[ActionRunner]:
    with ActionRunner(ActionRegistry()) as r:
        yield r


def http_runner(handler: Handler) -> ActionRunner:
    return ActionRunner(ActionRegistry(), http_transport=httpx.MockTransport(handler))


def test_the_built_ins_are_the_documented_four() -> None:
    assert (
        Builtins().registry.names() == sorted(BUILTIN_ACTIONS) == ["http", "log", "noop", "shell"]
    )


# ------------------------------------------------------------------ http


def test_http_get_returns_status_headers_json_and_text() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 7, "ok": True}, headers={"X-Trace": "t1"})

    with http_runner(handler) as runner:
        outcome = runner.run_sync(
            call("http", {"url": "https://api.test/orders/7", "headers": {"Accept": "json"}})
        )
    assert outcome.ok, outcome
    value = outcome.value
    assert value["status"] == 200
    assert value["json"] == {"id": 7, "ok": True}
    assert json.loads(value["text"]) == {"id": 7, "ok": True}
    assert value["headers"]["x-trace"] == "t1", "header names are lower-cased"
    assert value["headers"]["content-type"] == "application/json"
    (request,) = seen
    assert request.method == "GET" and str(request.url) == "https://api.test/orders/7"
    assert request.headers["accept"] == "json"


def test_http_post_sends_json_body_and_query_params() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, text="created")

    with http_runner(handler) as runner:
        outcome = runner.run_sync(
            call(
                "http",
                {
                    "method": "post",
                    "url": "https://api.test/orders",
                    "json": {"item": "book", "qty": 2},
                    "params": {"dry run": "yes"},
                    "expect": [201],
                },
            )
        )
    assert outcome.ok and outcome.value["status"] == 201
    assert outcome.value["json"] is None, "text/plain is not parsed"
    assert outcome.value["text"] == "created"
    (request,) = seen
    assert request.method == "POST"
    assert request.url.params["dry run"] == "yes"
    assert json.loads(request.content) == {"item": "book", "qty": 2}
    assert request.headers["content-type"] == "application/json"


def test_http_sends_a_text_body() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(204)

    with http_runner(handler) as runner:
        outcome = runner.run_sync(
            call("http", {"method": "PUT", "url": "https://x.test/a", "body": "raw text"})
        )
    assert outcome.ok and outcome.value["text"] == "" and bodies == [b"raw text"]


@pytest.mark.parametrize(
    ("content_type", "body", "parsed"),
    [
        pytest.param("application/json; charset=utf-8", b'{"a": 1}', {"a": 1}, id="json-charset"),
        pytest.param("application/problem+json", b'{"title": "x"}', {"title": "x"}, id="plus-json"),
        pytest.param("application/json", b"not json", None, id="bad-json"),
        pytest.param("application/json", b'{"a": NaN}', None, id="nan-is-not-json"),
        pytest.param("text/html", b"<p>hi</p>", None, id="html"),
    ],
)
def test_http_parses_json_bodies_only(content_type: str, body: bytes, parsed: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    with http_runner(handler) as runner:
        outcome = runner.run_sync(call("http", {"url": "https://x.test/"}))
    assert outcome.ok and outcome.value["json"] == parsed
    assert outcome.value["text"] == body.decode()


def test_http_status_outside_expect_fails_with_http_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="  upstream\n  overloaded  " + "x" * 500)

    with http_runner(handler) as runner:
        error, message = failed(
            runner.run_sync(
                call("http", {"url": "https://u:p@api.test/pay?token=s3cret", "expect": [200, 201]})
            )
        )
    assert error == "HttpError"
    assert message.startswith(
        "GET https://api.test/pay?... answered 503, expected 200, 201: upstream overloaded xxx"
    )
    assert len(message) < 300 and message.endswith("...")
    assert "s3cret" not in message and "u:p" not in message, "query and credentials stay out"


def test_an_http_error_carries_its_status_and_a_body_excerpt_as_details() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="no such user " + "y" * 1000)

    with http_runner(handler) as runner:
        outcome = runner.run_sync(call("http", {"url": "https://api.test/users/7"}))
    assert failed(outcome)[0] == "HttpError"
    assert outcome.details is not None and outcome.details["status"] == 404
    assert outcome.details["body"].startswith("no such user yyy")
    assert len(outcome.details["body"]) < 300


@pytest.mark.parametrize(
    ("status", "expect", "ok"),
    [
        pytest.param(204, None, True, id="2xx-by-default"),
        pytest.param(304, None, False, id="3xx-not-by-default"),
        pytest.param(404, [404], True, id="expected-404"),
        pytest.param(200, 201, False, id="single-number"),
    ],
)
def test_http_expect(status: int, expect: Any, ok: bool) -> None:
    args: dict[str, Any] = {"url": "https://x.test/"}
    if expect is not None:
        args["expect"] = expect
    with http_runner(lambda request: httpx.Response(status)) as runner:
        outcome = runner.run_sync(call("http", args))
    assert outcome.ok is ok, outcome
    if not ok:
        wanted = expect if expect else "2xx"
        assert outcome.message == f"GET https://x.test/ answered {status}, expected {wanted}"


def test_http_follows_redirects() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "https://x.test/new"})
        return httpx.Response(200, text=request.url.path)

    with http_runner(handler) as runner:
        outcome = runner.run_sync(call("http", {"url": "https://x.test/old"}))
    assert outcome.ok and outcome.value["text"] == "/new"


def test_http_transport_errors_are_http_errors_and_timeouts_are_timeouts() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with http_runner(refuse) as runner:
        assert failed(runner.run_sync(call("http", {"url": "https://down.test/x"}))) == (
            "HttpError",
            "GET https://down.test/x failed: ConnectError: connection refused",
        )
    with http_runner(stall) as runner:
        assert failed(
            runner.run_sync(call("http", {"url": "https://slow.test/", "timeout": "2s"}))
        ) == (
            "Timeout",
            "GET https://slow.test/ timed out after 2s (ReadTimeout)",
        )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            {"url": "https://x.test/", "json": {}, "body": "x"},
            "either json or body",
            id="json-and-body",
        ),
        pytest.param({"url": ""}, "url must be a non-empty string", id="empty-url"),
        pytest.param(
            {"url": "https://x.test/", "method": "GE T"}, "method must be a word", id="method"
        ),
        pytest.param(
            {"url": "https://x.test/", "expect": ["200"]}, "expect must be a number", id="expect"
        ),
        pytest.param(
            {"url": "https://x.test/", "timeout": "soon"}, "invalid duration 'soon'", id="timeout"
        ),
        pytest.param(
            {"url": "https://x.test/", "body": {"a": 1}}, "body must be a string", id="body"
        ),
        pytest.param({"uri": "https://x.test/"}, "did you mean 'url'?", id="misspelt"),
    ],
)
def test_http_argument_mistakes_are_argument_errors(args: dict[str, Any], fragment: str) -> None:
    with http_runner(lambda request: httpx.Response(200)) as runner:
        error, message = failed(runner.run_sync(call("http", args)))
    assert error == "ArgumentError" and fragment in message


def test_http_refuses_bodies_over_the_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2000)

    builtins = Builtins(http_transport=httpx.MockTransport(handler))
    builtins.http._max_body = 1000
    with ActionRunner(ActionRegistry(), builtins=builtins) as runner:
        error, message = failed(runner.run_sync(call("http", {"url": "https://big.test/"})))
    assert error == "HttpError" and "a body over 1000 bytes" in message


def test_http_reuses_one_client_per_loop() -> None:
    builtins = Builtins(http_transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    with ActionRunner(ActionRegistry(), builtins=builtins) as runner:
        runner.run_sync(call("http", {"url": "https://x.test/"}))
        runner.run_sync(call("http", {"url": "https://x.test/"}))
        assert len(builtins.http._clients) == 1
    assert len(builtins.http._clients) == 0, "close() closes the client"


# ------------------------------------------------------------------ log


@pytest.mark.parametrize(
    ("level", "number"),
    [
        ("debug", logging.DEBUG),
        ("info", logging.INFO),
        ("WARNING", logging.WARNING),
        ("error", logging.ERROR),
    ],
)
def test_log_writes_one_line_at_the_level(
    runner: ActionRunner, caplog: pytest.LogCaptureFixture, level: str, number: int
) -> None:
    with caplog.at_level(logging.DEBUG, logger="wfdsl.actions.log"):
        outcome = runner.run_sync(
            call("log", {"message": "order shipped", "level": level}, attempt=2)
        )
    assert outcome.ok and outcome.value is None
    (record,) = [r for r in caplog.records if r.name == "wfdsl.actions.log"]
    assert record.levelno == number
    assert record.getMessage() == "run 'o1' state 'fetch' attempt 2: order shipped"
    assert record.run_id == "o1"  # type: ignore[attr-defined]


def test_log_defaults_to_info_and_writes_data_as_json(
    runner: ActionRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wfdsl.actions.log"):
        assert runner.run_sync(call("log", {"message": {"total": 3}})).ok
    assert caplog.records[-1].levelno == logging.INFO
    assert caplog.records[-1].getMessage().endswith(': {"total": 3}')


def test_log_refuses_unknown_levels(runner: ActionRunner) -> None:
    error, message = failed(runner.run_sync(call("log", {"message": "x", "level": "loud"})))
    assert error == "ArgumentError"
    assert message == "log: level must be one of debug, info, warning, error, got 'loud'"


# ------------------------------------------------------------------ noop


def test_noop_returns_none_or_its_args_and_runs_inline(runner: ActionRunner) -> None:
    assert runner.run_sync(call("noop")).value is None
    assert runner.run_sync(call("noop", {"a": 1, "b": [2]})).value == {"a": 1, "b": [2]}
    assert runner.resolve("noop").inline
    assert runner._executor is None, "no worker thread was needed"


# ------------------------------------------------------------------ shell


def test_shell_is_refused_unless_enabled(runner: ActionRunner) -> None:
    error, message = failed(runner.run_sync(call("shell", {"command": ["echo", "hi"]})))
    assert error == "ShellDisabled"
    assert "allow_shell=True" in message and "--allow-shell" in message


@pytest.fixture
def shell() -> Iterator[ActionRunner]:
    with ActionRunner(ActionRegistry(), allow_shell=True) as r:
        yield r


def test_shell_list_form_runs_without_a_shell(shell: ActionRunner) -> None:
    outcome = shell.run_sync(call("shell", {"command": ["echo", "$HOME", "a b"]}))
    assert outcome.ok
    assert outcome.value == {"code": 0, "stdout": "$HOME a b\n", "stderr": ""}


def test_shell_string_form_runs_through_sh_with_env_and_cwd(
    shell: ActionRunner, tmp_path: Path
) -> None:
    outcome = shell.run_sync(
        call(
            "shell",
            {
                "command": 'echo "$GREETING $N" && pwd && echo oops >&2',
                "env": {"GREETING": "hi", "N": 3},
                "cwd": str(tmp_path),
            },
        )
    )
    assert outcome.ok, outcome
    assert outcome.value["stdout"] == f"hi 3\n{tmp_path}\n"
    assert outcome.value["stderr"] == "oops\n"


def test_shell_nonzero_exit_fails_with_the_end_of_stderr(shell: ActionRunner) -> None:
    error, message = failed(
        shell.run_sync(call("shell", {"command": "echo bad input >&2; exit 3"}))
    )
    assert error == "ShellError"
    assert message == "command 'echo bad input >&2; exit 3' exited with 3, expected 0: bad input"
    outcome = shell.run_sync(call("shell", {"command": "exit 3", "expect": [0, 3]}))
    assert outcome.ok and outcome.value["code"] == 3


def test_shell_that_cannot_start_is_a_shell_error(shell: ActionRunner) -> None:
    error, message = failed(shell.run_sync(call("shell", {"command": ["wfdsl-no-such-program"]})))
    assert error == "ShellError" and "could not start" in message


def test_shell_timeout_kills_the_command(shell: ActionRunner, tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    error, message = failed(
        shell.run_sync(call("shell", {"command": f"sleep 5; touch {marker}", "timeout": 0.1}))
    )
    assert error == "Timeout"
    assert message == f"command 'sleep 5; touch {marker}' did not finish within 100ms; killed"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param({"command": "  "}, "command is empty", id="empty"),
        pytest.param({"command": []}, "non-empty list", id="empty-list"),
        pytest.param({"command": ["echo", {"a": 1}]}, "list of strings", id="list-of-maps"),
        pytest.param({"command": "true", "env": {"A": [1]}}, "env value of 'A'", id="env"),
    ],
)
def test_shell_argument_mistakes_are_argument_errors(
    shell: ActionRunner, args: dict[str, Any], fragment: str
) -> None:
    error, message = failed(shell.run_sync(call("shell", args)))
    assert error == "ArgumentError" and fragment in message


def test_shell_cuts_huge_output(tmp_path: Path) -> None:
    builtins = Builtins(allow_shell=True)
    builtins.shell._max_output = 10
    with ActionRunner(ActionRegistry(), builtins=builtins) as runner:
        outcome = runner.run_sync(call("shell", {"command": ["printf", "0123456789abcdef"]}))
    assert outcome.value["stdout"] == "0123456789\n[... 6 more bytes cut]"


def test_shell_runs_on_the_loop_not_in_a_thread(shell: ActionRunner) -> None:
    assert shell.resolve("shell").is_async
    assert shell.run_sync(call("shell", {"command": ["true"]})).ok
    assert shell._executor is None
