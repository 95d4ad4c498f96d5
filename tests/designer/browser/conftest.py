"""Browser tests: Playwright for Python driving Debian's Chromium against the
real designer app, served in-process by uvicorn on a free port
(tests/designer_server.py).

Playwright's own browser download does not work here, so Chromium is the
system one (``/usr/bin/chromium``, or ``$WFDSL_CHROMIUM``). Without it (or
without Playwright) the tests skip on a developer machine and fail under CI,
where a silent skip would hide a broken environment.

Screenshots go to ``test-artifacts/browser/`` (or ``$WFDSL_ARTIFACTS``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from designer_server import Served, serve_designer

__all__ = ["EXAMPLES", "Served", "serve_designer"]

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
CHROMIUM = os.environ.get("WFDSL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# A workflow with one signal, for the run test: a noop, a wait, the end.
APPROVE_ME = """\
wfdsl: "1"
name: approve-me
description: Prepare, wait for the approve signal, done.

signals:
  approve: {}

start: prepare
states:
  prepare:
    type: task
    action: noop
    next: wait_approval

  wait_approval:
    type: wait
    signal: approve
    next: done

  done:
    type: succeed
"""


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if importlib.util.find_spec("pytest_playwright") is None:
        return "pytest-playwright is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.browser)
    reason = _missing()
    if reason is None or not mine:
        return
    if os.environ.get("CI"):
        # Under CI the browser tests must run: make each one fail with the reason.
        for item in mine:
            item.add_marker(pytest.mark.usefixtures("_browser_required"))
        return
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _browser_required() -> None:
    pytest.fail(f"browser tests cannot run under CI: {_missing()}")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("WFDSL_ARTIFACTS") or REPO / "test-artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch_script_errors(page: Any) -> list[str]:
    """The page's script errors and Content-Security-Policy violations, as
    they happen: a test asserts the list is empty at its end."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def console(message: Any) -> None:
        text = message.text
        if message.type == "error" and (
            "Content Security Policy" in text or "Refused to" in text or "Uncaught" in text
        ):
            problems.append(f"console: {text}")

    page.on("console", console)
    return problems


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("designer")
    workspace = root / "workspace"
    shutil.copytree(EXAMPLES, workspace)
    (workspace / "approve_me.yaml").write_text(APPROVE_ME, encoding="utf-8")
    with serve_designer(workspace, root / "designer.db") as served:
        yield served


@pytest.fixture
def designer(page: Any, served: Served) -> Iterator[Served]:
    """A page that holds the token cookie and fails the test on any script
    error or Content-Security-Policy violation."""
    problems = watch_script_errors(page)
    page.set_default_timeout(10_000)
    page.goto(f"{served.url}/?token={served.token}")
    served.errors = problems
    yield served
    assert not problems, "\n".join(problems)
