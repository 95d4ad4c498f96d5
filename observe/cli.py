"""``--metrics-addr [HOST:]PORT`` for ``wfdsl worker`` and ``wfdsl serve``.

Opt-in: without the option nothing is imported or served. A bare port binds
127.0.0.1 (metrics name workflows and actions: keep them off the network
unless asked). The endpoint is ``http://HOST:PORT/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from wfdsl.interpreter.engine import Engine

__all__ = ["MetricsAddr", "metrics_option", "parse_addr", "start_metrics"]

_F = TypeVar("_F", bound=Callable[..., Any])

INSTALL_HINT = "pip install 'wfdsl[metrics]'"


@dataclass(frozen=True, slots=True)
class MetricsAddr:
    host: str
    port: int


def parse_addr(text: str) -> MetricsAddr:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT``; a bare port binds 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise click.BadParameter(f"{text!r} is not PORT or HOST:PORT (port 0-65535)")
    return MetricsAddr(host, number)


class _AddrType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    name = "[HOST:]PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, MetricsAddr):
            return value
        try:
            return parse_addr(str(value))
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


def metrics_option(f: _F) -> _F:
    return click.option(
        "--metrics-addr",
        "metrics_addr",
        type=_AddrType(),
        default=None,
        help="Serve Prometheus metrics at http://[HOST:]PORT/metrics "
        f"(HOST defaults to 127.0.0.1; needs {INSTALL_HINT}).",
    )(f)


def start_metrics(engine: Engine, addr: MetricsAddr | None) -> Callable[[], None]:
    """Start watching ``engine`` and serving its metrics at ``addr`` on a
    daemon thread; returns the function that stops both (a no-op when
    ``addr`` is None). A missing ``prometheus_client`` is a usage error
    saying how to install it; a port already taken is one too."""
    if addr is None:
        return lambda: None
    try:
        from prometheus_client import start_http_server

        from .metrics import EngineMetrics
    except ImportError:
        raise click.UsageError(
            f"--metrics-addr needs the Prometheus client library: {INSTALL_HINT}"
        ) from None
    metrics = EngineMetrics(engine)
    try:
        server, thread = start_http_server(addr.port, addr=addr.host, registry=metrics.registry)
    except OSError as exc:
        metrics.close()
        raise click.UsageError(
            f"--metrics-addr {addr.host}:{addr.port}: cannot listen ({exc.strerror or exc})"
        ) from None
    click.echo(f"metrics at http://{addr.host}:{server.server_address[1]}/metrics", err=True)

    def stop() -> None:
        metrics.close()
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
