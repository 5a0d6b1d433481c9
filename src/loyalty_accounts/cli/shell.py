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
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run_guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except LoyaltyError as exc:
        fail(exc.message, exc.exit_code)
