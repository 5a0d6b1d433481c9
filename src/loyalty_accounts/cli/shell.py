"""Turning package errors into one-line messages and meaningful exit codes.

0 ok, 1 business rejection (insufficient points, duplicate key...), 2 bad input
or usage, 3 ledger or local server unavailable, 4 a write's outcome unknown
(``OutcomeUnknown``: run the same command again to learn).
"""

from __future__ import annotations

from typing import Callable, NoReturn, TypeVar

import typer

from ..errors import LoyaltyError

T = TypeVar("T")


def fail(message: str, code: int) -> NoReturn:
    """``error: message`` on one line of stderr (a message listing several problems is joined), then exit ``code``."""

    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1:
        message = f"{lines[0].rstrip(':')}: " + "; ".join(lines[1:])
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


LEDGER_HINT = "create it with `loyalty init`, or name another with --ledger (`loyalty demo` writes to the ledger 'demo')"
"""What to do when the ledger named does not exist (the server's LEDGER_NOT_FOUND)."""
SCHEMA_HINT = "the chart changed since `loyalty init` applied it: run `loyalty init` to apply this chart as a new schema version"
"""What to do when the chart's schema version is not on the ledger (the server's NOT_FOUND for a schema version)."""


def hint_for(error: LoyaltyError) -> str | None:
    """What the user can do about ``error``, when the CLI knows better than the message does."""

    if error.code == "LEDGER_NOT_FOUND":
        return LEDGER_HINT
    if error.code == "NOT_FOUND" and "schema version" in error.message:
        return SCHEMA_HINT
    return None


def run_guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except LoyaltyError as exc:
        hint = hint_for(exc)
        fail(exc.message + (f": {hint}" if hint else ""), exc.exit_code)
