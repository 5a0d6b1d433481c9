"""What the CLI says on stderr besides its answer: warnings and progress, as much as ``-v``/``-q`` ask.

One style for everything on stderr: ``error: ...`` (:func:`~.shell.fail`),
``warning: ...``, ``info: ...`` and ``debug: ...`` from the package's loggers
(the ledger client's retry warnings among them), and rich progress bars on
long work. ``-q`` keeps only errors (no warnings, no progress bars); ``-v``
adds info, ``-vv`` debug. The set-up lasts one invocation: it is undone when
the command ends, so a library user's own logging is never changed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["configure", "progress", "say"]

PACKAGE_LOGGER = "loyalty_accounts"
_state = {"quiet": False}


class _StderrHandler(logging.Handler):
    """A record as ``level: message`` on the current stderr (looked up at each record, as typer.echo does)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            typer.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def level_for(verbose: int, quiet: bool) -> int:
    """``-q``: errors only; default: warnings; ``-v``: info; ``-vv`` (or more): debug."""

    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure(ctx: typer.Context, *, verbose: int, quiet: bool) -> None:
    """Route the package's log records to stderr at the level ``-v``/``-q`` ask, until ``ctx`` closes.

    Raises typer.BadParameter when both are given (exit 2).
    """

    if quiet and verbose:
        raise typer.BadParameter("choose one of -q (errors only) and -v (more detail)")
    logger = logging.getLogger(PACKAGE_LOGGER)
    handler = _StderrHandler()
    previous_level, previous_quiet = logger.level, _state["quiet"]
    logger.addHandler(handler)
    logger.setLevel(level_for(verbose, quiet))
    _state["quiet"] = quiet

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        _state["quiet"] = previous_quiet

    ctx.call_on_close(undo)


def say(message: str) -> None:
    """A line of what long work is doing (the local stack's bring-up), on stderr unless ``-q``."""

    if not _state["quiet"]:
        typer.echo(message, err=True)


class progress:
    """A progress bar on stderr labelled ``label`` for long work, shown once there is something to count.

    Used as ``with progress("expiring") as update: ... update(done, total)``;
    silent under ``-q``, when nothing is counted, and when stderr is not a
    terminal (a log file or a pipe gets no bar drawings).
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Progress | None = None
        self.task: Any = None

    def __enter__(self) -> Callable[[int, int], None]:
        def update(done: int, total: int) -> None:
            if _state["quiet"]:
                return
            if self.bar is None:
                console = Console(file=sys.stderr)
                if not console.is_terminal:
                    return
                self.bar = Progress(
                    TextColumn(self.label),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=console,
                )
                self.bar.start()
                self.task = self.bar.add_task(self.label, total=total)
            self.bar.update(self.task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
