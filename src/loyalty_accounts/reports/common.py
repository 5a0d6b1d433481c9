"""Small exact helpers shared by several statements: money, instants and windows, chart addresses, reads.

Instants are made UTC (an instant without a time zone is refused); a window
``(T1, T2]`` is read with volume bounds ``T1 + 1µs`` and ``T2``, which the
v2.4.12 server applies inclusively at both ends (see the package docstring).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, Inexact, localcontext
from typing import Callable, Mapping

from ..chart import Chart
from ..errors import InvalidCommand
from ..vocabulary.instants import utc

__all__ = [
    "ONE_MICROSECOND",
    "Clock",
        "customer_root",
    "instant_or_now",
    "kind_of",
    "money_value",
    "points_of",
    "root_of",
    "utc_now",
    "volume_window",
    "window",
]

ONE_MICROSECOND = timedelta(microseconds=1)

Clock = Callable[[], datetime]
"""What "now" is for a report read without an as-of instant."""


def money_value(points: int, point_value: Decimal) -> Decimal:
    """``points × point_value``, exactly (a local context wide enough that nothing rounds)."""

    digits = len(str(abs(points))) + len(point_value.as_tuple().digits) + 2
    with localcontext() as ctx:
        ctx.prec = max(28, digits)
        ctx.traps[Inexact] = True
        return Decimal(points) * point_value


def kind_of(chart: Chart, address: str) -> str | None:
    parsed = chart.parse(address)
    return parsed.kind if parsed is not None else None


def root_of(chart: Chart, kind: str) -> str:
    """First address segment of a chart kind's accounts."""

    return chart.kinds[kind].segments[0].text


def customer_root(chart: Chart) -> str:
    """First segment of the customer accounts (``customers``): the liability is that subtree."""

    return root_of(chart, "customer_points")


def points_of(chart: Chart, balances: Mapping[str, int]) -> int:
    """The points asset's figure in an aggregate (zero when the asset is absent)."""

    return int(balances.get(chart.points_asset, 0))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def instant_or_now(moment: datetime | None, clock: Clock) -> datetime:
    """``moment`` in UTC, or the clock's current instant when there is none."""

    return utc(moment) if moment is not None else utc(clock())


def window(start: datetime | None, end: datetime | None, clock: Clock) -> tuple[datetime | None, datetime]:
    """The window ``(start, end]`` in UTC (``end`` defaults to now); InvalidCommand unless it starts before it ends."""

    end = instant_or_now(end, clock)
    if start is not None:
        start = utc(start)
        if start >= end:
            raise InvalidCommand(f"the window must start before it ends ({start.isoformat()} ≥ {end.isoformat()})")
    return start, end


def volume_window(start: datetime | None, end: datetime) -> dict[str, datetime | None]:
    """Volume bounds for the window (start, end]: the server applies both bounds inclusively."""

    return {"start": start + ONE_MICROSECOND if start is not None else None, "end": end}
