"""The peers' own virtualenv: created once under a cache folder, reused after.

The peers (DBOS Transact, SpiffWorkflow, ``transitions``) are never project
dependencies: they are pip-installed, at pinned versions, into
``bench/.peers-venv`` (override with ``WFDSL_PEERS_VENV``) and run in
subprocesses of that venv's python, so a peer's dependencies cannot change
what wfdsl is measured with. When the install fails (no network, a registry
down) :func:`peer_python` returns ``None`` with the reason, and scenarios
report the peer as unavailable while still measuring wfdsl.

    python bench/peer_env.py        # create or update the venv, print its python
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: What the venv holds; changing a pin reinstalls on the next run.
PINS = ("dbos==3.4.0", "SpiffWorkflow==3.2.0", "transitions==0.9.3")

_cached: tuple[str | None, str] | None = None


def venv_dir() -> Path:
    return Path(os.environ.get("WFDSL_PEERS_VENV", HERE / ".peers-venv"))


def _python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure(*, quiet: bool = True) -> tuple[str | None, str]:
    """(python of the peers' venv, "ok") or (None, why it is unavailable)."""
    global _cached
    if _cached is not None:
        return _cached
    root = venv_dir()
    python = _python(root)
    stamp = root / "wfdsl-pins.json"
    try:
        if stamp.exists() and json.loads(stamp.read_text()) == list(PINS) and python.exists():
            _cached = (str(python), "ok")
            return _cached
        if not python.exists():
            import venv  # here: engine children of the bench import this module

            venv.EnvBuilder(with_pip=True, clear=True).create(root)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *PINS],
            capture_output=quiet,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-1:] or ["pip failed"]
            _cached = (None, f"pip install {' '.join(PINS)} failed: {tail[0]}")
            return _cached
        stamp.write_text(json.dumps(list(PINS)))
        _cached = (str(python), "ok")
    except (OSError, subprocess.SubprocessError) as exc:
        _cached = (None, f"cannot create {root}: {exc}")
    return _cached


def run_peer(module: str, args: dict[str, object], *, timeout: float = 600) -> dict[str, object]:
    """Run ``bench/peers/<module>.py`` in the peers' venv with ``args`` as
    JSON on stdin; its last stdout line is a JSON object. Never raises: a
    failure comes back as ``{"error": ...}``."""
    python, why = ensure()
    if python is None:
        return {"error": why}
    script = HERE / "peers" / f"{module}.py"
    try:
        done = subprocess.run(
            [python, str(script)],
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "DBOS__VMID": "bench"},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"{module} timed out after {timeout:g}s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"{module} exited {done.returncode}: {tail}"}
    try:
        result: dict[str, object] = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"{module} printed no JSON: {lines[-1][:200]}"}
    return result


if __name__ == "__main__":
    python, why = ensure(quiet=False)
    print(python or why)
    sys.exit(0 if python else 1)
