"""Command-line values turned into domain values: instants and money.

Shared by every command group, so an instant or an amount is read, and
refused, the same way everywhere. Errors are InvalidCommand (exit 2).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

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
        example = text if "T" in text or " " in text else f"{text}T00:00:00"
        raise InvalidCommand(f"{option}: {text!r} has no UTC offset; write e.g. {example}Z or {example}+01:00")
    return moment


_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
"""Digits with an optional decimal point: no exponent, sign, separator or space (``1e3`` is not 1000)."""


def parse_money(amount: str, currency: str) -> Money:
    """An exact decimal amount written plainly (``12.50``; never a float) in an upper-cased currency."""

    if not _PLAIN_DECIMAL.fullmatch(amount):
        raise InvalidCommand(f"--amount: {amount!r} is not a plain decimal number; write e.g. 12.50")
    return Money(amount=Decimal(amount), currency=currency.upper())
