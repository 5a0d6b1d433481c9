"""Kinds of point and their expiry periods (``policies.expiry_days`` and ``policies.point_kinds``).

A point is *base* (earned by an order's own price), *bonus* (the part of an
order's points its campaigns added, and engagement awards) or *transferred*
(received from another member). Base points expire ``policies.expiry_days``
after the day they were earned; a chart may give bonus and transferred
points a period of their own under ``policies.point_kinds``, in days or in
calendar months. A kind the chart does not declare is kept with base points
(same buckets, same period): a chart with only ``expiry_days`` behaves as
before kinds existed.

Where the kind shows: the ``{expiry}`` segment of a bucket or pending account
carries a suffix for every kind but base, ``-{kind}``
(``customers:c42:points:20270601`` base, ``customers:c42:points:20261201-bonus``
bonus), so base addresses are those of before and every address filter on
buckets still matches one segment. ``noexpiry`` never carries a suffix: points
that never expire need no kind to tell them apart.

Calendar months: N months after day *d* is the same day of the month N months
later, or that month's last day when it is shorter (earned 31 August, 6
months → 28 February, 29 in a leap year). Going back (the earn cohort of an
expiry date) subtracts the months the same way, which always lands in the earn
month, so cohorts (months) are exact whatever the month ends.

Worked example, chart base 365 days, bonus 6 months, transferred 3 months;
an order on 2026-01-31 priced 120 points of which 30 by a campaign::

    base  90 → bucket 20270131        (2026-01-31 + 365 days)
    bonus 30 → bucket 20260731-bonus  (2026-01-31 + 6 months)
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..errors import InvalidCommand
from ..vocabulary.frozen import Frozen

PointKind = Literal["base", "bonus", "transferred"]
BASE: PointKind = "base"
BONUS: PointKind = "bonus"
TRANSFERRED: PointKind = "transferred"
KIND_SUFFIX = "-"
NO_EXPIRY = "noexpiry"
DATE_FORMAT = "%Y%m%d"
SPEND_RANK: dict[str, int] = {TRANSFERRED: 0, BONUS: 1, BASE: 2}
"""Between buckets of the same expiry date: which is spent (and expired) first."""


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (negative: back), clamped to the target month's last day."""

    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Period(Frozen):
    """How long points of a kind stay spendable: days, or calendar months (at most one; neither = never)."""

    expiry_days: Annotated[int, Field(ge=1)] | None = None
    expiry_months: Annotated[int, Field(ge=1, le=1200)] | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> "Period":
        if self.expiry_days is not None and self.expiry_months is not None:
            raise ValueError("give expiry_days or expiry_months, not both")
        return self

    @property
    def never(self) -> bool:
        return self.expiry_days is None and self.expiry_months is None

    def after(self, day: date) -> date | None:
        """The expiry date of points earned on ``day`` (the first day they are no longer spendable); None: never."""

        if self.expiry_days is not None:
            return day + timedelta(days=self.expiry_days)
        if self.expiry_months is not None:
            return add_months(day, self.expiry_months)
        return None

    def before(self, expiry: date) -> date:
        """A day whose points expire on ``expiry``: in the earn month exactly (the day itself for periods in days)."""

        if self.expiry_days is not None:
            return expiry - timedelta(days=self.expiry_days)
        if self.expiry_months is not None:
            return add_months(expiry, -self.expiry_months)
        raise InvalidCommand("points that never expire have no earn date in their bucket")

    def describe(self) -> str:
        if self.expiry_days is not None:
            return f"{self.expiry_days} days"
        if self.expiry_months is not None:
            return f"{self.expiry_months} months"
        return "never"


def expiry_segment(expiry: date | None, kind: str = BASE) -> str:
    """The ``{expiry}`` segment of a bucket: ``YYYYMMDD`` for base points, ``YYYYMMDD-{kind}`` otherwise, ``noexpiry``."""

    if expiry is None:
        return NO_EXPIRY
    text = expiry.strftime(DATE_FORMAT)
    return text if kind == BASE else f"{text}{KIND_SUFFIX}{kind}"


@lru_cache(maxsize=4096)
def parse_expiry_segment(segment: str) -> tuple[date | None, str]:
    """(expiry date or None, kind) of an ``{expiry}`` segment; InvalidCommand when it is not one."""

    if segment == NO_EXPIRY:
        return None, BASE
    text, _, kind = segment.partition(KIND_SUFFIX)
    if kind and kind not in SPEND_RANK or kind == BASE:
        raise InvalidCommand(f"{segment!r} names no kind of point")
    try:
        return datetime.strptime(text, DATE_FORMAT).date(), kind or BASE
    except ValueError:
        raise InvalidCommand(f"{segment!r} is not a YYYYMMDD date") from None


def expiry_of(segment: str) -> date | None:
    """Just the date of an ``{expiry}`` segment (None: ``noexpiry``)."""

    return parse_expiry_segment(segment)[0]
