"""`wfdsl test` on small test files: what passes, what must fail (with its
diff and history), mocks, the timeline, exit codes, -k, --json, --junit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from wfdsl.testing import load_test_file, run_case

from wfdsl.cli import cli

WriteTest = Callable[[str], Path]

HAPPY = """\
cases:
  - name: happy
    input: {x: 1}
    mocks:
      - {action: svc.do, return: {ok: true}}
    timeline:
      - {at: 2h, signal: go, data: {by: ann}}
    expect:
      status: completed
      output: {r: {ok: true}, go: {by: ann}}
      states: [call, wait, done]
      calls:
        - {action: svc.do, args: {x: 1}, key: test/call/1, attempt: 1}
      search: {pokes: 0}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["test", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_case_whose_expectations_hold_passes(write_test: WriteTest) -> None:
    code, out = invoke(str(write_test(HAPPY)))
    assert code == 0, out
    assert "PASS happy" in out
    assert "1 passed, 0 failed" in out


def test_a_case_that_must_fail_fails_with_a_diff_and_the_history_around_it(
    write_test: WriteTest,
) -> None:
    path = write_test(
        HAPPY.replace("output: {r: {ok: true}, go: {by: ann}}", "output: {r: {ok: false}}")
        .replace("states: [call, wait, done]", "states: [call, done]")
        .replace("key: test/call/1", "key: test/call/2")
    )
    code, out = invoke(str(path))
    assert code == 1, out
    assert "FAIL happy" in out
    assert "0 passed, 1 failed" in out
    # the output: a unified diff, expected (-) against actual (+)
    assert "output: the output differs" in out
    assert '-    "ok": false' in out and '+    "ok": true' in out
    # the states: where they diverged, and the history there
    assert "states: state 2 is 'wait', expected 'done'" in out
    assert "history around seq" in out
    assert "> " in out and "state_entered" in out and "wait" in out
    # the call with the wrong idempotency key is not found
    assert "calls[0]: no call matching item 1 was found" in out


def test_an_unmocked_action_fails_the_case_naming_it_and_calls_nothing(
    write_test: WriteTest,
) -> None:
    path = write_test(
        """\
cases:
  - name: nothing mocked
    input: {x: 1}
    expect: {status: failed}
"""
    )
    tf = load_test_file(path)
    result = run_case(tf, tf.cases[0])
    assert not result.passed
    messages = [f.message for f in result.failures if f.what == "mocks"]
    # every attempt of the retry policy is an unmocked call, each named
    assert len(messages) == 3
    assert "action 'svc.do' of state 'call' (attempt 1) is not mocked" in messages[0]
    assert result.run is not None and result.run.error is not None
    assert result.run.error["error"] == "UnmockedAction"


def test_http_must_be_mocked_and_log_runs_for_real(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(
        """\
wfdsl: "1"
name: web
start: say
states:
  say: {type: task, action: log, args: {message: hello}, next: get}
  get: {type: task, action: http, args: {method: GET, url: "http://192.0.2.1/x"}, end: true}
""",
        encoding="utf-8",
    )
    path = tmp_path / "web.test.yaml"
    path.write_text(
        'wfdsl-test: "1"\nflow: web.yaml\ncases:\n  - name: unmocked http\n'
        "    expect: {status: failed, calls: [{action: log, args: {message: hello}}]}\n",
        encoding="utf-8",
    )
    tf = load_test_file(path)
    result = run_case(tf, tf.cases[0])
    assert [f.what for f in result.failures] == ["mocks"]
    assert "'http'" in result.failures[0].message
    # log ran for real and completed; http never started a connection
    assert [e.type for e in result.history if e.state == "say"][-1] == "action_completed"


def test_mocks_by_attempt_then_the_last_repeats_and_a_catch_is_taken(
    write_test: WriteTest,
) -> None:
    path = write_test(
        """\
cases:
  - name: flaky then fine
    input: {x: 1}
    mocks:
      - action: svc.do
        attempts:
          - {raise: {error: Flaky, message: once}, duration: 10s}
          - {return: {ok: 2}}
    timeline:
      - {at: 1h, signal: go, data: {}}
    expect:
      status: completed
      call_counts: {svc.do: 2}
      output_includes: {r: {ok: 2}}
  - name: a named error is caught
    input: {x: 1}
    mocks:
      - {state: call, raise: {error: Boom, message: it broke}}
    expect:
      status: failed
      error: {name: Broken, message: it broke}
      states: [call, broken]
      call_counts: {svc.do: 3}
"""
    )
    code, out = invoke(str(path))
    assert code == 0, out


def test_handlers_in_the_timeline_check_their_answer_and_rejections(
    write_test: WriteTest,
) -> None:
    path = write_test(
        """\
cases:
  - name: poke twice
    input: {x: 1}
    mocks: [{action: svc.do, return: 1}]
    timeline:
      - {at: 1h, call: poke, returns: poked}
      - {at: 2h, call: poke, returns: poked}
      - {at: 3h, signal: go, data: {}}
    expect: {status: completed, search: {pokes: 1}}
"""
    )
    code, out = invoke(str(path))
    assert code == 1
    assert "timeline[1]: handler 'poke' at 2h (line 9) was rejected" in out
    fixed = path.read_text().replace(
        "{at: 2h, call: poke, returns: poked}", "{at: 2h, call: poke, rejected: true}"
    )
    path.write_text(fixed)
    code, out = invoke(str(path))
    assert code == 0, out


@pytest.mark.parametrize(
    ("timeline", "status"),
    [
        pytest.param("[{at: 1h, cancel: true}]", "cancelled", id="cancel"),
        pytest.param("[{at: 1h, pause: true}]", "paused", id="pause"),
        pytest.param(
            "[{at: 1h, pause: true}, {at: 2h, resume: true}, {at: 3h, signal: go, data: {}}]",
            "completed",
            id="pause-resume",
        ),
        pytest.param("[]", "failed", id="the timer after a day"),
    ],
)
def test_the_timeline_controls_the_run(write_test: WriteTest, timeline: str, status: str) -> None:
    path = write_test(
        f"""\
cases:
  - name: controlled
    input: {{x: 1}}
    mocks: [{{action: svc.do, return: 1}}]
    timeline: {timeline}
    expect: {{status: {status}}}
"""
    )
    code, out = invoke(str(path))
    assert code == 0, out


def test_a_month_long_wait_takes_no_real_time(write_test: WriteTest) -> None:
    path = write_test(
        """\
cases:
  - name: a signal on day 30 is too late
    input: {x: 1}
    mocks: [{action: svc.do, return: 1}]
    timeline:
      - {at: 30d, signal: go}
    expect: {status: failed, error: Late}
"""
    )
    tf = load_test_file(path)
    result = run_case(tf, tf.cases[0])
    # the signal came after the run had failed at the one-day timer
    assert [f.what for f in result.failures] == ["timeline[0]"]
    assert "failed" in result.failures[0].message
    assert result.seconds_virtual == 86400


def test_an_invalid_test_file_exits_2_with_line_and_column(write_test: WriteTest) -> None:
    path = write_test(
        """\
cases:
  - name: typo
    mocks:
      - {state: cal, return: 1}
    timeline:
      - {at: soon, signal: go}
"""
    )
    code, out = invoke(str(path))
    assert code == 2
    assert (
        f"{path}:6:17: error[WT202]: the flow 'tiny' has no state 'cal'; did you mean 'call'?"
        in out
    )
    assert f"{path}:8:14: error[WT102]:" in out
    assert "1 invalid file" in out


def test_a_schema_violation_is_reported_where_it_is(write_test: WriteTest) -> None:
    path = write_test("cases:\n  - name: x\n    expect: {stauts: completed}\n")
    code, out = invoke(str(path))
    assert code == 2
    assert f"{path}:5:13: error[WT101]:" in out and "'stauts' was unexpected" in out


def test_an_invalid_flow_exits_2_with_its_own_findings(
    write_test: WriteTest, tmp_path: Path
) -> None:
    (tmp_path / "tiny.yaml").write_text(
        'wfdsl: "1"\nname: tiny\nstart: a\nstates:\n  a: {type: task, action: x, next: nowhere}\n'
    )
    code, out = invoke(str(write_test("cases: [{name: x}]\n")))
    assert code == 2
    assert "error[WT201]: flow" in out
    assert "tiny.yaml:5:" in out and "nowhere" in out


def test_k_selects_cases_and_nothing_selected_is_a_usage_error(write_test: WriteTest) -> None:
    path = write_test(HAPPY + HAPPY.replace("cases:\n", "").replace("name: happy", "name: sad"))
    code, out = invoke(str(path), "-k", "sad")
    assert code == 0 and "PASS sad" in out and "happy" not in out
    code, out = invoke(str(path), "-k", "not sad and happy")
    assert code == 0 and "PASS happy" in out and "sad" not in out
    code, _ = invoke(str(path), "-k", "nothing-like-this")
    assert code == 2


def test_no_test_file_under_the_paths_is_a_usage_error(tmp_path: Path) -> None:
    code, _ = invoke(str(tmp_path))
    assert code == 2


def test_json_is_one_document_and_junit_lists_every_case(
    write_test: WriteTest, tmp_path: Path
) -> None:
    path = write_test(
        HAPPY
        + HAPPY.replace("cases:\n", "")
        .replace("status: completed", "status: failed")
        .replace("name: happy", "name: wrong")
    )
    junit = tmp_path / "report.xml"
    code, out = invoke(str(path), "--json", "--junit", str(junit))
    assert code == 1
    document = json.loads(out)
    assert (document["passed"], document["failed"]) == (1, 1)
    wrong = document["files"][0]["cases"][1]
    assert wrong["case"] == "wrong" and wrong["failures"][0]["what"] == "status"
    assert document["coverage"][0]["edges"]["total"] > 0
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find("testcase[@name='wrong']/failure")
    assert failure is not None and "status" in (failure.text or "")


def test_the_published_schema_is_valid_and_every_example_test_file_meets_it() -> None:
    from jsonschema import Draft202012Validator
    from wfdsl.testing.format import schema

    Draft202012Validator.check_schema(schema())
    validator = Draft202012Validator(schema())
    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "examples" / "tests").glob("*.test.yaml"))
    assert files
    import yaml

    for path in files:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path


