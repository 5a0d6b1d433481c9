"""Instants and days: one parser, one rule.

**The rule.** An instant is written in ISO 8601 *with* its offset
(``2026-05-01T10:15:00Z``, ``2026-05-01T12:15:00+02:00``); a time without an
offset names no instant and is refused. A bare date (``2026-05-01``) is the
*start of that day in a named time zone*: the programme's (the chart's
``programme.timezone``) for command-line options and reports, a campaign's
own ``timezone`` for its window in the rules file. Every instant the package
keeps is in UTC.

Inside the package an instant is a timezone-aware ``datetime``; the helpers
below render it for metadata (:func:`iso_instant`), references (:func:`stamp`)
and bucket dates (:func:`iso_day`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from ..errors import InvalidCommand
from .quoting import quoted

Instant = AwareDatetime
"""A timezone-aware instant (pydantic refuses a naive one); commands keep it in UTC."""

EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The first instant the package accepts from text. Earlier dates are refused: Formance treats Go's zero time
(0001-01-01) as "no point in time", so a report as of year 1 would silently read the present."""
LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)
"""The first instant refused at the other end (room left for a day's arithmetic before datetime's end)."""

_BARE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_AND_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*")


def utc(value: datetime) -> datetime:
    """``value`` in UTC; InvalidCommand if it has no offset."""

    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCommand(f"instant {value.isoformat()} has no time zone")
    return value.astimezone(timezone.utc)


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC (DST-aware: midnight as the zone has it)."""

    return datetime.combine(day, time(), tzinfo=zone).astimezone(timezone.utc)


def day_of(instant: datetime, zone: tzinfo) -> date:
    """The calendar day ``instant`` falls on in ``zone``."""

    return utc(instant).astimezone(zone).date()


def day_bounds(instant: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The day ``instant`` falls on in ``zone`` as [start, end) in UTC (23 or 25 hours across DST)."""

    day = day_of(instant, zone)
    return day_start(day, zone), day_start(day + timedelta(days=1), zone)


def parse_instant(text: str, zone: tzinfo, *, what: str = "instant", bare: str = "the start of that day") -> datetime:
    """An instant from text, in UTC: ISO 8601 with an offset, or a bare date (start of that day in ``zone``).

    Raises InvalidCommand, naming ``what`` (e.g. ``--as-of``), for anything
    else: a time without an offset, an offset without a time, text that is
    not ISO 8601, or an instant outside [:data:`EARLIEST`, :data:`LATEST`).
    """

    text = text.strip()
    if _BARE_DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidCommand(f"{what}: {quoted(text)} is not a calendar date") from None
        try:
            return _in_range(day_start(day, zone), text, what)
        except OverflowError:  # year 1 east of UTC, year 9999 west of it
            return _in_range(None, text, what)
    try:
        if not _DATE_AND_TIME.fullmatch(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        example = _example_day(text[:10])
        raise InvalidCommand(
            f"{what}: {quoted(text)} is not an ISO 8601 instant or date; write e.g. {example}T10:00:00Z, "
            f"or {example} for {bare} in {zone_name(zone)}"
        ) from None
    if moment.tzinfo is None:
        # The caller's own instant as the example, when it is one the ledger keeps with any offset.
        own = EARLIEST + timedelta(days=1) <= moment.replace(tzinfo=timezone.utc) < LATEST - timedelta(days=1)
        example = text if own else "2026-05-01T10:00:00"
        raise InvalidCommand(
            f"{what}: {quoted(text)} has no UTC offset; write e.g. {example}Z or {example}+01:00 "
            f"(a bare date such as {example[:10]} is {bare} in {zone_name(zone)})"
        )
    try:
        return _in_range(moment.astimezone(timezone.utc), text, what)
    except OverflowError:
        return _in_range(None, text, what)


def _example_day(head: str) -> str:
    """The day to write in an error's example: ``head`` when it is a real calendar date (the caller's
    own day), else a fixed one, so that the example given is always accepted."""

    if _BARE_DATE.fullmatch(head):
        try:
            day = date.fromisoformat(head)
        except ValueError:
            day = None
        # a day the ledger keeps whatever the time zone: not the first or last of its range
        if day is not None and EARLIEST.date() < day < LATEST.date() - timedelta(days=1):
            return head
    return "2026-05-01"


def _in_range(moment: datetime | None, text: str, what: str) -> datetime:
    if moment is None or not EARLIEST <= moment < LATEST:
        raise InvalidCommand(
            f"{what}: {quoted(text)} is outside the instants the ledger keeps "
            f"(from {iso_instant(EARLIEST)}, before {iso_instant(LATEST)})"
        )
    return moment


def iso_instant(value: datetime) -> str:
    """An instant in metadata: UTC, ISO 8601 with a Z."""

    return utc(value).isoformat().replace("+00:00", "Z")


def iso_day(value: date | None) -> str:
    """A bucket date in metadata: ``2027-01-01``, or ``never`` for points that do not expire."""

    return "never" if value is None else value.isoformat()


def day_from_metadata(text: str) -> date | None:
    """The inverse of :func:`iso_day`; InvalidCommand for anything else."""

    if text == "never":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f"{quoted(text)} is not a date (YYYY-MM-DD) or 'never'") from None


def stamp(value: datetime) -> str:
    """An instant inside a reference: ``20260301T101500Z``."""

    return utc(value).strftime("%Y%m%dT%H%M%SZ")


def whole_second(value: datetime) -> datetime:
    """``value`` without its fraction of a second: the resolution of :func:`stamp`.

    A sweep's as-of instant is in its references to the second and in its
    fingerprint in full; kept to the second, two runs within one second (the
    CLI's default "now") are the same run instead of a clash.
    """

    return value.replace(microsecond=0)


SweepInstant = Annotated[AwareDatetime, AfterValidator(whole_second)]
"""The as-of instant of a sweep (release, expire), kept to the whole second (see :func:`whole_second`)."""
