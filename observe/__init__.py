"""Observability on the engine's public seams (docs/operations.md).

``metrics``: Prometheus metrics built from :meth:`Engine.watch` transitions
and the store's run listing (the ``metrics`` extra installs
``prometheus_client``). ``cli``: the ``--metrics-addr`` option that
``wfdsl worker`` and ``wfdsl serve`` share. Nothing here is imported by the
engine: an application that never asks for metrics never pays for them.
"""

from __future__ import annotations

__all__: list[str] = []
