"""SpiffWorkflow, persisting its JSON after every step, run inside the peers'
venv (bench/peer_env.py).

SpiffWorkflow keeps a workflow in memory; durability is the user's job. This
does what its docs suggest: after each task, serialize the workflow to JSON
and store it (one UPDATE and a commit, SQLite in WAL mode, the requested
``synchronous``). Request on stdin ``{"runs": N, "steps": S, "path": DB,
"synchronous": "FULL"}``: N runs of a BPMN process of S script tasks, taken a
step at a time round-robin across the runs (as many runs in flight at once
would be). Prints ``{"steps_per_s": ...}``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def process(steps: int) -> str:
    """A start event, ``steps`` script tasks in a row, an end event."""
    nodes = ['<bpmn:startEvent id="start"/>']
    flows = []
    previous = "start"
    for i in range(steps):
        nodes.append(
            f'<bpmn:scriptTask id="s{i}"><bpmn:script>x = {i}</bpmn:script></bpmn:scriptTask>'
        )
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" targetRef="s{i}"/>')
        previous = f"s{i}"
    nodes.append('<bpmn:endEvent id="end"/>')
    flows.append(f'<bpmn:sequenceFlow id="fend" sourceRef="{previous}" targetRef="end"/>')
    body = "".join(nodes + flows)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" '
        f'targetNamespace="bench"><bpmn:process id="bench" isExecutable="true">{body}'
        "</bpmn:process></bpmn:definitions>"
    )


def main() -> None:
    request = json.loads(sys.stdin.read())
    runs, steps = int(request["runs"]), int(request["steps"])
    parser = BpmnParser()
    parser.add_bpmn_str(process(steps).encode())
    spec = parser.get_spec("bench")
    serializer = BpmnWorkflowSerializer()
    conn = sqlite3.connect(request["path"], isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {request.get('synchronous', 'FULL')}")
    conn.execute("CREATE TABLE IF NOT EXISTS wf (id INTEGER PRIMARY KEY, state TEXT)")
    started = time.perf_counter()
    flows: dict[int, BpmnWorkflow] = {}
    for number in range(runs):
        flows[number] = BpmnWorkflow(spec)
        conn.execute(
            "INSERT INTO wf VALUES (?, ?)", (number, serializer.serialize_json(flows[number]))
        )
    scripts = {f"s{i}" for i in range(steps)}
    done = 0
    while flows:
        for number, workflow in list(flows.items()):
            task = workflow.get_next_task(state=TaskState.READY)
            if task is None:
                workflow.do_engine_steps()
                if workflow.is_completed():
                    del flows[number]
                continue
            was_script = task.task_spec.name in scripts
            task.run()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE wf SET state = ? WHERE id = ?",
                (serializer.serialize_json(workflow), number),
            )
            conn.execute("COMMIT")
            done += was_script
    elapsed = time.perf_counter() - started
    assert done == runs * steps, (done, runs * steps)
    print(json.dumps({"steps_per_s": done / elapsed, "seconds": elapsed}), flush=True)


if __name__ == "__main__":
    main()
