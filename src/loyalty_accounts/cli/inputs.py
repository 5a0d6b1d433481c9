"""Command-line values turned into domain values: instants and money.

Shared by every command group, so an instant or an amount is read, and
refused, the same way everywhere. Errors are InvalidCommand (exit 2).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from ..errors import InvalidCommand
from ..operations import Money


def parse_instant(text: str | None, *, option: str = "--at") -> datetime:
    """An instant with its offset as written; no text means now. A naive instant is refused."""

    if text is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidCommand(f"{option}: {text!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise InvalidCommand(f"{option}: {text!r} has no UTC offset; write e.g. {text}Z or {text}+01:00")
    return moment


def parse_money(amount: str, currency: str) -> Money:
    """An exact decimal amount (never a float) in an upper-cased currency."""

    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InvalidCommand(f"--amount: {amount!r} is not a decimal number") from None
    return Money(amount=value, currency=currency.upper())
