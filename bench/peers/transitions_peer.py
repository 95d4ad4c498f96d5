"""The ``transitions`` library's cost per transition, run inside the peers'
venv (bench/peer_env.py): an in-memory state machine, nothing stored.

Request on stdin ``{"steps": S, "runs": N}``: a machine of S+1 states chained
by one ``go`` trigger; N times, walk a model from the first state to the last
(S transitions, each with an ``after`` callback standing in for a no-op
action). Prints ``{"us_per_transition": ...}``.
"""

from __future__ import annotations

import json
import sys
import time

from transitions import Machine


class Model:
    def __init__(self) -> None:
        self.calls = 0

    def noop(self) -> None:
        self.calls += 1


def main() -> None:
    request = json.loads(sys.stdin.read())
    steps, runs = int(request["steps"]), int(request["runs"])
    states = [f"s{i}" for i in range(steps + 1)]
    chain = [
        {"trigger": "go", "source": states[i], "dest": states[i + 1], "after": "noop"}
        for i in range(steps)
    ]
    models = [Model() for _ in range(runs)]
    machine = Machine(model=models, states=states, transitions=chain, initial=states[0])
    started = time.perf_counter()
    for model in models:
        for _ in range(steps):
            model.go()
    elapsed = time.perf_counter() - started
    assert all(m.state == states[-1] and m.calls == steps for m in models)
    del machine
    print(json.dumps({"us_per_transition": elapsed / (runs * steps) * 1e6}), flush=True)


if __name__ == "__main__":
    main()
