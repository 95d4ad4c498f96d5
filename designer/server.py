"""How ``wfdsl serve`` runs the app under uvicorn, with a bound on slow clients.

uvicorn closes a connection that sits idle after a response
(``timeout_keep_alive``), but not one that has started a request and stopped
half way through its headers: a few hundred such sockets would hold the
server's file descriptors for ever (a "slowloris"). :class:`HeaderTimeout`
is uvicorn's own h11 protocol with one timer added: from the moment a
connection opens (or a keep-alive connection sends the first byte of its next
request) the request line and every header must have arrived within
``header_timeout`` seconds, or the server answers ``408`` and closes it. The
body has its own bound, ``BODY_TIMEOUT`` in the guard (security.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "HeaderTimeout", "server_config"]

#: Seconds a client has to send the request line and headers of one request.
HEADER_TIMEOUT = 10.0

_LATE = b"the request's headers did not arrive in time\n"
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_LATE), _LATE)
)


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol; a request's headers must arrive within
    ``header_timeout`` seconds (a class attribute, set by :func:`server_config`)."""

    header_timeout: float = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        """Whether the client owes us (the rest of) a request line and headers:
        h11 has no request yet, and no response of ours is under way."""
        if self.transport is None or self.transport.is_closing():
            return False
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self.conn.their_state is h11.IDLE

    def _watch_headers(self) -> None:
        if not self._awaiting_headers():
            self._stop_header_timer()
            return
        keep_alive = self.timeout_keep_alive_task is not None
        if self._header_timer is None and not keep_alive:
            # Armed once per request, not reset by each byte: a client
            # trickling one byte a second is bounded too.
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self._awaiting_headers():
            return
        self.transport.write(_TIMED_OUT)
        self.transport.close()


def server_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    header_timeout: float = HEADER_TIMEOUT,
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration ``wfdsl serve`` runs ``app`` with: the h11
    protocol with the header timeout (whatever parsers happen to be installed)."""
    protocol = type("HeaderTimeout", (HeaderTimeout,), {"header_timeout": header_timeout})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level=options.pop("log_level", "warning"),
        server_header=False,
        **options,
    )
