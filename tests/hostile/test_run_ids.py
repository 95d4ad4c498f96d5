"""Run ids a caller chooses, from the Python API, the CLI and the designer
(issue 6, item 4: unicode tricks; docs/decisions.md "Run ids").

Accepted ids come back unchanged everywhere: letters of any script
(right-to-left ones too), digits, spaces inside, punctuation, 200 characters.
Refused (WF604, nothing stored): empty, longer than 200, ``/`` (kept for the
ids of child runs), and anything that does not show as itself: NUL and other
controls (a terminal escape), bidi overrides and isolates, zero-width
characters, the BOM, lone surrogates, line separators, white space at either
end. A lookup with an id that has no UTF-8 form is "no such run", never an
internal error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.run_ids import MAX_RUN_ID, check_run_id
from wfdsl.interpreter.schedules import tick_run_id

import wfdsl
from wfdsl import Engine, RunNotFound, ValidationError, VirtualClock

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]

WAITER = """\
wfdsl: "1"
name: id-waiter
start: hold
states:
  hold: {type: wait, signal: go, as: got, next: done}
  done: {type: succeed, output: "${ run.id + ':' + vars.got }"}
"""

ACCEPTED = [
    pytest.param("order-17", id="plain"),
    pytest.param("signup-ada@example.com", id="email"),
    pytest.param("Ünïcødé-日本-7", id="letters"),
    pytest.param("הזמנה-17", id="hebrew-rtl"),
    pytest.param("طلب-١٧", id="arabic-rtl"),
    pytest.param("nightly report #3: 2026-07-01T02:00:00Z", id="spaces-punctuation"),
    pytest.param("🎉-party", id="emoji"),
    pytest.param("x" * MAX_RUN_ID, id="200-chars"),
]

REFUSED = [
    pytest.param("", "is empty", id="empty"),
    pytest.param("x" * (MAX_RUN_ID + 1), "more than 200", id="201-chars"),
    pytest.param("x" * 100_000, "more than 200", id="100k-chars"),
    pytest.param("p/child", "'/'", id="slash"),
    pytest.param("a\x00b", "U+0000", id="nul"),
    pytest.param("a\nb", "U+000A", id="newline"),
    pytest.param("ok\x1b[31mred", "U+001B", id="terminal-escape"),
    pytest.param("a\x7f", "U+007F", id="del"),
    pytest.param("a\x85b", "U+0085", id="c1-next-line"),
    pytest.param("ok\u202egnp", "U+202E", id="rtl-override"),
    pytest.param("\u2067x\u2069", "U+2067", id="rtl-isolate"),
    pytest.param("a\u200fb", "U+200F", id="rtl-mark"),
    pytest.param("pay\u200dment", "U+200D", id="zero-width-joiner"),
    pytest.param("pay\u200bment", "U+200B", id="zero-width-space"),
    pytest.param("\ufeffid", "U+FEFF", id="bom"),
    pytest.param("a\u2028b", "U+2028", id="line-separator"),
    pytest.param("a\ud800b", "U+D800", id="lone-surrogate"),
    pytest.param(" r1", "white space", id="leading-space"),
    pytest.param("r1\u00a0", "white space", id="trailing-nbsp"),
]


@pytest.fixture
def engine() -> Any:
    with Engine(":memory:", clock=VirtualClock()) as eng:
        yield eng


@pytest.mark.parametrize("run_id", ACCEPTED)
def test_an_accepted_id_round_trips_through_the_python_api(engine: Engine, run_id: str) -> None:
    run = engine.submit(WAITER, run_id=run_id)
    assert run.id == run_id
    engine.run_until_idle()
    engine.signal(run_id, "go", "yes")
    done = engine.run_until_complete(run_id)
    assert (done.id, done.status, done.output) == (run_id, "completed", f"{run_id}:yes")
    assert [r.id for r in engine.list_runs()] == [run_id]
    assert engine.history(run_id)[-1].type == "run_completed"


@pytest.mark.parametrize(("run_id", "why"), REFUSED)
def test_a_refused_id_is_wf604_saying_why_and_stores_nothing(
    engine: Engine, run_id: str, why: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        engine.submit(WAITER, run_id=run_id)
    (finding,) = caught.value.findings
    assert finding.code == "WF604" and finding.severity == "error"
    assert why in finding.message, finding.message
    # The message shows the id escaped: nothing invisible reaches a terminal.
    assert finding.message.isprintable(), finding.message
    assert len(finding.message) < 300
    assert engine.list_runs() == []
    assert engine.store.find_definition("id-waiter") is None


def test_an_id_that_is_not_text_is_refused(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="not text"):
        engine.submit(WAITER, run_id=17)  # type: ignore[arg-type]


def test_a_chosen_id_cannot_take_a_child_runs_id(engine: Engine) -> None:
    """A subflow's child is ``parent/state``. Before '/' was refused, a run
    submitted as ``p/kid`` left ``p`` waiting for ever on a child that was not
    its own."""
    child = 'wfdsl: "1"\nname: kid\nstart: s\nstates:\n  s: {type: succeed, output: 1}\n'
    engine.register(child)
    parent = (
        'wfdsl: "1"\nname: par\nstart: kid\nstates:\n'
        "  kid: {type: subflow, workflow: kid, result: r, next: done}\n"
        '  done: {type: succeed, output: "${ vars.r }"}\n'
    )
    with pytest.raises(ValidationError, match="child runs"):
        engine.submit(child, run_id="p/kid")
    engine.submit(parent, run_id="p")
    done = engine.run_until_complete("p")
    assert (done.status, done.output) == ("completed", 1)
    assert engine.get("p/kid").status == "completed"  # derived ids keep their '/'


def test_ids_wfdsl_derives_itself_pass_the_same_rule() -> None:
    tick = tick_run_id("nightly-report", 1_782_000_000)
    assert check_run_id(tick) == tick


@pytest.mark.parametrize("run_id", ["\ud800", "\udcff", "a\udfffb"])
def test_a_lookup_with_an_id_that_has_no_utf8_form_is_no_such_run(
    engine: Engine, run_id: str
) -> None:
    engine.submit(WAITER, run_id="real")
    for call in (
        lambda: engine.get(run_id),
        lambda: engine.history(run_id),
        lambda: engine.signal(run_id, "go", "x"),
        lambda: engine.cancel(run_id),
    ):
        with pytest.raises(RunNotFound):
            call()
    assert engine.get("real").status == "running"


# ------------------------------------------------------------------ the CLI


def cli(tmp_path: Path, *args: str | bytes) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WFDSL_DB"}
    return subprocess.run(
        [*WFDSL, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_the_cli_round_trips_right_to_left_and_long_ids(tmp_path: Path) -> None:
    (tmp_path / "waiter.yaml").write_text(WAITER)
    for run_id in ("הזמנה-17", "طلب-١٧", "x" * MAX_RUN_ID):
        started = subprocess.Popen(
            [*WFDSL, "run", "waiter.yaml", "--run-id", run_id, "--json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # `wfdsl run` waits for the signal; send it from a second process.
            for _ in range(100):
                sent = cli(tmp_path, "signal", run_id, "go", "--data", '"cli"')
                if sent.returncode == 0:
                    break
                assert sent.returncode == 4, sent.stderr  # not created yet
            out, err = started.communicate(timeout=120)
        finally:
            if started.poll() is None:
                started.kill()
                started.communicate()
        assert started.returncode == 0, err
        doc = json.loads(out.strip().splitlines()[-1])
        assert (doc["id"], doc["output"]) == (run_id, f"{run_id}:cli")
        shown = cli(tmp_path, "runs", "show", run_id, "--json")
        assert json.loads(shown.stdout)["id"] == run_id


@pytest.mark.parametrize(
    ("run_id", "why"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("a/b", "'/'", id="slash"),
        pytest.param("ok\x1b[31mred", "U+001B", id="terminal-escape"),
        pytest.param("ok\u202egnp", "U+202E", id="rtl-override"),
        pytest.param("x" * 300, "more than 200", id="300-chars"),
    ],
)
def test_the_cli_refuses_a_bad_run_id_with_exit_2(tmp_path: Path, run_id: str, why: str) -> None:
    (tmp_path / "waiter.yaml").write_text(WAITER)
    got = cli(tmp_path, "run", "waiter.yaml", "--run-id", run_id, "--virtual-time")
    assert got.returncode == 2, got.stderr
    assert "WF604" in got.stderr and why in got.stderr, got.stderr
    assert "\x1b" not in got.stderr and "\u202e" not in got.stderr
    assert "Traceback" not in got.stderr
    # Nothing was stored: --virtual-time keeps its runs in memory, and no
    # store file was even created.
    assert not (tmp_path / "wfdsl.db").exists()
    listed = cli(tmp_path, "runs", "list", "--json")
    assert listed.returncode == 4, listed.stdout
    assert json.loads(listed.stdout)["error"]["code"] == "no_store"


@pytest.mark.parametrize("raw", [b"\xff", b"\xed\xa0\x80", b"r\x80"], ids=["ff", "cesu", "r80"])
def test_the_cli_answers_an_id_that_is_not_utf8_with_no_such_run(
    tmp_path: Path, raw: bytes
) -> None:
    (tmp_path / "waiter.yaml").write_text(WAITER)
    with Engine(str(tmp_path / "wfdsl.db")) as engine:
        engine.submit(tmp_path / "waiter.yaml", run_id="real")
    for args in (["runs", "show", raw], ["signal", raw, "go"], ["cancel", raw]):
        got = cli(tmp_path, *args)
        assert got.returncode == 4, (args, got.returncode, got.stderr)
        assert "internal error" not in got.stderr and "Traceback" not in got.stderr


# ------------------------------------------------------------------ the designer


def test_the_designer_refuses_a_bad_run_id_with_422_wf604(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from wfdsl.designer.app import create_app
    from wfdsl.designer.security import csrf_for

    token, host = "run-ids-token-0123456789", "testserver"
    (tmp_path / "waiter.yaml").write_text(WAITER)
    with wfdsl.Engine(str(tmp_path / "wf.db")) as engine:
        app = create_app(tmp_path, engine=engine, token=token, allowed_hosts=[host], drive=False)
        with TestClient(app, base_url=f"http://{host}") as client:
            client.cookies.set("wfdsl_token", token)
            client.headers.update({"Origin": f"http://{host}", "X-CSRF-Token": csrf_for(token)})
            for bad in ("a/b", "ok\u202egnp", "a\x00b", "x" * 201):
                got = client.post("/api/runs", json={"file": "waiter.yaml", "run_id": bad})
                assert got.status_code == 422, got.text
                assert [f["code"] for f in got.json()["error"]["findings"]] == ["WF604"]
            good = client.post("/api/runs", json={"file": "waiter.yaml", "run_id": "הזמנה-17"})
            assert good.status_code == 201 and good.json()["run"]["id"] == "הזמנה-17"
            assert client.get("/api/runs/הזמנה-17").json()["run"]["id"] == "הזמנה-17"
        assert [r.id for r in engine.list_runs()] == ["הזמנה-17"]
