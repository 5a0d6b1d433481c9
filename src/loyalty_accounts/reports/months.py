"""Programme-calendar months: the unit of earn cohorts, of the report pack's series and of its triangle's ages.

A month is named by its first day (``date(2026, 3, 1)``); its instants are
those whose programme-calendar date (the chart's time zone) falls in it.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from ..chart import Chart
from ..vocabulary.instants import day_start
from .common import ONE_MICROSECOND

__all__ = ["add_months", "month_end", "month_index", "month_label", "month_last_instant", "month_start", "months_apart"]

def month_start(day: date) -> date:
    """The month ``day`` is in (its first day)."""

    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The month ``count`` months after ``month`` (before, when negative), as its first day."""

    index = month_index(month) + count
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    """The last day of ``month``."""

    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def month_label(month: date) -> str:
    """``YYYY-MM``."""

    return month.strftime("%Y-%m")


def month_index(day: date) -> int:
    """Months since year 0 of the month ``day`` is in: consecutive months differ by one."""

    return day.year * 12 + day.month - 1


def months_apart(earlier: date, later: date) -> int:
    """Whole calendar months from the month of ``earlier`` to the month of ``later`` (0: the same month)."""

    return month_index(later) - month_index(earlier)


def month_last_instant(chart: Chart, month: date) -> datetime:
    """The last instant (microsecond) of ``month`` in the programme's calendar, in UTC."""

    return day_start(add_months(month, 1), chart.timezone) - ONE_MICROSECOND
