"""Command-line values turned into domain values: instants and money.

Shared by every command group, so an instant or an amount is read, and
refused, the same way everywhere. Errors are InvalidCommand (exit 2).
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..errors import InvalidCommand


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
