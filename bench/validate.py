"""How long validation takes on a 1,000-state document, stage by stage.

Not a test: it prints figures. Run ``python bench/validate.py [--states N]
[--repeat R]``. Each stage is timed on its own over R repeats (the median is
printed), next to raw baselines measured in the same run on the same data, so
a slower machine moves both: ruamel's round-trip load of the same text, and
``json.loads`` of the same data. The target is the whole pipeline under 0.5 s.
Also prints the cost of evaluating a few typical expressions, in µs.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from wfdsl.dsl.checks import CheckContext, run_checks
from wfdsl.dsl.compiler import compile_document
from wfdsl.dsl.expressions import compile_value, parse_expression
from wfdsl.dsl.loader import parse_document
from wfdsl.dsl.model import iter_states
from wfdsl.dsl.schema_check import check_embedded_schemas, check_schema

TARGET_SECONDS = 0.5


def block(i: int, last: bool) -> dict[str, Any]:
    """Fourteen states of a realistic mix (ten at the top, two in a parallel's
    branches, two in a map body); block ``i`` goes on to block ``i + 1``."""
    nxt = "done" if last else f"fetch_{i + 1}"
    return {
        f"fetch_{i}": {
            "type": "task",
            "action": "http",
            "args": {
                "method": "GET",
                "url": f"https://api.example.com/items/${{ vars.cursor }}?b={i}",
                "headers": {"x-run": "${ run.id }"},
            },
            "result": f"page_{i}",
            "timeout": "30s",
            "retry": {
                "max_attempts": 5,
                "initial_interval": "1s",
                "backoff": 2,
                "non_retryable": ["HttpError"],
            },
            "catch": [{"errors": ["HttpError"], "as": "failure", "next": f"record_{i}"}],
            "set": {"cursor": "${ result.json.next if result.json else vars.cursor }"},
            "next": f"route_{i}",
        },
        f"route_{i}": {
            "type": "choice",
            "choices": [
                {
                    "when": f"${{ vars.total > {1000 + i} and input.country in ['DE', 'FR'] }}",
                    "next": f"review_{i}",
                },
                {"when": "${ len(vars.items) == 0 }", "next": f"record_{i}"},
            ],
            "default": f"tally_{i}",
        },
        f"review_{i}": {
            "type": "wait",
            "any": [
                {"signal": "approved", "as": "approval", "next": f"tally_{i}"},
                {"timer": "1d", "next": f"record_{i}"},
            ],
        },
        f"tally_{i}": {
            "type": "set",
            "set": {
                "total": "${ vars.total + 1 }",
                "summary.last": f"block {i}: ${{ upper(str(vars.total)) }}",
            },
            "next": f"record_{i}",
        },
        f"record_{i}": {
            "type": "task",
            "action": "db.save",
            "args": {"total": "${ vars.total }", "items": "${ sorted(unique(vars.items)) }"},
            "undo": {"action": "db.delete", "args": {"key": f"k{i}"}},
            "next": f"notify_{i}",
        },
        f"notify_{i}": {
            "type": "emit",
            "signal": "progress",
            "data": {"block": i, "total": "${ vars.total }"},
            "next": f"pause_{i}",
        },
        f"pause_{i}": {"type": "wait", "timer": "5m", "next": f"fan_{i}"},
        f"fan_{i}": {
            "type": "parallel",
            "branches": {
                "left": {
                    "start": "l",
                    "states": {
                        "l": {
                            "type": "task",
                            "action": "log",
                            "args": {"message": "${ vars.total }"},
                            "end": True,
                        }
                    },
                },
                "right": {
                    "start": "r",
                    "states": {"r": {"type": "succeed", "output": "${ vars.cursor }"}},
                },
            },
            "result": f"fan_out_{i}",
            "next": f"each_{i}",
        },
        f"each_{i}": {
            "type": "map",
            "items": "${ vars.items }",
            "as": "item",
            "concurrency": 4,
            "do": {
                "start": "price",
                "states": {
                    "price": {
                        "type": "task",
                        "action": "pricing.get",
                        "args": {"sku": "${ item.sku }", "n": "${ index }"},
                        "result": "p",
                        "next": "out",
                    },
                    "out": {"type": "succeed", "output": "${ vars.p }"},
                },
            },
            "result": f"prices_{i}",
            "next": f"check_{i}",
        },
        f"check_{i}": {
            "type": "choice",
            "choices": [{"when": "${ coalesce(vars.approval, {}).ok == true }", "next": nxt}],
            "default": nxt,
        },
    }


def document(states: int) -> dict[str, Any]:
    blocks = max(1, round(states / 14))  # 10 states per block + 4 in its branches and map body
    all_states: dict[str, Any] = {}
    for i in range(blocks):
        all_states.update(block(i, i == blocks - 1))
    all_states["done"] = {"type": "succeed", "output": "${ vars.total }"}
    return {
        "wfdsl": "1",
        "name": "bench-validate",
        "input": {"type": "object", "properties": {"country": {"type": "string"}}},
        "vars": {
            "total": 0,
            "cursor": "",
            "items": [],
            "approval": None,
            "p": None,
            "summary": {"last": ""},
        },
        "signals": {"approved": {}, "progress": {}},
        "compensate_on_failure": True,
        "start": "fetch_0",
        "states": all_states,
    }


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data = document(args.states)
    yaml = YAML()
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    text = buffer.getvalue()
    json_text = json.dumps(data)

    doc = parse_document(text, "bench.yaml")
    assert doc.data is not None, [f.format() for f in doc.findings]
    workflow, compile_findings = compile_document(doc)
    assert workflow is not None, [f.format() for f in compile_findings[:5]]
    context = CheckContext(workflow, doc.source_map, "bench.yaml")
    findings = [*doc.findings, *check_schema(doc), *compile_findings, *run_checks(context)]
    errors = [f for f in findings if f.severity == "error"]
    counted = sum(1 for _ in iter_states(workflow.root))

    stages: dict[str, Callable[[], object]] = {
        "parse (loader)": lambda: parse_document(text, "bench.yaml"),
        "schema": lambda: (list(check_schema(doc)), list(check_embedded_schemas(doc))),
        "compile": lambda: compile_document(doc),
        "checks": lambda: list(run_checks(CheckContext(workflow, doc.source_map, "bench.yaml"))),
    }
    try:
        from wfdsl.dsl import api
        from wfdsl.dsl.api import validate_text

        def total() -> object:
            # compile_text caches by text; a cold run is what a new document costs.
            cache_clear = getattr(getattr(api, "_compile_cached", None), "cache_clear", None)
            if cache_clear is not None:
                cache_clear()
            return validate_text(text, "bench.yaml")

        stages["total (validate_text)"] = total
    except ImportError:  # the api module lands separately
        pass
    baselines: dict[str, Callable[[], object]] = {
        "ruamel round-trip load": lambda: YAML().load(text),
        "json.loads of the same data": lambda: json.loads(json_text),
    }

    try:  # PyYAML on libyaml: what a C parser costs, without positions
        import yaml as pyyaml

        loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
        baselines[f"PyYAML {loader.__name__} (no positions)"] = lambda: pyyaml.load(text, loader)
    except ImportError:
        pass

    print(
        f"document: {counted} states ({args.states} asked), {len(text):,} characters of YAML, "
        f"{len(findings)} findings ({len(errors)} errors)"
    )
    print(f"median of {args.repeat} runs\n")
    measured = {name: median_time(fn, args.repeat) for name, fn in {**stages, **baselines}.items()}
    total = measured.get("total (validate_text)") or sum(measured[s] for s in list(stages)[:4])
    ruamel = measured["ruamel round-trip load"]
    width = max(map(len, measured))
    for name, seconds in measured.items():
        print(f"  {name:<{width}}  {seconds * 1000:8.1f} ms  {seconds / ruamel:5.2f}x ruamel")
    print(
        f"\n  total {total:.3f} s, target < {TARGET_SECONDS} s: "
        f"{total / TARGET_SECONDS:.2f} of the budget ({'met' if total < TARGET_SECONDS else 'MISSED'})"
    )

    print("\nexpression evaluation (µs per call, best of 5):")
    scope = {
        "vars": {"total": 1200, "items": [{"price": 3}, {"price": 4}], "name": "ada"},
        "input": {"country": "DE", "email": "a@b.c"},
        "run": {"id": "r1"},
    }
    cases = {
        "vars.total > 1000 and input.country in ['DE', 'FR']": parse_expression(
            "vars.total > 1000 and input.country in ['DE', 'FR']"
        ),
        "vars.total + 1": parse_expression("vars.total + 1"),
        "sum([1, 2, 3]) + len(vars.items)": parse_expression("sum([1, 2, 3]) + len(vars.items)"),
        "template 'Hi ${ upper(vars.name) }!'": compile_value("Hi ${ upper(vars.name) }!"),
        "args {to: ${ input.email }, n: ${ vars.total }}": compile_value(
            {"to": "${ input.email }", "n": "${ vars.total }", "template": "t"}
        ),
    }
    for label, compiled in cases.items():
        number = 20_000
        best = min(timeit.repeat(lambda c=compiled: c.evaluate(scope), number=number, repeat=5))
        print(f"  {best / number * 1e6:7.2f} µs  {label}")
    baseline = min(timeit.repeat(lambda: scope["vars"]["total"] > 1000, number=20_000, repeat=5))
    print(f"  {baseline / 20_000 * 1e6:7.2f} µs  (plain Python: scope['vars']['total'] > 1000)")


if __name__ == "__main__":
    main()
