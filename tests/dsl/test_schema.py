"""The published JSON Schema (schemas/wfdsl-1.schema.json) against the
language reference (docs/reference.md).

Editors validate documents with this schema as the user types, and the
validator maps its errors to findings; so good documents must pass, each
mistake must produce one error at the JSON path of the offending node with a
keyword that says what is wrong, and every key must carry a hover text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = "wfdsl-1.schema.json"


def _load_schema() -> dict[str, Any]:
    resource = files("wfdsl.schemas") / SCHEMA_FILE
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


SCHEMA = _load_schema()
VALIDATOR = Draft202012Validator(SCHEMA)


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _errors(document: Any) -> list[tuple[str, str]]:
    return sorted((e.json_path, str(e.validator)) for e in VALIDATOR.iter_errors(document))


def _document(states: str, top: str = "") -> dict[str, Any]:
    """A minimal document around a `states` mapping given as block YAML (2-space indent)."""
    indented = "\n".join("  " + line for line in states.strip("\n").splitlines())
    head = f'wfdsl: "1"\nname: snippet\n{top.strip()}\n'
    loaded: dict[str, Any] = _yaml(head + "start: placeholder\nstates:\n" + indented + "\n")
    loaded["start"] = next(iter(loaded["states"]))
    return loaded


DATA_KEYWORDS = {"examples", "default", "const", "enum"}  # values, not subschemas


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    """Every subschema with its JSON pointer, skipping example and default values."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in DATA_KEYWORDS:
                yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


# ---- the schema itself ------------------------------------------------------------------------


def test_schema_ships_in_the_package_and_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "https://wfdsl.dev/schemas/wfdsl-1.schema.json"
    assert SCHEMA["title"] and SCHEMA["description"]
    # the source file and the packaged resource are the same bytes
    packaged = (files("wfdsl.schemas") / SCHEMA_FILE).read_bytes()
    assert packaged == (REPO / "schemas" / SCHEMA_FILE).read_bytes()


def test_every_ref_resolves_and_every_definition_is_used() -> None:
    refs = {node["$ref"] for _, node in _walk(SCHEMA) if isinstance(node, dict) and "$ref" in node}
    assert all(ref.startswith("#/$defs/") for ref in refs), refs
    used = {ref.removeprefix("#/$defs/") for ref in refs}
    assert used <= set(SCHEMA["$defs"]), used - set(SCHEMA["$defs"])
    assert set(SCHEMA["$defs"]) <= used, set(SCHEMA["$defs"]) - used


def _hover_text(subschema: Any) -> str:
    """What an editor shows on hover: the schema's description, else that of its $ref."""
    if not isinstance(subschema, dict):
        return ""
    if "description" in subschema:
        return str(subschema["description"])
    if "$ref" in subschema:
        return _hover_text(SCHEMA["$defs"][subschema["$ref"].removeprefix("#/$defs/")])
    return ""


def test_every_property_and_definition_has_a_description_for_hovers() -> None:
    missing = []
    for path, node in _walk(SCHEMA):
        if not isinstance(node, dict) or "/if/" in path:  # conditions are never shown
            continue
        children: dict[str, Any] = {}
        if path.endswith(("/properties", "/patternProperties", "/$defs")):
            children = node
        elif isinstance(node.get("additionalProperties"), dict):
            children = {"additionalProperties": node["additionalProperties"]}
        for name, child in children.items():
            if len(_hover_text(child)) < 10:
                missing.append(f"{path}/{name}")
    assert missing == []


def test_every_document_key_of_the_language_is_in_the_schema() -> None:
    assert set(SCHEMA["properties"]) == {
        "wfdsl",
        "name",
        "version",
        "description",
        "input",
        "output",
        "vars",
        "search",
        "signals",
        "handlers",
        "start",
        "states",
        "timeout",
        "defaults",
        "id_reuse",
        "schedule",
        "compensate_on_failure",
        "max_transitions",
        "imports",
    }
    assert SCHEMA["required"] == ["wfdsl", "name", "start", "states"]


