"""What ``wfdsl run`` and ``wfdsl worker`` show while runs move.

Transitions arrive through the public :meth:`Engine.watch`; each event is
put in words (``cli_words``) with a human time on a terminal and an ISO time
in a pipe. On a terminal a status line (steps, runs in flight, elapsed)
stays at the bottom (rich's ``Live``, transient: it leaves nothing behind);
in a pipe or under ``--json`` there is none. The ``log`` action's messages
(logger ``wfdsl.actions.log``) are shown as they are logged.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from wfdsl.cli_output import plural, stamp
from wfdsl.cli_words import describe_event, describe_position
from wfdsl.interpreter.run_view import Run, Transition

__all__ = ["LOG_LOGGER", "Live", "LogLines", "stream_for"]

LOG_LOGGER = "wfdsl.actions.log"

_STYLE = {
    "run_completed": "bold green",
    "run_failed": "bold red",
    "run_cancelled": "bold red",
    "action_failed": "red",
    "branch_completed": "green",
    "timer_fired": "cyan",
    "signal_consumed": "cyan",
    "paused": "yellow",
}


_ENDS = frozenset({"run_completed", "run_failed", "run_cancelled"})


class Live:
    """Prints transitions (all, or only a run's end) and keeps the status
    line. ``only`` limits the lines to one run (``wfdsl run``); ``every``
    prints each event, else only runs ending (``wfdsl worker`` without -v);
    ``quiet`` (``--json``) prints no transition at all.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        only: str | None = None,
        every: bool = True,
        with_run: bool = False,
        status: bool = True,
        quiet: bool = False,
    ) -> None:
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.human = self.console.is_terminal
        self.only = only
        self.every = every
        self.with_run = with_run
        self.quiet = quiet
        self.steps = 0
        self.started = time.monotonic()
        self.in_flight: set[str] = set()
        self.ended = 0
        self._live: Any = None
        if status and self.human:
            from rich.live import Live as RichLive

            self._live = RichLive(
                get_renderable=self._status,
                console=self.console,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
            )

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> Live:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    # ------------------------------------------------------------ lines

    def line(self, text: Text | str) -> None:
        self.console.print(text)

    def __call__(self, transition: Transition) -> None:
        run = transition.run
        self.steps += 1
        if run.done:
            self.in_flight.discard(run.id)
            self.ended += 1
        else:
            self.in_flight.add(run.id)
        if self.quiet or (self.only is not None and run.id != self.only):
            return
        for event in transition.events:
            if not self.every and event.type not in _ENDS:
                continue
            words = describe_event(event)
            if words is None:
                continue
            self.line(self._row(event.time, run, event.state, words, event.type))
        if self.every and not run.done and transition.events[-1].type != "paused":
            for position in run.positions():
                if position.phase == "waiting" and _armed_now(transition, position.path):
                    words = describe_position(position, human=self.human)
                    self.line(self._row(transition.events[-1].time, run, position.path, words))

    def _row(self, when: float, run: Run, state: str | None, words: str, kind: str = "") -> Text:
        text = Text()
        text.append(stamp(when, human=self.human), style="dim")
        if self.with_run:
            text.append(f"  {run.id} {run.workflow}", style="bold")
        if state:
            text.append(f"  {state}", style="bold")
        text.append(f"  {words}", style=_STYLE.get(kind, ""))
        return text

    def _status(self) -> Text:
        elapsed = time.monotonic() - self.started
        minutes, seconds = divmod(int(elapsed), 60)
        return Text(
            f"{plural(self.steps, 'step')} · {plural(len(self.in_flight), 'run')} in flight · "
            f"{self.ended} ended · {minutes}:{seconds:02d} elapsed",
            style="dim",
        )


def _armed_now(transition: Transition, path: str) -> bool:
    """Whether this transition entered the wait at ``path`` (so it is
    described once, when it starts waiting, not at every later step)."""
    return any(
        e.state == path and e.type in ("state_entered", "timer_started", "resumed")
        for e in transition.events
    )


class LogLines(logging.Handler):
    """The ``log`` action's messages, as lines through ``show``."""

    def __init__(
        self,
        show: Callable[[Text], None],
        *,
        human: bool,
        now: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(logging.DEBUG)
        self.show = show
        self.human = human
        # The engine's clock: under --virtual-time a message is dated like
        # the transitions around it, not with the wall clock.
        self.now = now

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = Text()
            when = self.now() if self.now is not None else record.created
            text.append(stamp(when, human=self.human), style="dim")
            state = getattr(record, "state", None)
            if state:
                text.append(f"  {state}", style="bold")
            level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
            message = record.getMessage()
            # The record carries run/state/attempt as extras; the line keeps
            # only the message after the logger's "run ... attempt N: " prefix.
            if isinstance(record.args, tuple) and record.args:
                message = str(record.args[-1])
            text.append(f"  log: {level}{message}")
            self.show(text)
        except Exception:  # a logging handler must never raise into the action
            self.handleError(record)

    def __enter__(self) -> LogLines:
        logger = logging.getLogger(LOG_LOGGER)
        logger.addHandler(self)
        if logger.getEffectiveLevel() > logging.INFO:
            self._level: int | None = logger.level
            logger.setLevel(logging.INFO)
        else:
            self._level = None
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger(LOG_LOGGER)
        logger.removeHandler(self)
        if self._level is not None:
            logger.setLevel(self._level)


def stream_for(as_json: bool) -> IO[str]:
    """Human lines go to stdout, or to stderr under ``--json``."""
    return sys.stderr if as_json else sys.stdout
