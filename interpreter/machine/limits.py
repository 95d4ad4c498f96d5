"""How much data may enter a run, and how much one transition may write.

Expressions are bounded one by one (dsl/expressions/limits.py) and, across a
transition, by an evaluation allowance. These are the bounds on data:

- a **payload** that enters a run from outside (a run's input, a signal's
  data, a handler call's args, an action's result, a message an ``emit``
  sends) is at most :data:`MAX_PAYLOAD_BYTES` of JSON, as the designer
  already caps a request body;
- one **transition** writes at most :data:`MAX_TRANSITION_BYTES` of JSON in
  all: the run's vars, its state (branches' vars, calls, undo log), search
  attributes, output, the history events it appends and the messages it
  sends. A run writes its vars and state at every transition, so this is
  also the bound on a run's data;
- a run's **history** holds at most :data:`MAX_HISTORY_EVENTS` events: a
  transition that would write past it fails the run instead, so a loop that
  never ends cannot grow one history (and every read of it) without limit.

Sizes are measured by :func:`json_size` without building the JSON text:
values that share structure (one 1 MB string referenced 200 times) count
every time they appear, as they would in the text, and the walk stops as
soon as it passes its cap, so measuring costs at most the cap.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "MAX_HISTORY_EVENTS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TRANSITION_BYTES",
    "json_size",
    "payload_size_error",
]

#: A payload from outside: input, signal data, handler args, an action result.
MAX_PAYLOAD_BYTES: Final = 1_048_576

#: Everything one transition writes (vars, state, search, output, events, messages).
MAX_TRANSITION_BYTES: Final = 16 * 1_048_576

#: Events in one run's history (read as ``limits.MAX_HISTORY_EVENTS``, so a
#: test may lower it).
MAX_HISTORY_EVENTS = 100_000

_CONTAINERS: Final = (dict, list, tuple)


#: Deeper than this is not a value wfdsl made or accepted (they nest at most
#: 64 deep, a run's state a few levels more): a cycle, in practice.
_MAX_WALK_DEPTH: Final = 256


def json_size(value: Any, cap: int) -> int:
    """About how many characters ``value`` takes as compact JSON; once the
    count passes ``cap`` the walk stops and returns what it has (> cap).

    Strings count their characters plus quotes (escapes are not counted),
    numbers their digits, containers their brackets and separators.
    ValueError for a value nested deeper than any JSON value wfdsl accepts
    (a cycle).

    One pass per container, the common children (strings, small integers,
    null, true, nested containers) counted inline: the machine measures
    every transition (its state, vars, events), and the two-pass walk with a
    call per scalar was a sixth of a worker's time per step.
    """
    kind = type(value)
    if kind is str:
        return len(value) + 2
    if (
        kind is not dict
        and kind is not list
        and kind is not tuple
        and not isinstance(value, _CONTAINERS)
    ):
        return _scalar(value)
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > _MAX_WALK_DEPTH:
            raise ValueError(f"nested deeper than {_MAX_WALK_DEPTH} levels (or a cycle)")
        deeper = depth + 1
        if type(item) is dict or isinstance(item, dict):
            total += 1 + 2 * len(item)
            for key, child in item.items():
                kind = type(child)
                if kind is str:
                    total += len(key) + len(child) + 4
                    continue
                total += len(key) + 2
                if kind is dict or kind is list or kind is tuple:
                    push((child, deeper))
                elif child is None or child is True:
                    total += 4
                elif kind is int and -_SMALL_INT < child < _SMALL_INT:
                    total += len(repr(child))
                elif isinstance(child, _CONTAINERS):
                    push((child, deeper))
                else:
                    total += _scalar(child)
        else:
            total += 1 + len(item)
            for child in item:
                kind = type(child)
                if kind is str:
                    total += len(child) + 2
                elif kind is dict or kind is list or kind is tuple:
                    push((child, deeper))
                elif child is None or child is True:
                    total += 4
                elif kind is int and -_SMALL_INT < child < _SMALL_INT:
                    total += len(repr(child))
                elif isinstance(child, _CONTAINERS):
                    push((child, deeper))
                else:
                    total += _scalar(child)
        if total > cap:
            return total
    return total


#: Integers below this in magnitude count ``len(repr(n))`` (as in :func:`_scalar`).
_SMALL_INT: Final = 1 << 63


def _scalar(value: Any) -> int:
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        bits = value.bit_length()
        # repr() refuses integers of more than 4,300 digits; digits ~ bits * log10(2).
        return len(repr(value)) if bits < 64 else bits * 30103 // 100000 + 2
    if isinstance(value, float):
        return len(repr(value))
    return len(str(value))


def payload_size_error(what: str, size: int) -> str:
    """The message for a payload over :data:`MAX_PAYLOAD_BYTES` (``size``:
    what was counted before the measure stopped, so a lower bound)."""
    return (
        f"{what} is more than the limit of {MAX_PAYLOAD_BYTES:,} bytes (1 MiB) of JSON "
        f"(at least {size:,}); store large data elsewhere and pass a reference"
    )