OWN_KEYS = {
    "task": {"action", "args", "result", "retry", "timeout", "catch", "undo", "callback", "cache"},
    "choice": {"choices", "default", "end"},
    "wait": {"timer", "until", "signal", "as", "count", "any", "all", "at_least"},
    "parallel": {"branches", "join", "result", "catch", "retry"},
    "map": {"items", "as", "concurrency", "tolerated_failures", "do", "result", "catch", "retry"},
    "set": set(),
    "emit": {"signal", "data", "run"},
    "subflow": {"workflow", "input", "result", "wait", "catch", "retry", "parent_close"},
    "compensate": set(),
    "succeed": {"output"},
    "fail": {"error", "message", "compensate"},
}


@pytest.mark.parametrize("state_type", sorted(OWN_KEYS))
def test_each_state_type_allows_exactly_its_own_keys_and_the_common_ones(state_type: str) -> None:
    common = {"type", "description", "set"}
    if state_type not in {"choice", "succeed", "fail"}:
        common |= {"next", "end"}
    definition = SCHEMA["$defs"][f"{state_type}_state"]
    assert set(definition["properties"]) == OWN_KEYS[state_type] | common
    assert definition["additionalProperties"] is False
    assert set(definition["patternProperties"]) == {"^x-"}
    dispatch = SCHEMA["$defs"]["state"]["allOf"]
    assert {
        "if": {
            "type": "object",
            "properties": {"type": {"const": state_type}},
            "required": ["type"],
        },
        "then": {"$ref": f"#/$defs/{state_type}_state"},
    } in dispatch


# ---- good documents ---------------------------------------------------------------------------

COMPLETE_EXAMPLE = """
wfdsl: "1"
name: user-signup
version: 2
description: Verify a new account's e-mail; remind every day, give up after 3.
input:                      # JSON Schema of the run input, checked at submit
  type: object
  required: [email]
  properties:
    email: {type: string}
vars:                       # the run's data, persisted at every transition
  status: new
  reminders: 0
search:                     # indexed, queryable fields, recomputed per transition
  email: ${ input.email }
  status: ${ vars.status }
signals:
  verified: {schema: {type: object, properties: {source: {type: string}}}}
handlers:                   # synchronous, atomic calls from outside (iWF "RPC")
  verify:
    when: ${ vars.status != 'verified' }
    set: {status: verified}
    emit: {signal: verified, data: "${ args }"}
    return: ${ 'ok' }
start: send_verification
states:
  send_verification:
    type: task
    action: email.send
    args: {to: "${ input.email }", template: verify}
    retry: {max_attempts: 5, initial_interval: 2s, backoff: 2}
    set: {status: waiting}
    next: wait_for_click
  wait_for_click:
    type: wait
    any:
      - signal: verified
        as: verification
        next: welcome
      - timer: 1d
        next: remind
  remind:
    type: task
    action: email.send
    args: {to: "${ input.email }", template: reminder}
    set: {reminders: "${ vars.reminders + 1 }"}
    next: too_many
  too_many:
    type: choice
    choices:
      - when: ${ vars.reminders >= 3 }
        next: give_up
    default: wait_for_click
  welcome:
    type: task
    action: email.send
    args: {to: "${ input.email }", template: welcome}
    end: true
  give_up:
    type: fail
    error: NotVerified
    message: "no click after ${ vars.reminders } reminders"
"""

