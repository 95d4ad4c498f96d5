"""Suite-wide collection order.

Playwright's sync API keeps an event loop running in the main thread (driven
through greenlets) for as long as its session fixture lives, so any test that
runs after a browser test and calls ``asyncio.run`` (the engine, the action
runner) would find "a running event loop", and CPython's recursion bookkeeping
gets confused by the greenlet switches. The browser tests therefore run last.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def in_browser_folder(item: pytest.Item) -> bool:
        return "browser" in item.path.parts

    items.sort(key=in_browser_folder)  # stable: everything else keeps its order
