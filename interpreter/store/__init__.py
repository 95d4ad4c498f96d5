"""Durable state: the protocol every backend implements, the records it
reads and writes, the errors it raises, and ``open_store`` that picks a
backend from a path or URL. One sub-package per backend (``sqlite``)."""

from .errors import DamagedRun, RunNotActive, StoreError, passing
from .open import StoreUrlError, open_store
from .protocol import Store

__all__ = [
    "DamagedRun",
    "RunNotActive",
    "Store",
    "StoreError",
    "StoreUrlError",
    "open_store",
    "passing",
]
