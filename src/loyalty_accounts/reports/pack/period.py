"""The pack's period ``(start, as_of]`` and the instants its series are read at.

Default start: the same programme-calendar instant twelve months before
``as_of`` (29 February falls back to the 28th), so ``--as-of 2026-10-31``
(the end of that day) covers November 2025 to October 2026. The series of
the liability over time is read at the period's start, at the last instant
of every programme-calendar month that ends inside the period, and at
``as_of``.
"""

from __future__ import annotations

from datetime import datetime

from ...chart import Chart
from ...errors import InvalidCommand
from ...vocabulary.instants import utc
from ..months import add_months, month_last_instant, month_start, months_apart

__all__ = ["DEFAULT_MONTHS", "MAX_MONTHS", "default_start", "series_instants"]

DEFAULT_MONTHS = 12
"""How far before ``as_of`` the period starts when no start is given."""
MAX_MONTHS = 120
"""The longest period a pack reads (its series has a point per month: one liability read each)."""


def default_start(chart: Chart, as_of: datetime) -> datetime:
    """The instant :data:`DEFAULT_MONTHS` months before ``as_of`` on the programme's calendar, in UTC."""

    local = utc(as_of).astimezone(chart.timezone)
    try:
        earlier = local.replace(year=local.year - DEFAULT_MONTHS // 12)
    except ValueError:  # 29 February, a year back
        earlier = local.replace(year=local.year - DEFAULT_MONTHS // 12, day=28)
    return utc(earlier)


def series_instants(chart: Chart, start: datetime, as_of: datetime) -> tuple[datetime, ...]:
    """``start``, every month's last instant strictly inside ``(start, as_of)``, then ``as_of``, in UTC.

    InvalidCommand unless ``start`` comes before ``as_of`` and the period spans at most :data:`MAX_MONTHS` months.
    """

    start, as_of = utc(start), utc(as_of)
    if start >= as_of:
        raise InvalidCommand(f"the pack's period must start before its as-of instant ({start.isoformat()} ≥ {as_of.isoformat()})")
    first, last = month_start(chart.local_date(start)), chart.local_date(as_of)
    span = months_apart(first, last)
    if span > MAX_MONTHS:
        raise InvalidCommand(f"the pack's period spans {span} months: at most {MAX_MONTHS} (choose a later --from)")
    ends = (month_last_instant(chart, add_months(first, i)) for i in range(span + 1))
    return (start, *(moment for moment in ends if start < moment < as_of), as_of)
