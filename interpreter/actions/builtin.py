"""The actions every engine has: ``http``, ``log``, ``noop`` and ``shell``.

They live in a registry of their own (:class:`Builtins`) that the action
runner builds with the operator's settings and consults after the user's
registries, so ``shell`` is refused unless the operator enabled it and tests
can give ``http`` an ``httpx.MockTransport``.

What they do (documented in docs/reference.md §6):

- ``http``: ``expect`` defaults to any 2xx. ``timeout`` (seconds or a
  duration) defaults to 30s; a timeout raises an error named ``Timeout``,
  other transport failures and unexpected statuses raise ``HttpError``.
  ``params`` (query parameters, encoded for you) is accepted beside the
  documented args. ``headers`` in the result are lower-cased, repeated ones
  joined with ``", "``; ``json`` is the parsed body when the content type is
  JSON (``application/json`` or ``+json``) and parses, else ``None``. A body
  over 10 MB fails with ``HttpError``. Messages show the URL without its query
  string or credentials, which may hold secrets.
- ``log``: ``level`` is ``debug``, ``info`` (default), ``warning`` or
  ``error``; the message goes to the ``wfdsl.actions.log`` logger prefixed
  with the run, state and attempt; a non-string message is logged as JSON.
  Returns ``None``.
- ``noop``: returns its args as a map when given any (like Step Functions'
  Pass state), else ``None``. It runs inline on the event loop.
- ``shell``: ``command`` as a list runs without a shell; as a string it runs
  through ``/bin/sh -c``. ``env`` adds to (and overrides) the engine's own
  environment. ``expect`` (exit codes, default ``[0]``) mirrors ``http``: an
  exit code outside it raises ``ShellError`` with the end of stderr, so a
  failing command fails the task unless the workflow says otherwise.
  ``timeout`` kills the command's whole process group and raises ``Timeout``.
  Each of stdout and stderr is kept up to 1 MB (the rest is cut, with a note).
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
import math
import os
import signal
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wfdsl.dsl.durations import format_duration, parse_duration

from wfdsl.errors import WfdslError

from .registry import ActionContext, ActionRegistry, ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    # httpx (with ssl and certifi) costs ~10 MB and 60 ms; it is imported the
    # first time an ``http`` action runs, not by every engine.
    import httpx

__all__ = [
    "BUILTIN_ACTIONS",
    "Builtins",
    "HttpAction",
    "HttpError",
    "HttpTimeout",
    "ShellAction",
    "ShellDisabled",
    "ShellError",
    "ShellTimeout",
    "log_action",
    "noop_action",
]

#: The names of the built-in actions.
BUILTIN_ACTIONS: frozenset[str] = frozenset({"http", "log", "noop", "shell"})

_LOG = logging.getLogger("wfdsl.actions.log")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_EXCERPT = 200


# ------------------------------------------------------------------ errors


class HttpError(WfdslError):
    """An ``http`` call failed: a status outside ``expect``, or the request
    could not be made. ``status`` is ``None`` for transport failures."""

    error = "HttpError"

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        self.status = status
        # What a catch's `when` and the caught value see: the status and a
        # bounded excerpt of the body (None for a transport failure).
        self.details = None if status is None else {"status": status, "body": body or ""}
        super().__init__(message)


class HttpTimeout(WfdslError):
    """An ``http`` call hit its ``timeout``; reported under the name ``Timeout``."""

    error = "Timeout"


class ShellDisabled(WfdslError):
    """The ``shell`` action was called where the operator has not enabled it."""

    error = "ShellDisabled"


class ShellError(WfdslError):
    """A ``shell`` command exited with a code outside ``expect`` or could not start."""

    error = "ShellError"

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class ShellTimeout(WfdslError):
    """A ``shell`` command hit its ``timeout`` and was killed; named ``Timeout``."""

    error = "Timeout"


# ------------------------------------------------------------------ helpers


def _seconds(value: float | str | None, default: float | None, what: str) -> float | None:
    if value is None:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ArgumentError(f"{what}: {exc}") from None
    if seconds <= 0:
        raise ArgumentError(f"{what}: timeout must be positive, got {value!r}")
    return seconds


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _codes(expect: int | Sequence[int] | None, what: str) -> tuple[int, ...] | None:
    if expect is None:
        return None
    values = [expect] if isinstance(expect, int) else expect
    if isinstance(values, (str, bytes)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ArgumentError(f"{what}: expect must be a number or a list of numbers, got {expect!r}")
    return tuple(values)


# ------------------------------------------------------------------ http


class HttpAction:
    """The ``http`` built-in. ``transport`` replaces the network (tests pass an
    ``httpx.MockTransport``). One ``httpx.AsyncClient`` is kept per event loop
    (clients cannot cross loops) for connection reuse; :meth:`aclose` closes
    the current loop's client."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        default_timeout: float = 30.0,
        max_body_bytes: int = 10_000_000,
    ) -> None:
        self._transport = transport
        self._default_timeout = default_timeout
        self._max_body = max_body_bytes
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> httpx.AsyncClient:
        import httpx

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(transport=self._transport, follow_redirects=True)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the client of the running loop, if any."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def __call__(
        self,
        url: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        body: str | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | str | None = None,
        expect: int | Sequence[int] | None = None,
        *,
        ctx: ActionContext | None = None,
    ) -> dict[str, Any]:
        """Make one request; returns ``{status, headers, json, text}``. The
        attempt's trace context goes along as ``traceparent`` (and
        ``tracestate``) unless ``headers`` set one."""
        import httpx

        if ctx is not None and ctx.trace.get("traceparent"):
            headers = _with_trace(headers, ctx.trace)

        if not isinstance(url, str) or not url:
            raise ArgumentError(f"http: url must be a non-empty string, got {url!r}")
        if not isinstance(method, str) or not method.isalpha():
            raise ArgumentError(f"http: method must be a word such as GET or POST, got {method!r}")
        method = method.upper()
        if json is not None and body is not None:
            raise ArgumentError("http: give either json or body, not both")
        if body is not None and not isinstance(body, str):
            raise ArgumentError(
                f"http: body must be a string (use json for data), got a {type(body).__name__}"
            )
        codes = _codes(expect, "http")
        seconds = _seconds(timeout, self._default_timeout, "http")
        where = f"{method} {_safe_url(url)}"
        try:
            response, content = await self._send(method, url, headers, json, body, params, seconds)
        except httpx.TimeoutException as exc:
            raise HttpTimeout(
                f"{where} timed out after {format_duration(seconds or 0)} ({type(exc).__name__})"
            ) from None
        except httpx.HTTPError as exc:
            raise HttpError(f"{where} failed: {type(exc).__name__}: {exc}") from None
        text = content.decode(response.encoding or "utf-8", errors="replace")
        status = response.status_code
        if not (200 <= status < 300 if codes is None else status in codes):
            wanted = "2xx" if codes is None else ", ".join(map(str, codes))
            excerpt = _excerpt(text)
            raise HttpError(
                f"{where} answered {status}, expected {wanted}"
                + (f": {excerpt}" if excerpt else ""),
                status=status,
                body=excerpt,
            )
        return {
            "status": status,
            "headers": dict(response.headers),
            "json": _parse_json(response, content),
            "text": text,
        }

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        json: Any,
        body: str | None,
        params: Mapping[str, Any] | None,
        seconds: float | None,
    ) -> tuple[httpx.Response, bytes]:
        import httpx

        client = self._client()
        request = client.build_request(
            method,
            url,
            headers=dict(headers) if headers else None,
            json=json,
            content=body,
            params=dict(params) if params else None,
            timeout=httpx.Timeout(seconds),
        )
        response = await client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_body:
                    raise HttpError(
                        f"{method} {_safe_url(url)} answered a body over "
                        f"{self._max_body} bytes; fetch large files outside the workflow",
                        status=response.status_code,
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response, b"".join(chunks)


def _safe_url(url: str) -> str:
    import httpx

    try:
        parsed = httpx.URL(url)
    except Exception:
        return _excerpt(url, 120)
    shown = parsed.copy_with(query=None, fragment=None, username=None, password=None)
    return str(shown) + ("?..." if parsed.query else "")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(response: httpx.Response, content: bytes) -> Any:
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not (kind == "application/json" or kind.endswith("+json")) or not content:
        return None
    try:
        return jsonlib.loads(content, parse_constant=_reject_constant)
    except ValueError:
        return None


# ------------------------------------------------------------------ log, noop


def log_action(message: Any = "", level: str = "info", *, ctx: ActionContext) -> None:
    """The ``log`` built-in: one line on the ``wfdsl.actions.log`` logger."""
    number = _LEVELS.get(level.lower()) if isinstance(level, str) else None
    if number is None:
        raise ArgumentError(f"log: level must be one of {', '.join(_LEVELS)}, got {level!r}")
    text = message if isinstance(message, str) else jsonlib.dumps(message, default=repr)
    _LOG.log(
        number,
        "run '%s' state '%s' attempt %d: %s",
        ctx.run_id,
        ctx.state,
        ctx.attempt,
        text,
        extra={"run_id": ctx.run_id, "state": ctx.state, "attempt": ctx.attempt},
    )


def noop_action(**args: Any) -> dict[str, Any] | None:
    """The ``noop`` built-in: its args as a map, or ``None`` without any."""
    return args or None


# ------------------------------------------------------------------ shell


class ShellAction:
    """The ``shell`` built-in; refuses with ``ShellDisabled`` unless ``enabled``."""

    def __init__(self, *, enabled: bool = False, max_output_bytes: int = 1_000_000) -> None:
        self.enabled = enabled
        self._max_output = max_output_bytes

    async def __call__(
        self,
        command: str | Sequence[str],
        env: Mapping[str, Any] | None = None,
        cwd: str | None = None,
        timeout: float | str | None = None,
        expect: int | Sequence[int] | None = None,
    ) -> dict[str, Any]:
        """Run ``command``; returns ``{code, stdout, stderr}``."""
        if not self.enabled:
            raise ShellDisabled(
                "the shell action is disabled: running commands is the operator's choice; "
                "enable it with Engine(..., allow_shell=True) or the --allow-shell option of "
                "wfdsl run, worker and serve"
            )
        codes = _codes(expect, "shell") or (0,)
        seconds = _seconds(timeout, None, "shell")
        environment = _environment(env)
        shown = _excerpt(command if isinstance(command, str) else " ".join(map(str, command)), 120)
        try:
            if isinstance(command, str):
                if not command.strip():
                    raise ArgumentError("shell: command is empty")
                proc = await asyncio.create_subprocess_exec(
                    "/bin/sh",
                    "-c",
                    command,
                    env=environment,
                    cwd=cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,
                )
            else:
                argv = _argv(command)
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    env=environment,
                    cwd=cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,
                )
        except OSError as exc:
            raise ShellError(f"command '{shown}' could not start: {exc}") from None
        try:
            async with asyncio.timeout(seconds):
                out, err = await proc.communicate()
        except TimeoutError:
            raise ShellTimeout(
                f"command '{shown}' did not finish within {format_duration(seconds or 0)}; killed"
            ) from None
        finally:
            if proc.returncode is None:
                _kill(proc)
                with contextlib.suppress(Exception):
                    await asyncio.shield(proc.wait())
        code = proc.returncode
        assert code is not None
        stdout, stderr = self._text(out), self._text(err)
        if code not in codes:
            tail = " ".join(stderr.split())[-_EXCERPT:]
            raise ShellError(
                f"command '{shown}' exited with {code}, expected "
                f"{', '.join(map(str, codes))}" + (f": {tail}" if tail else ""),
                code=code,
            )
        return {"code": code, "stdout": stdout, "stderr": stderr}

    def _text(self, data: bytes) -> str:
        if len(data) <= self._max_output:
            return data.decode("utf-8", errors="replace")
        kept = data[: self._max_output].decode("utf-8", errors="replace")
        return kept + f"\n[... {len(data) - self._max_output} more bytes cut]"


