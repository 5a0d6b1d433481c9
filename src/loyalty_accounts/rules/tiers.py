"""Tiers: which rung of the ladder a customer's qualifying points reach, over which window, and how a tier moved.

Pure: the service sums the customer's qualifying (earned, not spendable)
points inside :func:`qualification_window` from the ledger and passes the
number in.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from ..errors import InvalidCommand
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import Code
from ..vocabulary.instants import utc
from .model import Rules


class TierStatus(Frozen):
    """A customer's tier for a number of qualifying (earned) points, and the distance to the next one."""

    tier: Code
    rank: Annotated[int, Field(ge=0)]
    multiplier: Decimal
    qualifying_points: Annotated[int, Field(ge=0)]
    next_tier: Code | None = None
    points_to_next: Annotated[int, Field(ge=1)] | None = None


def tier_for(rules: Rules, qualifying_points: int) -> TierStatus:
    """The tier ``qualifying_points`` reach.

    Qualifying points are points EARNED from orders placed inside
    :func:`qualification_window`, less what refunds of those orders took back
    (the service reads them from the customer's qualifying accounts, one per
    order day), not the spendable balance, so redeeming or expiring points
    never costs a tier.
    """

    if not isinstance(qualifying_points, int) or isinstance(qualifying_points, bool) or qualifying_points < 0:
        raise InvalidCommand(f"qualifying points must be a non-negative integer, got {qualifying_points!r}")
    ladder = rules.tiers.ladder
    rank = max(i for i, t in enumerate(ladder) if t.threshold <= qualifying_points)
    following = ladder[rank + 1] if rank + 1 < len(ladder) else None
    return TierStatus(
        tier=ladder[rank].name,
        rank=rank,
        multiplier=ladder[rank].multiplier,
        qualifying_points=qualifying_points,
        next_tier=following.name if following else None,
        points_to_next=following.threshold - qualifying_points if following else None,
    )


def qualification_window(rules: Rules, as_of: datetime) -> tuple[datetime | None, datetime]:
    """[start, end) in UTC of the earnings that count for the tier at ``as_of``; start None = since the beginning."""

    end = utc(as_of)  # InvalidCommand for an instant without a time zone
    qual = rules.tiers.qualification
    if qual.window == "lifetime" or qual.days is None:
        return None, end
    return end - timedelta(days=qual.days), end


def tier_change(before: TierStatus, after: TierStatus) -> Literal["upgrade", "downgrade", "changed"] | None:
    """How a tier moved: by rank; "changed" when the rank stays but the name differs (a new ladder)."""

    if after.rank > before.rank:
        return "upgrade"
    if after.rank < before.rank:
        return "downgrade"
    return None if after.tier == before.tier else "changed"


def first_qualifying_day(rules: Rules, zone: tzinfo, as_of: datetime) -> date | None:
    """First programme-calendar day (in ``zone``) whose orders count for the tier at ``as_of``; None: lifetime.

    The window ``[as_of - days, as_of)`` starts at the first whole day inside it: qualifying points are
    kept per order day, so a day counts from its midnight on.
    """

    start, _ = qualification_window(rules, as_of)
    if start is None:
        return None
    local = start.astimezone(zone)
    return local.date() + timedelta(days=1) if local.time() != time(0) else local.date()