# A YAML snippet of each state type, as the language reference shows them
# (docs/reference.md §2).
SECTION_2_SNIPPETS = {
    "task": """
charge:
  type: task
  action: payments.charge          # a registered action (§12) or a built-in
  args: {order: "${ input.order_id }", amount: "${ vars.total }"}
  result: payment                  # var path that receives the action's return value
  timeout: 30s                     # one attempt
  retry: {max_attempts: 5, initial_interval: 1s, backoff: 2, max_interval: 1m,
          max_duration: 10m, jitter: 0.1, non_retryable: [CardDeclined]}
  catch:
    - errors: [CardDeclined]       # error names; "*" matches all
      as: failure                  # var path receiving {error, message, attempts, state}
      next: refund
  undo: {action: payments.refund, args: {payment: "${ vars.payment.id }"}}
  next: ship
""",
    "choice": """
route:
  type: choice
  choices:
    - when: ${ vars.total > 1000 }
      next: manual_review
    - when: ${ input.country in ['DE', 'FR'] }
      next: eu_path
  default: standard           # required unless the checker proves a choice always holds
""",
    "wait": """
nap:      {type: wait, timer: 10m, next: go}                 # duration from entering
deadline: {type: wait, until: "${ input.ship_by }", next: go}  # an ISO 8601 timestamp
ready:    {type: wait, signal: ready, as: ready_msg, count: 3, next: go}
either:
  type: wait
  any:                         # first alternative to complete wins; others are dropped
    - signal: approved
      as: approval
      next: process            # optional per alternative, else the state's next
    - timer: 24h
      next: expire
both:
  type: wait
  all: [{signal: a, as: a}, {signal: b, as: b}]              # all must complete
  next: go
""",
    "wait-nesting": """
nested:
  type: wait
  any: [{all: [{signal: a}, {signal: b}]}, {timer: 1d}]
  next: go
quorum:
  type: wait
  at_least: {count: 2, of: [{signal: a}, {signal: b}, {signal: c}]}
  next: go
""",
    "parallel": """
fan_out:
  type: parallel
  join: all                    # all (default) | any | {count: 2}
  branches:
    notify:
      start: email
      states:
        email: {type: task, action: email.send, args: {...}, end: true}
    approve:
      start: wait_ok
      states:
        wait_ok: {type: wait, signal: ok, as: ok, next: done}
        done: {type: succeed, output: "${ vars.ok }"}
  result: outcome              # {notify: <branch output>, approve: <branch output>}
  next: after
""",
    "map": """
charge_lines:
  type: map
  items: ${ input.lines }
  as: line                     # each iteration sees `line` and `index`
  concurrency: 4               # default 1
  do: {start: charge, states: {charge: {type: task, action: pay, args: {amount: "${ line.price }"}, result: r, next: out}, out: {type: succeed, output: "${ vars.r }"}}}
  result: receipts             # list of iteration outputs, in item order
  next: after
""",
    "emit-subflow-compensate-succeed-fail": """
tell_parent: {type: emit, signal: child_done, run: "${ input.parent_run }", data: "${ vars.summary }", next: fin}
child:       {type: subflow, workflow: examples/refund.yaml, input: {order: "${ input.order_id }"}, result: refund, next: fin}
undo_all:    {type: compensate, next: notify_failure}
fin:         {type: succeed, output: "${ vars.summary }"}
broken:      {type: fail, error: PaymentFailed, message: "card ${ vars.card } declined", compensate: true}
""",
}


def test_the_complete_example_of_the_language_reference_is_valid() -> None:
    assert _errors(_yaml(COMPLETE_EXAMPLE)) == []


@pytest.mark.parametrize("snippet", SECTION_2_SNIPPETS.values(), ids=SECTION_2_SNIPPETS.keys())
def test_every_state_snippet_of_the_language_reference_is_valid(snippet: str) -> None:
    assert _errors(_document(snippet)) == []


def test_the_shipped_examples_are_valid_and_point_editors_at_this_schema() -> None:
    examples = sorted((REPO / "examples").glob("*.yaml"))
    assert examples, "examples/ holds no workflow"
    for example in examples:
        text = example.read_text(encoding="utf-8")
        assert _errors(_yaml(text)) == [], example.name
        modeline = re.match(r"# yaml-language-server: \$schema=(\S+)", text)
        if modeline:
            target = (example.parent / modeline.group(1)).resolve()
            assert target == (REPO / "schemas" / SCHEMA_FILE).resolve(), example.name