def _argv(command: Sequence[str]) -> list[str]:
    if isinstance(command, (bytes, bytearray)) or not isinstance(command, Sequence):
        raise ArgumentError(
            f"shell: command must be a string or a list of strings, got {command!r}"
        )
    argv = [str(part) if isinstance(part, (int, float)) else part for part in command]
    if not argv or not all(isinstance(part, str) for part in argv):
        raise ArgumentError(f"shell: command must be a non-empty list of strings, got {command!r}")
    return argv


def _environment(env: Mapping[str, Any] | None) -> dict[str, str] | None:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise ArgumentError(f"shell: env must be a map of names to values, got {env!r}")
    merged = dict(os.environ)
    for name, value in env.items():
        if isinstance(value, bool):
            merged[str(name)] = "true" if value else "false"
        elif isinstance(value, (str, int)) or (isinstance(value, float) and math.isfinite(value)):
            merged[str(name)] = str(value)
        else:
            raise ArgumentError(
                f"shell: env value of {name!r} must be text or a number, got {value!r}"
            )
    return merged


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


# ------------------------------------------------------------------ registry


def _with_trace(headers: Mapping[str, str] | None, trace: Mapping[str, str]) -> dict[str, str]:
    given = dict(headers or {})
    if any(str(name).lower() == "traceparent" for name in given):
        return given  # the flow's own header wins
    for name in ("traceparent", "tracestate"):
        if trace.get(name):
            given[name] = trace[name]
    return given


class Builtins:
    """The built-in actions configured for one runner: ``registry`` holds them
    under their names; :meth:`aclose` releases the ``http`` client."""

    def __init__(
        self,
        *,
        allow_shell: bool = False,
        http_transport: httpx.AsyncBaseTransport | None = None,
        http_timeout: float = 30.0,
    ) -> None:
        self.http = HttpAction(transport=http_transport, default_timeout=http_timeout)
        self.shell = ShellAction(enabled=allow_shell)
        self.registry = ActionRegistry(name="builtin")
        self.registry.register("http", self.http)
        self.registry.register("log", log_action)
        self.registry.register("noop", noop_action, inline=True)
        self.registry.register("shell", self.shell)

    async def aclose(self) -> None:
        """Close what the built-ins hold on the running loop."""
        await self.http.aclose()
