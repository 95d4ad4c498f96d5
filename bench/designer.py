"""Layout plus SVG for a generated 300-state workflow (target: under 0.5 s).

Not a test: it prints figures. Run ``python bench/designer.py [--states N]
[--repeat R]``. The workflow mixes tasks with catches, choices that loop
back (so there are back edges), waits with alternatives and parallel states
with branches (clusters). Each stage is timed over R repeats and the median
printed, for the builtin layout and, when installed, graphlay; plus the
whole editor round trip the API does on each keystroke (compile + graph +
layout + SVG, ``document_view``) and one edit (``apply_edit`` rename).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

from wfdsl.designer.edits import apply_edit
from wfdsl.designer.view import document_view
from wfdsl.dsl.api import compile_text
from wfdsl.dsl.graph import build_graph
from wfdsl.dsl.layout import layout
from wfdsl.dsl.svg import to_svg

TARGET_SECONDS = 0.5


def generate(states: int) -> str:
    """A valid workflow of about ``states`` states."""
    lines = ['wfdsl: "1"', "name: bench", "signals:", "  go: {}", "start: s0", "states:"]
    i = 0
    while i < states:
        name, after = f"s{i}", f"s{i + 1}"
        kind = i % 10
        if kind == 3 and i > 5:
            lines += [
                f"  {name}:",
                "    type: choice",
                "    choices:",
                f"      - when: ${{ input.n > {i} }}",
                f"        next: s{i - 3}",
                f"    default: {after}",
            ]
        elif kind == 6:
            lines += [
                f"  {name}:",
                "    type: wait",
                "    any:",
                "      - signal: go",
                f"        next: {after}",
                "      - timer: 1h",
                f"        next: s{max(0, i - 2)}",
            ]
        elif kind == 8:
            lines += [f"  {name}:", "    type: parallel", "    branches:"]
            for b in ("left", "right"):
                lines += [
                    f"      {b}:",
                    "        start: a",
                    "        states:",
                    "          a: {type: task, action: noop, next: b}",
                    "          b: {type: succeed}",
                ]
            lines += [f"    next: {after}"]
            i += 4  # the branches hold four states
        else:
            lines += [
                f"  {name}:",
                "    type: task",
                "    action: noop",
                "    catch:",
                "      - errors: [Boom]",
                f"        next: s{i + 2 if i + 2 < states else i + 1}",
                f"    next: {after}",
            ]
        i += 1
    lines += [f"  s{i}:", "    type: succeed"]
    # States skipped by the parallel step must exist too.
    text = "\n".join(lines) + "\n"
    present = {line.strip()[:-1] for line in lines if line.startswith("  s") and line.endswith(":")}
    missing = [n for n in range(i + 1) if f"s{n}" not in present]
    for n in missing:
        text += f"  s{n}:\n    type: task\n    action: noop\n    next: s{n + 1}\n"
    return text


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--states", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = generate(args.states)
    workflow, findings = compile_text(text)
    errors = [f.format() for f in findings if f.severity == "error"]
    if workflow is None or errors:
        raise SystemExit("generated workflow is invalid:\n" + "\n".join(errors[:10]))
    graph = build_graph(workflow)
    print(
        f"workflow: {sum(1 for _ in graph.state_nodes())} states, {len(graph.nodes)} nodes, "
        f"{len(graph.edges)} edges, {len(graph.clusters)} clusters"
    )
    engines = ["builtin"] + (["graphlay"] if importlib.util.find_spec("graphlay") else [])
    for engine in engines:
        drawing = layout(graph, engine=engine)  # type: ignore[arg-type]
        t_layout = timed(lambda e=engine: layout(graph, engine=e), args.repeat)  # type: ignore[misc]
        t_svg = timed(lambda d=drawing: to_svg(graph, d), args.repeat)  # type: ignore[misc]
        total = t_layout + t_svg
        verdict = "OK" if total < TARGET_SECONDS else "OVER TARGET"
        print(
            f"{engine:9s} layout {t_layout * 1000:7.1f} ms  svg {t_svg * 1000:6.1f} ms  "
            f"total {total * 1000:7.1f} ms  ({verdict}, target {TARGET_SECONDS * 1000:.0f} ms)  "
            f"drawing {drawing.width:.0f}x{drawing.height:.0f}, "
            f"{len(drawing.back_edges)} back edges"
        )
    t_graph = timed(lambda: build_graph(workflow), args.repeat)
    print(f"build_graph              {t_graph * 1000:7.1f} ms")
    t_view = timed(lambda: document_view(text + f"# {time.perf_counter()}\n"), args.repeat)
    print(f"document_view (uncached) {t_view * 1000:7.1f} ms  (what validate/edit answer with)")
    t_edit = timed(lambda: apply_edit(text, {"op": "rename_state", "state": "s1", "to": "x"}), 3)
    print(f"apply_edit rename        {t_edit * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