EVERY_FEATURE = """
wfdsl: "1"
name: every.feature_1
version: "2024-06"
x-designer: {positions: {a: [0, 0]}}
x-owner: payments-team
output: ${ vars.done }
input: true
vars: {total: "${ input.total }", lines: [1, 2]}
search: {total: "${ vars.total }"}
signals:
  bare:
  typed: {schema: {type: object}, description: a typed channel, x-note: 1}
handlers:
  bump:
    x-ui: {button: true}
    when: true
    set: {total: "${ vars.total + args.n }"}
    emit: {signal: bare, data: "${ args }", run: "${ run.id }", x-trace: on}
    return: ${ vars.total }
    input: {type: object, properties: {n: {type: integer}}}
    description: adds n to the total
  peek:
    return: ${ vars }
timeout: 1h30m
defaults: {timeout: 90, retry: {max_attempts: unlimited, max_duration: PT1H}, x-why: generous}
id_reuse: terminate_if_running
schedule: {cron: "*/5 * * * *", timezone: Europe/Berlin, overlap: buffer_one, x-paused: false}
compensate_on_failure: true
imports: [myapp.actions, helpers]
start: call
states:
  call:
    type: task
    x-designer: {x: 10, y: 20}
    description: calls the API
    action: http
    args: ${ vars.request }
    result: response.body
    timeout: ${ vars.limit }
    retry:
      - {errors: [Timeout, HttpError], max_attempts: 5, backoff: 1.5, jitter: 1, x-n: 1}
      - {errors: [Throttled], max_attempts: 9, jitter: full}
      - {errors: "*", max_attempts: 1, retry_on: [Boom], non_retryable: []}
    catch:
      - {errors: "*", as: failure, next: undo_all, description: anything, x-n: 2}
    undo: {action: api.delete, args: {id: "${ vars.response.body.id }"}, x-n: 3}
    set: {"a.b": 1}
    next: route
  route:
    type: choice
    choices:
      - {when: "${ vars.total > 3 }", next: fan, description: big, x-color: red}
    default: loop
  fan:
    type: parallel
    join: {count: 1, x-n: 4}
    branches:
      left:
        x-collapsed: true
        description: the left branch
        start: l1
        states:
          l1: {type: wait, signal: bare, count: 2, as: msgs, next: l2}
          l2: {type: succeed}
      right:
        start: r1
        states:
          r1: {type: emit, signal: bare, end: true}
    result: joined
    catch: [{errors: [Cancelled], next: undo_all}]
    next: loop
  loop:
    type: map
    items: ${ vars.lines }
    as: line
    concurrency: 2
    do:
      x-layout: lr
      start: step
      states:
        step: {type: subflow, workflow: child, input: "${ line }", wait: false, result: child_id, end: true}
    result: children
    next: pause
  pause:
    type: wait
    x-designer: {x: 1}
    any:
      - {timer: 0.5, next: mark, x-note: quick}
      - all: [{until: "2030-01-31T17:00:00Z"}, {signal: bare}]
        description: both of them
      - at_least: {count: 1, of: [{timer: 1s}], x-n: 5}
    next: mark
  mark: {type: set, set: {done: true}, next: undo_all}
  undo_all: {type: compensate, next: finish}
  finish: {type: succeed, output: "${ vars.total }", set: {finished: true}}
  oops: {type: fail, error: Boom, message: "total ${ vars.total }", compensate: false}
"""


def test_a_document_using_every_key_and_x_keys_everywhere_is_valid() -> None:
    assert _errors(_yaml(EVERY_FEATURE)) == []


def test_durations_are_only_type_checked_so_the_validator_can_explain_bad_ones() -> None:
    for duration in ("10 minutes", "-5s", "${ vars.delay }", -1, 1.5):
        document = _document(f"nap: {{type: wait, timer: {json.dumps(duration)}, next: b}}")
        assert _errors(document) == [], duration
    document = _document("nap: {type: wait, timer: [10s], next: b}")
    assert _errors(document) == [("$.states.nap.timer", "type")]


def test_targets_and_var_paths_are_left_to_the_validator() -> None:
    # unknown targets get "did you mean" and bad var paths get WF212 from the validator;
    # the schema reporting them too would double every such finding
    document = _document("a: {type: task, action: noop, result: 'payment..id', next: '9 nowhere'}")
    assert _errors(document) == []


# ---- bad documents ----------------------------------------------------------------------------

