"""The validation front end part by part on a generated 1,000-state document.

Not a test: it prints figures. Run ``python bench/frontend_parts.py [--states N]
[--repeat R]``. Prints the median of R runs of each part (parse_document,
check_schema, compile, checks, and all four in a row), beside raw baselines
measured in the same run: libyaml's ``yaml.load`` (the floor for any YAML
parse), ruamel's round-trip load (what parse_document cost before the fast
path) and ``json.loads`` of the same data. Also prints the machine's load,
since the figures mean little on a busy machine. The document comes from
``bench/validate.py``'s generator, so both benchmarks measure the same thing.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from wfdsl.dsl.checks import CheckContext, run_checks
from wfdsl.dsl.compiler import compile_document
from wfdsl.dsl.loader import parse_document
from wfdsl.dsl.schema_check import check_embedded_schemas, check_schema

TARGETS = {"parse_document": 0.12, "check_schema": 0.1, "total": 0.5}


def _validate_bench() -> Any:
    """bench/validate.py as a module: its document generator and timer are
    the ones this breakdown must use, so the two benchmarks measure alike."""
    spec = importlib.util.spec_from_file_location(
        "bench_validate", Path(__file__).with_name("validate.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_VALIDATE = _validate_bench()
median_time: Callable[[Callable[[], object], int], float] = _VALIDATE.median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    data = _VALIDATE.document(args.states)
    buffer = io.StringIO()
    YAML().dump(data, buffer)
    text = buffer.getvalue()
    json_text = json.dumps(data)

    doc = parse_document(text, "bench.yaml")
    assert doc.ok, [f.format() for f in doc.findings]
    workflow, _ = compile_document(doc)
    assert workflow is not None

    def total() -> None:
        loaded = parse_document(text, "bench.yaml")
        list(check_schema(loaded))
        list(check_embedded_schemas(loaded))
        compiled, _ = compile_document(loaded)
        if compiled is not None:
            list(run_checks(CheckContext(compiled, loaded.source_map, "bench.yaml")))

    parts: dict[str, Callable[[], object]] = {
        "parse_document": lambda: parse_document(text, "bench.yaml"),
        "check_schema": lambda: (list(check_schema(doc)), list(check_embedded_schemas(doc))),
        "compile": lambda: compile_document(doc),
        "checks": lambda: list(run_checks(CheckContext(workflow, doc.source_map, "bench.yaml"))),
        "total": total,
    }
    baselines: dict[str, Callable[[], object]] = {
        "yaml.load (libyaml CSafeLoader)": lambda: yaml.load(text, Loader=yaml.CSafeLoader),
        "ruamel round-trip load": lambda: YAML().load(text),
        "json.loads of the same data": lambda: json.loads(json_text),
    }
    load = os.getloadavg()
    print(
        f"document: {args.states} states asked, {len(text):,} characters of YAML; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"median of {args.repeat} runs\n")
    measured = {name: median_time(fn, args.repeat) for name, fn in {**parts, **baselines}.items()}
    width = max(map(len, measured))
    for name, seconds in measured.items():
        target = TARGETS.get(name)
        verdict = (
            ""
            if target is None
            else f"  target < {target} s: {'met' if seconds < target else 'MISSED'}"
        )
        print(f"  {name:<{width}}  {seconds * 1000:8.1f} ms{verdict}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
