"""The chart's ``analytics`` section: what ``loyalty report programme`` looks ahead for and which histories it flags.

Data, like the rest of the chart: the horizons of the expiring-soon table
and the thresholds of the anomaly flags. A chart without the section gets
the defaults below. Each threshold is a count of transactions and a span in
hours; nothing here changes what is posted, only what the report flags.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from ..vocabulary.frozen import Frozen

__all__ = ["AnalyticsSpec", "AnomalySpec", "FollowSpec", "VelocitySpec"]

Hours = Annotated[int, Field(ge=1, le=24 * 366)]


class VelocitySpec(Frozen):
    """More than ``max_transactions`` of a member's transactions of one kind inside ``within_hours`` is flagged."""

    max_transactions: Annotated[int, Field(ge=1)]
    within_hours: Hours


class FollowSpec(Frozen):
    """A second transaction following a first one within ``within_hours`` is flagged."""

    within_hours: Hours


class AnomalySpec(Frozen):
    earn_velocity: VelocitySpec = VelocitySpec(max_transactions=5, within_hours=24)
    """Transactions issuing points to one member (earn, engagement award, exchange in)."""
    redemption_velocity: VelocitySpec = VelocitySpec(max_transactions=3, within_hours=24)
    """Transactions moving one member's points to ``program:points:redeemed`` (redeem, capture)."""
    transfer_chain: FollowSpec = FollowSpec(within_hours=72)
    """A member passing on points (A→B, then B→C) within the span."""
    redemption_after_transfer: FollowSpec = FollowSpec(within_hours=24)
    """A member redeeming within the span after receiving a transfer."""


class AnalyticsSpec(Frozen):
    """The ``analytics`` section of the chart."""

    expiring_within_days: Annotated[tuple[Annotated[int, Field(ge=1, le=36_500)], ...], Field(min_length=1)] = (30, 60, 90)
    """Horizons (days after the report's end) of the expiring-soon table, cumulative."""
    anomalies: AnomalySpec = AnomalySpec()

    @field_validator("expiring_within_days")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError("expiring_within_days must be strictly increasing")
        return value