OK_STATE = "done: {type: succeed}"
BAD = [
    pytest.param(
        _document(OK_STATE, "retries: 3\nx-tool: fine"),
        "$",
        "additionalProperties",
        id="unknown-document-key",
    ),
    pytest.param(
        _document("a: {type: task, action: noop, argz: {}, x-ok: 1, end: true}"),
        "$.states.a",
        "additionalProperties",
        id="unknown-task-key",
    ),
    pytest.param(
        _document("a: {type: set, undo: {action: x}, next: b}"),
        "$.states.a",
        "additionalProperties",
        id="undo-on-set-state",
    ),
    pytest.param(_document(OK_STATE) | {"wfdsl": "2"}, "$.wfdsl", "const", id="wfdsl-version-2"),
    pytest.param(
        _document(OK_STATE) | {"wfdsl": 1}, "$.wfdsl", "const", id="wfdsl-version-unquoted"
    ),
    pytest.param(
        _document(OK_STATE) | {"name": "User Signup"},
        "$.name",
        "pattern",
        id="name-with-capitals-and-space",
    ),
    pytest.param(
        _document(OK_STATE) | {"name": "a" * 101}, "$.name", "maxLength", id="name-too-long"
    ),
    pytest.param(
        _document("9lives: {type: succeed}"),
        "$.states",
        "pattern",
        id="state-name-starts-with-digit",
    ),
    pytest.param(
        _document("a: {type: sleep, next: b}"), "$.states.a.type", "enum", id="unknown-state-type"
    ),
    pytest.param(_document("a: {next: b}"), "$.states.a", "required", id="state-without-type"),
    pytest.param(
        _document("a: {type: succeed, next: b}"),
        "$.states.a",
        "additionalProperties",
        id="next-on-succeed",
    ),
    pytest.param(
        _document("a: {type: fail, error: E, end: true}"),
        "$.states.a",
        "additionalProperties",
        id="end-on-fail",
    ),
    pytest.param(
        _document("a: {type: choice, choices: [{when: true, next: b}], next: b}"),
        "$.states.a",
        "additionalProperties",
        id="next-on-choice",
    ),
    pytest.param(
        _document("a: {type: task, end: true}"), "$.states.a", "required", id="task-without-action"
    ),
    pytest.param(
        _document("a: {type: task, action: x, end: yes}"),
        "$.states.a.end",
        "type",
        id="end-yes-is-a-string",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: [{max_attempts: 2}], end: true}"),
        "$.states.a.retry[0]",
        "required",
        id="retry-list-entry-without-errors",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: {jitter: 1.5}, end: true}"),
        "$.states.a.retry.jitter",
        "maximum",
        id="jitter-above-one",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: {backoff: 0.5}, end: true}"),
        "$.states.a.retry.backoff",
        "minimum",
        id="backoff-below-one",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: {max_attempts: five}, end: true}"),
        "$.states.a.retry.max_attempts",
        "pattern",
        id="max-attempts-a-word",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: {max_attempts: 0}, end: true}"),
        "$.states.a.retry.max_attempts",
        "minimum",
        id="max-attempts-zero",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: {jitter: half}, end: true}"),
        "$.states.a.retry.jitter",
        "pattern",
        id="jitter-unknown-mode",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: {errors: '*'}, end: true}"),
        "$.states.a.retry",
        "additionalProperties",
        id="errors-on-a-single-policy",
    ),
    pytest.param(
        _document("a: {type: task, action: x, retry: 3, end: true}"),
        "$.states.a.retry",
        "type",
        id="retry-a-number",
    ),
    pytest.param(
        _document("a: {type: task, action: x, catch: [{errors: [E]}], end: true}"),
        "$.states.a.catch[0]",
        "required",
        id="catch-without-next",
    ),
    pytest.param(
        _document("a: {type: task, action: x, catch: [{errors: all, next: b}], end: true}"),
        "$.states.a.catch[0].errors",
        "const",
        id="catch-errors-a-word-not-star",
    ),
    pytest.param(
        _document(
            "a: {type: task, action: x, catch: [{errors: [E], next: b, retry: 1}], end: true}"
        ),
        "$.states.a.catch[0]",
        "additionalProperties",
        id="catch-entry-unknown-key",
    ),
    pytest.param(
        _document("a: {type: task, action: x, undo: {args: {}}, end: true}"),
        "$.states.a.undo",
        "required",
        id="undo-without-action",
    ),
    pytest.param(
        _document(
            "a: {type: parallel, join: {count: 1.5}, branches: {b: {start: s, "
            "states: {s: {type: succeed}}}}, end: true}"
        ),
        "$.states.a.join.count",
        "type",
        id="join-count-not-an-int",
    ),
    pytest.param(
        _document(
            "a: {type: parallel, join: most, branches: {b: {start: s, "
            "states: {s: {type: succeed}}}}, end: true}"
        ),
        "$.states.a.join",
        "enum",
        id="join-word-unknown",
    ),
    pytest.param(
        _document("a: {type: parallel, branches: {b: {states: {s: {type: succeed}}}}, end: true}"),
        "$.states.a.branches.b",
        "required",
        id="branch-without-start",
    ),
    pytest.param(
        _document(
            "a: {type: parallel, branches: {b: {start: s, states: {s: "
            "{type: succeed, then: x}}}}, end: true}"
        ),
        "$.states.a.branches.b.states.s",
        "additionalProperties",
        id="unknown-key-in-a-branch-state",
    ),
    pytest.param(
        _document(
            "a: {type: map, items: [], do: {start: s, states: {s: "
            "{type: succeed}}}, concurrency: 0, end: true}"
        ),
        "$.states.a.concurrency",
        "minimum",
        id="map-concurrency-zero",
    ),
    pytest.param(
        _document("a: {type: wait, timer: 10m, signal: go, next: b}"),
        "$.states.a",
        "oneOf",
        id="wait-with-two-kinds",
    ),
    pytest.param(
        _document("a: {type: wait, next: b}"), "$.states.a", "oneOf", id="wait-with-no-kind"
    ),
    pytest.param(
        _document("a: {type: wait, any: [{timer: 1s, until: x}], next: b}"),
        "$.states.a.any[0]",
        "oneOf",
        id="alternative-with-two-kinds",
    ),
    pytest.param(
        _document("a: {type: wait, timer: 1s, as: t, next: b}"),
        "$.states.a",
        "dependentRequired",
        id="as-without-signal",
    ),
    pytest.param(
        _document("a: {type: wait, at_least: {count: 2}, next: b}"),
        "$.states.a.at_least",
        "required",
        id="at-least-without-of",
    ),
    pytest.param(
        _document("a: {type: wait, any: [], next: b}"), "$.states.a.any", "minItems", id="any-empty"
    ),
    pytest.param(
        _document("a: {type: wait, any: [{signal: s, goto: b}], next: b}"),
        "$.states.a.any[0]",
        "additionalProperties",
        id="alternative-unknown-key",
    ),
    pytest.param(
        _document("a: {type: wait, signal: s, count: 0, next: b}"),
        "$.states.a.count",
        "minimum",
        id="signal-count-zero",
    ),
    pytest.param(
        _document("a: {type: emit, data: 1, next: b}"),
        "$.states.a",
        "required",
        id="emit-without-signal",
    ),
    pytest.param(
        _document("a: {type: subflow, workflow: c.yaml, wait: later, next: b}"),
        "$.states.a.wait",
        "type",
        id="subflow-wait-not-bool",
    ),
    pytest.param(
        _document("a: {type: fail, message: boom}"),
        "$.states.a",
        "required",
        id="fail-without-error",
    ),
    pytest.param(
        _document(OK_STATE, "id_reuse: allow_if_not_running"),
        "$.id_reuse",
        "enum",
        id="id-reuse-typo",
    ),
    pytest.param(
        _document(OK_STATE, "schedule: {cron: '* * * * *', overlap: never}"),
        "$.schedule.overlap",
        "enum",
        id="overlap-typo",
    ),
    pytest.param(
        _document(OK_STATE, "schedule: {timezone: UTC}"),
        "$.schedule",
        "required",
        id="schedule-without-cron",
    ),
    pytest.param(
        _document(OK_STATE, "handlers: {approve: {guard: true, x-ok: 1}}"),
        "$.handlers.approve",
        "additionalProperties",
        id="handler-unknown-key",
    ),
    pytest.param(
        _document(OK_STATE, "handlers: {approve: {emit: {data: 1}}}"),
        "$.handlers.approve.emit",
        "required",
        id="handler-emit-without-signal",
    ),
    pytest.param(
        _document(OK_STATE, "signals: {ok: {shape: {}}}"),
        "$.signals.ok",
        "additionalProperties",
        id="signal-declaration-unknown-key",
    ),
    pytest.param(
        _document(OK_STATE, "defaults: {retries: 3}"),
        "$.defaults",
        "additionalProperties",
        id="defaults-unknown-key",
    ),
    pytest.param(
        _document(OK_STATE, "search: {'has space': '${ 1 }'}"),
        "$.search",
        "pattern",
        id="search-name-not-an-identifier",
    ),
    pytest.param(
        _document(OK_STATE, "imports: ['my-actions']"),
        "$.imports[0]",
        "pattern",
        id="import-not-a-module-name",
    ),
    pytest.param(
        _document(OK_STATE, "input: [type, object]"), "$.input", "type", id="input-schema-a-list"
    ),
    pytest.param(
        _document(OK_STATE, "compensate_on_failure: sometimes"),
        "$.compensate_on_failure",
        "type",
        id="compensate-on-failure-not-bool",
    ),
    pytest.param(_document(OK_STATE) | {"states": {}}, "$.states", "minProperties", id="no-states"),
]


