"""Command-line instants: one rule for every option that takes one.

An option such as ``--at``, ``--as-of``, ``--from`` or ``--to`` takes an
ISO 8601 instant with its offset (``2026-05-01T10:00:00Z``) or a bare date
(``2026-05-01``), which is the start of that day in the programme's time zone
(the chart's ``programme.timezone``; see
:func:`loyalty_accounts.vocabulary.instants.parse_instant`). No text means
now. Errors are InvalidCommand (exit 2).
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from ..vocabulary.instants import parse_instant as parse_text


def programme_zone() -> tzinfo:
    """The time zone of the programme the running command uses (its chart's ``programme.timezone``)."""

    from .context import current_app

    app = current_app()
    if app is None:
        raise RuntimeError("no loyalty command is running: pass zone= explicitly")
    return app.chart.timezone


def parse_instant(text: str | None, *, option: str = "--at", zone: tzinfo | None = None) -> datetime:
    """The instant an option names, in UTC; no text means now.

    ``zone`` is where a bare date is read (default: the programme's time zone).
    """

    if text is None:
        return datetime.now(timezone.utc)
    return parse_text(text, zone if zone is not None else programme_zone(), what=option)
