"""Handlers (docs/reference.md, handlers): synchronous, atomic calls into a run.

Decisions: a handler reads and writes the root thread's ``vars`` (branches
keep their own copies); its scope is ``input``, ``vars``, ``run``, ``args``.
``return`` is evaluated after ``set`` applied. Every expression is evaluated
before anything is written, so a failing ``when``, ``set``, ``emit`` or
``return`` (answered as ``ExpressionError``) changes nothing, like a guard
that does not hold (``HandlerRejected``): such calls and queries (handlers
without ``set``/``emit``) write no history and leave the run as it was; a
mutating call that applies writes one ``handler_called`` event (plus
``vars_changed``). Queries work on finished runs; a mutating handler on a
finished run is rejected. Checking ``args`` against the handler's ``input``
schema is the engine's job (it answers before the machine is called).
"""

from __future__ import annotations

from typing import Any

from wfdsl.dsl.model import Handler

from wfdsl.errors import ExpressionError

from .context import Context
from .scope import Failure, write_path
from .steps import CallHandler, ReplyHandler

__all__ = ["call"]


def call(ctx: Context, trigger: CallHandler) -> bool:
    """Answer the call (a ReplyHandler command); True when the run changed."""
    handler = ctx.workflow.handlers.get(trigger.handler)
    if handler is None:
        known = ", ".join(sorted(ctx.workflow.handlers)) or "none"
        _reply(
            ctx,
            trigger,
            error="HandlerNotFound",
            message=(f"run '{ctx.run.id}' has no handler '{trigger.handler}' (handlers: {known})"),
        )
        return False
    if not handler.is_query and ctx.status is not None:
        _reply(
            ctx,
            trigger,
            error="HandlerRejected",
            message=(
                f"run '{ctx.run.id}' is {ctx.status}: handler '{handler.name}' changes the run "
                "and cannot be called on a finished run"
            ),
        )
        return False
    try:
        outcome = _evaluate(ctx, handler, trigger.args)
    except Failure as failure:
        _reply(ctx, trigger, error=failure.error, message=failure.message)
        return False
    if outcome is None:
        _reply(
            ctx,
            trigger,
            error="HandlerRejected",
            message=(f"run '{ctx.run.id}' handler '{handler.name}': its when guard does not hold"),
        )
        return False
    new_vars, changed, message, value = outcome
    _reply(ctx, trigger, value=value)
    if handler.is_query:
        return False
    root = ctx.state.root
    if root is not None:
        root.vars = new_vars
    ctx.event(
        "handler_called", None, {"handler": handler.name, "args": trigger.args, "return": value}
    )
    if changed:
        ctx.event("vars_changed", None, {"changed": changed})
    if message is not None:
        ctx.send(message[0], message[1], message[2])
    return True


def _evaluate(
    ctx: Context, handler: Handler, args: Any
) -> tuple[dict[str, Any], dict[str, Any], tuple[str | None, str, Any] | None, Any] | None:
    """(new vars, changed paths, message to send, return value), or None when
    the guard does not hold. Raises Failure for an expression error."""
    where = f"run '{ctx.run.id}' handler '{handler.name}'"
    ctx.hooks.at_seq(ctx.state.seq)

    def scope(vars_: Any) -> dict[str, Any]:
        return {"input": ctx.run.input, "vars": vars_, "run": ctx.run_info, "args": args}

    try:
        vars_: dict[str, Any] = dict(ctx.root_vars)
        if handler.when is not None and not handler.when.evaluate(scope(vars_), ctx.hooks):
            return None
        changed: dict[str, Any] = {}
        values = [(a.target, a.value.evaluate(scope(vars_), ctx.hooks)) for a in handler.set]
        for target, value in values:
            vars_ = write_path(vars_, target.parts, value)
            changed[target.text] = value
        message = None
        if handler.emit is not None:
            emit = handler.emit
            data = emit.data.evaluate(scope(vars_), ctx.hooks) if emit.data is not None else None
            target_run = (
                emit.run.evaluate(scope(vars_), ctx.hooks) if emit.run is not None else None
            )
            message = (None if target_run is None else str(target_run), emit.signal, data)
        value = (
            handler.returns.evaluate(scope(vars_), ctx.hooks)
            if handler.returns is not None
            else None
        )
    except ExpressionError as exc:
        raise Failure("ExpressionError", f"{where}: {exc}") from None
    return vars_, changed, message, value


def _reply(
    ctx: Context,
    trigger: CallHandler,
    *,
    value: Any = None,
    error: str | None = None,
    message: str | None = None,
) -> None:
    ctx.command(
        ReplyHandler(
            call_id=trigger.call_id, ok=error is None, value=value, error=error, message=message
        )
    )