@pytest.mark.parametrize(("document", "path", "keyword"), BAD)
def test_each_mistake_is_one_error_at_the_offending_node(
    document: dict[str, Any], path: str, keyword: str
) -> None:
    assert _errors(document) == [(path, keyword)]


def _unexpected_keys(error: ValidationError) -> list[str]:
    """What a finding for an additionalProperties error names: the keys, x-* excluded."""
    allowed = set(error.schema.get("properties", {}))
    return [key for key in error.instance if key not in allowed and not key.startswith("x-")]


@pytest.mark.parametrize(
    ("document", "path", "keys"),
    [
        pytest.param(_document(OK_STATE, "retries: 3\nx-tool: 1"), "$", ["retries"], id="document"),
        pytest.param(
            _document("a: {type: task, action: x, argz: {}, x-designer: {}, end: true}"),
            "$.states.a",
            ["argz"],
            id="task",
        ),
        pytest.param(
            _document("a: {type: succeed, next: b, end: true, x-n: 1}"),
            "$.states.a",
            ["next", "end"],
            id="succeed",
        ),
    ],
)
def test_unknown_key_errors_name_the_keys_and_never_an_x_key(
    document: dict[str, Any], path: str, keys: list[str]
) -> None:
    (error,) = VALIDATOR.iter_errors(document)
    assert (error.json_path, error.validator) == (path, "additionalProperties")
    assert _unexpected_keys(error) == keys


def test_a_bad_state_type_is_reported_once_not_once_per_type() -> None:
    document = _document(
        "a: 5\nb: {type: parallel, branches: {x: {start: s, states: {s: 7}}}, end: true}"
    )
    assert _errors(document) == [("$.states.a", "type"), ("$.states.b.branches.x.states.s", "type")]


def test_wait_kind_errors_tell_none_from_too_many() -> None:
    # the validator words "needs one of" and "cannot combine" from the oneOf's context
    (none,) = VALIDATOR.iter_errors(_document("a: {type: wait, next: b}"))
    (both,) = VALIDATOR.iter_errors(_document("a: {type: wait, timer: 1s, signal: s, next: b}"))
    assert len(none.context or []) == 6  # one `required` error per kind
    assert both.context == []  # valid under two branches, so no sub-errors
    assert {branch["required"][0] for branch in both.validator_value} == {
        "timer",
        "until",
        "signal",
        "any",
        "all",
        "at_least",
    }
