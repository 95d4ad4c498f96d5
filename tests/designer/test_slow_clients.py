"""A client that stops half way through its request is answered 408 and
disconnected once the server's timeout passes (a slowloris holds nothing).

The server here is the real one (uvicorn with the protocol of
designer/server.py) on a free port, with its timeouts set small; the raw
socket's own timeout is only a safety net for when the server never closes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from designer_server import serve_designer
from wfdsl.designer.security import csrf_for
from wfdsl.designer.server import server_config

TOKEN = "test-token-0123456789"
SAFETY = 30.0  # seconds; only reached when the server never closes the socket


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with serve_designer(
        workspace,
        tmp_path / "store.db",
        token=TOKEN,
        config=lambda app: server_config(app, header_timeout=0.3),
        drive=False,
        body_timeout=0.3,
    ) as served:
        yield served.port


def read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    conn.settimeout(SAFETY)
    received = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the server kept the connection open: {received!r}") from None
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def test_partial_headers_are_answered_408_and_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port)
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        answer = read_until_closed(conn)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer


def test_a_partial_body_is_answered_408_and_closed(port: int) -> None:
    head = (
        f"PUT /api/files/a.yaml HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nX-CSRF-Token: {csrf_for(TOKEN)}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(head.encode() + b'{"text": "wfdsl')
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"request_timeout" in answer


def test_a_keep_alive_connection_is_bounded_on_its_next_request_too(port: int) -> None:
    request = b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request % (port, TOKEN.encode()))
        conn.settimeout(SAFETY)
        first = conn.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        conn.sendall(b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1")
        answer = read_until_closed(conn)
    assert b"HTTP/1.1 408" in answer, answer


def test_a_whole_request_is_still_answered(port: int) -> None:
    request = (
        b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
        b"Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request % (port, TOKEN.encode()))
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 200") and b'"csrf"' in answer, answer