def test_a_flow_that_loops_for_ever_ends_the_case_at_its_horizon(tmp_path: Path) -> None:
    (tmp_path / "poll.yaml").write_text(
        'wfdsl: "1"\nname: poll\nstart: nap\nstates:\n'
        "  nap: {type: wait, timer: 1h, next: look}\n"
        "  look: {type: task, action: svc.look, result: ready, next: ready}\n"
        "  ready: {type: choice, choices: [{when: '${ vars.ready }', next: fin}], default: nap}\n"
        "  fin: {type: succeed}\n"
    )
    (tmp_path / "poll.test.yaml").write_text(
        'wfdsl-test: "1"\nflow: poll.yaml\ncases:\n'
        "  - name: a day of polling\n    until: 1d\n"
        "    mocks: [{action: svc.look, return: null}]\n"
        "    expect: {status: waiting, entered: {look: 24}}\n"
    )
    code, out = invoke(str(tmp_path))
    assert code == 0, out


def test_a_mocked_error_carries_details_a_catch_can_test_and_the_case_can_expect(
    tmp_path: Path,
) -> None:
    (tmp_path / "fetch.yaml").write_text(
        """\
wfdsl: "1"
name: fetch
start: get
states:
  get:
    type: task
    action: http
    args: {url: "https://api.test/u/1"}
    catch:
      - {errors: [HttpError], when: "${ error.details.status == 404 }", next: missing}
    end: true
  missing: {type: fail, error: "${ 'NoUser' }", message: gone}
""",
        encoding="utf-8",
    )
    path = tmp_path / "fetch.test.yaml"

    def case(status: int, expect: str) -> str:
        return (
            f"  - name: status {status}\n"
            f"    mocks: [{{action: http, raise: {{error: HttpError, message: 'HTTP {status}', "
            f"details: {{status: {status}}}}}}}]\n"
            f"    expect: {{status: failed, error: {expect}}}\n"
        )

    path.write_text(
        'wfdsl-test: "1"\nflow: fetch.yaml\ncases:\n'
        + case(404, "NoUser")
        + case(503, "{name: HttpError, details: {status: 503}}")
        + case(500, "{name: HttpError, details: {status: 503}}"),
        encoding="utf-8",
    )
    tf = load_test_file(path)
    results = [run_case(tf, c) for c in tf.cases]
    assert [list(r.failures) for r in results[:2]] == [[], []]
    (failure,) = results[2].failures
    assert failure.what == "error" and failure.actual["details"] == {"status": 500}
