"""Command-line instants: one rule for every option that takes one.

An option such as ``--at``, ``--as-of``, ``--from`` or ``--to`` takes an
ISO 8601 instant with its offset (``2026-05-01T10:00:00Z``) or a bare date
(``2026-05-01``), a day of the programme's time zone (the chart's
``programme.timezone``; see :func:`loyalty_accounts.vocabulary.instants.parse_instant`).
A day means what finance means by it: when something happens on it
(``--at``, ``--ordered-at``, a sweep's ``--as-of``), its start; a report or a
balance ``--as-of`` a day and a window ``--to`` a day include all of it (the
last microsecond of the day); a window ``--from`` a day starts with it (the
window is ``(--from, --to]``: the instant before the day's start). No text
means now. Errors are InvalidCommand (exit 2).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Literal

from ..vocabulary.instants import day_start
from ..vocabulary.instants import parse_instant as parse_text

DayMeans = Literal["start", "end", "before"]
"""What a bare date names: its first instant, its last (through the day), or the instant before it."""
ONE_MICROSECOND = timedelta(microseconds=1)
BARE_DATE: dict[str, str] = {"start": "the start of that day", "end": "the whole of that day", "before": "a window starting with that day"}
"""How an error message says what a bare date would have named."""


def programme_zone() -> tzinfo:
    """The time zone of the programme the running command uses (its chart's ``programme.timezone``)."""

    from .context import current_app

    app = current_app()
    if app is None:
        raise RuntimeError("no loyalty command is running: pass zone= explicitly")
    return app.chart.timezone


def parse_instant(
    text: str | None, *, option: str = "--at", zone: tzinfo | None = None, day: DayMeans = "start"
) -> datetime:
    """The instant an option names, in UTC; no text means now.

    ``zone`` is where a bare date is read (default: the programme's time zone); ``day`` what a bare date
    names (see the module docstring).
    """

    if text is None:
        return datetime.now(timezone.utc)
    where = zone if zone is not None else programme_zone()
    moment = parse_text(text, where, what=option, bare=BARE_DATE[day])
    if day == "start" or len(text.strip()) != 10:  # an instant, or a day's start: as written
        return moment
    if day == "before":
        return moment - ONE_MICROSECOND
    following = date.fromisoformat(text.strip()) + timedelta(days=1)
    try:
        return day_start(following, where) - ONE_MICROSECOND
    except OverflowError:  # the last day the ledger keeps
        return moment
