"""Generated workflows of a given size for the layout tests: a main line of
tasks, choices that fork and rejoin (and loop back), waits with timeouts,
catches into fail states, parallel states and maps, as a real document of
that size would mix them. Seeded, so every run draws the same documents.
"""

from __future__ import annotations

import random
import re

__all__ = ["generated_workflow"]

WORDS = (
    "check_stock",
    "reserve",
    "charge_card",
    "notify",
    "send_invoice",
    "approve",
    "fetch_profile",
    "score_risk",
    "ship",
    "archive",
    "sync_crm",
    "refund",
)


def generated_workflow(states: int, seed: int = 7) -> str:
    """A valid wfdsl document with exactly ``states`` states (nested ones counted)."""
    rng = random.Random(seed * 1000 + states)
    lines = ['wfdsl: "1"', f"name: generated-{states}", "", "start: s0", "states:"]
    count = 0
    names: list[str] = []
    loops: list[str] = []

    def name() -> str:
        nonlocal count
        count += 1
        names.append(f"{rng.choice(WORDS)}_{len(names)}")
        return names[-1]

    def body(indent: str, kind: str) -> list[str]:
        """A branch or map body of two or three tasks ending in a succeed."""
        size = rng.choice((2, 3))
        own = [name() for _ in range(size)]
        out = [f"{indent}start: {own[0]}", f"{indent}states:"]
        for i, n in enumerate(own[:-1]):
            out.append(f"{indent}  {n}: {{type: task, action: {kind}.step{i}, next: {own[i + 1]}}}")
        out.append(f"{indent}  {own[-1]}: {{type: succeed}}")
        return out

    failures: list[str] = []
    main: list[tuple[str, list[str]]] = []  # (state name, its lines but the next)
    budget = states - 1  # the final succeed
    while True:
        left = budget - count
        if left <= 0:
            break
        roll = rng.random()
        if roll < 0.12 and left >= 8:
            n = name()
            block = [f"  {n}:", "    type: parallel", "    branches:"]
            for b in range(rng.choice((2, 3))):
                block.append(f"      branch{b}:")
                block.extend(body("        ", f"b{b}"))
            main.append((n, block))
        elif roll < 0.22 and left >= 5:
            n = name()
            block = [
                f"  {n}:",
                "    type: map",
                "    items: ${ input.items }",
                "    as: item",
                "    concurrency: 4",
                "    do:",
                *body("      ", "item"),
            ]
            main.append((n, block))
        elif roll < 0.40 and left >= 4 and len(main) > 2:
            # A choice: a retry loop back, a side task that rejoins, the default on.
            n, side = name(), name()
            loops.append(n)
            line = [m for m, b in main if m not in failures and "type: choice" not in b[1]]
            back = line[max(0, len(line) - rng.choice((2, 3)))]
            main.append(
                (
                    n,
                    [
                        f"  {n}:",
                        "    type: choice",
                        "    choices:",
                        f'      - {{when: "${{ vars.tries_{n} < 3 }}", next: {back}}}',
                        f'      - {{when: "${{ input.flag_{n} }}", next: {side}}}',
                        f"    default: SKIP{side}",
                    ],
                )
            )
            main.append((side, [f"  {side}:", "    type: task", f"    action: side.{side}"]))
        elif roll < 0.52 and left >= 3:
            n, late = name(), name()
            failures.append(late)
            main.append(
                (
                    n,
                    [
                        f"  {n}:",
                        "    type: wait",
                        "    any:",
                        f"      - {{signal: go_{n}, next: NEXT}}",
                        f"      - {{timer: 1d, next: {late}}}",
                    ],
                )
            )
            lines_late = [f"  {late}: {{type: fail, error: Late{n}}}"]
            main.append((late, lines_late))
        elif roll < 0.65 and left >= 3:
            n, failed = name(), name()
            failures.append(failed)
            main.append(
                (
                    n,
                    [
                        f"  {n}:",
                        "    type: task",
                        f"    action: work.{n}",
                        "    catch:",
                        f"      - {{errors: [Declined, Timeout], next: {failed}}}",
                    ],
                )
            )
            main.append((failed, [f"  {failed}: {{type: fail, error: Failed{n}}}"]))
        elif roll < 0.75:
            n = name()
            main.append((n, [f"  {n}:", "    type: set", "    set:", f"      {n}: 1"]))
        else:
            n = name()
            main.append((n, [f"  {n}:", "    type: task", f"    action: work.{n}"]))
    final = name()
    # Wire the main line: each state goes on to the next one that is not a
    # fail state or a side task (side tasks rejoin it).
    chain = [n for n, _ in main if n not in failures]
    after = {a: b for a, b in zip(chain, [*chain[1:], final], strict=True)}
    for n, block in main:
        if n in failures:
            lines.extend(block)
            lines.append("")
            continue
        text = "\n".join(block).replace("NEXT", after[n])
        text = re.sub(r"SKIP(\w+)", lambda m: after[m.group(1)], text)
        lines.extend(text.split("\n"))
        if "type: choice" not in text and "type: wait" not in text:
            lines.append(f"    next: {after[n]}")
        lines.append("")
    lines.append(f"  {final}: {{type: succeed}}")
    lines[1:1] = ["vars:", *(f"  tries_{n}: 0" for n in loops)] if loops else []
    lines = [line.replace("start: s0", f"start: {names[0]}") for line in lines]
    doc = "\n".join(lines) + "\n"
    assert count == states, (count, states)
    return doc
