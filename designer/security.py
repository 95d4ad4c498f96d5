"""The designer's guard: one ASGI middleware in front of every route.

In order, for every HTTP request (designer/API.md, "Auth"):

1. the ``Host`` header must be one the server is reachable as, which
   defeats DNS rebinding (a hostile page whose name resolves to 127.0.0.1
   still sends its own name);
2. the per-launch token must come with the request, as the cookie set by
   visiting ``/?token=T`` or as ``Authorization: Bearer T`` (``/static/`` is
   exempt, and so is ``/favicon.ico``: they hold no data);
3. a request that can change anything (not GET/HEAD/OPTIONS) must come from
   our own origin (``Origin``, or ``Sec-Fetch-Site: same-origin``) and carry
   the CSRF token in ``X-CSRF-Token``;
4. its body may not exceed ``max_body`` bytes (413), counted as it arrives,
   and must have arrived within ``body_timeout`` seconds (408, and the
   connection is closed: a client trickling a byte a minute holds nothing);
5. every response gets the Content-Security-Policy (no inline script) and
   the other protective headers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import anyio
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import error_response

__all__ = [
    "BODY_TIMEOUT",
    "COOKIE",
    "CSP",
    "CSRF_HEADER",
    "MAX_BODY",
    "Guard",
    "allowed_hosts_for",
    "csrf_for",
    "new_token",
]

COOKIE = "wfdsl_token"
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 1024 * 1024
#: Seconds a client has to send a request's body once its headers are in
#: (the headers have their own bound: HEADER_TIMEOUT in server.py).
BODY_TIMEOUT = 30.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def new_token() -> str:
    """A fresh per-launch token (256 bits)."""
    return secrets.token_urlsafe(32)


def csrf_for(token: str) -> str:
    """The CSRF token that goes with ``token``: put in every page, sent back in a header."""
    # designer/API.md documents it: HMAC-SHA256(token, "csrf"), hex.
    return hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()


def allowed_hosts_for(host: str, port: int) -> list[str]:
    """The ``Host`` values a server bound to ``host:port`` answers to."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):
        names.add(f"[{host}]" if ":" in host else host)
    return sorted(f"{name}:{port}" for name in names)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class _TooLarge(Exception):
    pass


class Guard:
    """The middleware; ``allowed_hosts`` are ``host:port`` strings (port may be
    omitted for a default port)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        allowed_hosts: Iterable[str],
        max_body: int = MAX_BODY,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.token = token
        self.csrf = csrf_for(token)
        self.allowed = frozenset(h.lower() for h in allowed_hosts)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope)
        if refusal is not None:
            await refusal(scope, receive, _with_headers(send))
            return
        replay = await self.limit_body(scope, receive, send)
        if replay is None:
            return
        await self.app(scope, replay, _with_headers(send))

    def check(self, scope: Scope) -> Response | None:
        headers = _headers(scope)
        path: str = scope["path"]
        api = path.startswith("/api/") or path == "/openapi.json"
        host = headers.get("host", "").lower()
        if host not in self.allowed:
            return self.refuse(api, 400, "bad_host", f"Host {host!r} is not served here")
        if path.startswith("/static/") or path == "/favicon.ico":
            return None
        method: str = scope["method"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if method == "GET" and "token" in query and not api:
            if not _same(query["token"], self.token):
                return self.refuse(api, 401, "unauthorized", "the token in the URL is wrong")
            rest = urlencode({k: v for k, v in query.items() if k != "token"})
            response = RedirectResponse(_same_site(path) + ("?" + rest if rest else ""), 303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return response
        if not self.authenticated(headers):
            return self.refuse(
                api, 401, "unauthorized", "open the URL that `wfdsl serve` printed (it has a token)"
            )
        if method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin.lower() != f"http://{host}":
                return self.refuse(api, 403, "bad_origin", f"requests from {origin!r} are refused")
            if origin is None and headers.get("sec-fetch-site", "same-origin") not in (
                "same-origin",
                "none",
            ):
                return self.refuse(api, 403, "bad_origin", "cross-site requests are refused")
            if not _same(headers.get(CSRF_HEADER, ""), self.csrf):
                return self.refuse(
                    api, 403, "csrf", "the X-CSRF-Token header is missing or wrong; reload the page"
                )
        return None

    def authenticated(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and _same(auth[7:].strip(), self.token):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and _same(morsel.value, self.token)

    @staticmethod
    def refuse(api: bool, status: int, code: str, message: str) -> Response:
        if api:
            return error_response(status, code, message)
        return HTMLResponse(
            "<!doctype html><meta charset=utf-8><title>wfdsl</title>"
            f"<h1>{status}</h1><p>{_html(message)}</p>",
            status_code=status,
        )

    async def limit_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the whole body (at most ``max_body`` bytes) and replay it; answer
        413 as soon as it is known to be larger. ``None`` when refused."""
        headers = _headers(scope)
        api = scope["path"].startswith("/api/")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self.refuse(
                api, 413, "too_large", f"request bodies are limited to {self.max_body} bytes"
            )(scope, receive, _with_headers(send))
            return None
        if scope["method"] in SAFE_METHODS and length is None:
            return receive
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.body_timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await self.refuse(
                        api,
                        413,
                        "too_large",
                        f"request bodies are limited to {self.max_body} bytes",
                    )(scope, receive, _with_headers(send))
                    return None
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            refusal = self.refuse(
                api,
                408,
                "request_timeout",
                f"the request's body did not arrive within {self.body_timeout:g} s",
            )
            refusal.headers["connection"] = "close"  # the rest of the body is not read
            await refusal(scope, receive, _with_headers(send))
            return None
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _same_site(path: str) -> str:
    """``path`` as a Location that stays on this server.

    ``//evil.example/`` (or ``/\\evil.example``, or a tab a browser drops
    between two slashes) would be a network-path reference: another host.
    Everything but the URL's own path characters is percent-encoded and the
    leading slashes collapse into one.
    """
    return "/" + quote(path, safe="/:@!$&'()*+,;=-._~").lstrip("/")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: list[Any] = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in HEADERS if k not in present]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped
