"""What a chart of accounts file holds: its validated shape, the account kinds, and address constants.

The pydantic models mirror ``chart_of_accounts.yaml`` (shape only; the
cross-field rules are checked by :class:`loyalty_accounts.chart.Chart`).
:class:`AccountKind` is one declared address pattern, parsed into segments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Mapping

from pydantic import Field, StringConstraints

from ..errors import InvalidCommand
from ..vocabulary.amounts import Asset, Rounding
from ..vocabulary.frozen import Frozen
from .analytics import AnalyticsSpec
from .general_ledger import GeneralLedgerSpec
from .point_kinds import NO_EXPIRY, Period

ADDRESS_RE = re.compile(r"^[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*$")
FIXED_SEGMENT_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
# Formance address filters: an empty part matches any one segment, a last part "..." any further segments.
ANY_SEGMENT = ""
ANY_DEPTH = "..."
# The kind whose address roots every account of a customer (see Chart.customer_filter).
CUSTOMER_BUCKET = "customer_points"
DATE_FORMAT = "%Y%m%d"

RefundShortfall = Literal["allow_negative", "claw_back", "write_off"]
AssetRole = Literal["points", "money", "partner", "qualifying", "awards", "control", "campaign", "stock"]

# Account kinds the operations post to; the chart must declare each of them.
REQUIRED_KINDS: tuple[str, ...] = (
    "world",
    "points_issued",
    "customer_pending",
    "customer_points",
    "customer_hold",
    "customer_credit",
    "customer_clawback",
    "customer_qualifying",
    "customer_engagement",
    "customer_engagement_day",
    "customer_campaign",
    "points_redeemed",
    "points_expired",
    "points_converted",
    "points_written_off",
    "points_adjustments",
    "credit_issued",
    "exchange_cost",
    "exchange_revenue",
    "partner_exchanged",
    "partner_issued",
    "partner_delivered",
    "partner_received",
    "partner_settlement",
    "tiers_qualifying",
    "engagement_awarded",
    "campaign_charged",
    "revenue_estimates",
)

# Account kinds the pool operations post to; a chart declaring pools must declare each of them.
POOL_KINDS: tuple[str, ...] = (
    "pool_contributed", "pool_funds", "pool_awarded", "pool_redeemed", "pool_paid", "pool_sequence", "control_sequence"
)
# Account kinds of the reward catalogue's stock (operations.restock, operations.redeem of a physical reward);
# optional: a chart without them has no physical rewards.
STOCK_KINDS: tuple[str, ...] = ("catalogue_stock", "catalogue_restocked", "catalogue_delivered")
# The count of operations on a reward's stock (control asset): what makes a back-dated take exact under concurrency.
STOCK_SEQUENCE_KIND = "catalogue_sequence"

# Regex syntax Python accepts but RE2 (the ledger's Go regexp) does not.
NON_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?P=|\(\?\(|\\[ZA]\b")


def address_matches(address: str, address_filter: str) -> bool:
    """Whether ``address`` matches a Formance address filter, as the ledger decides it.

    A filter without an empty part or a last ``...`` is an exact address; an
    empty part matches any one segment; a last ``...`` matches any number of
    further segments (v2.4.12 ``internal/storage/ledger/utils.go``,
    ``filterAccountAddress``: one condition per non-empty segment, plus the
    segment count unless the filter ends in ``...``).
    """

    wanted = address_filter.split(":")
    parts = address.split(":")
    if wanted[-1] == ANY_DEPTH:
        wanted = wanted[:-1]
        if len(parts) < len(wanted):
            return False
    elif ANY_SEGMENT not in wanted:
        return address == address_filter
    elif len(parts) != len(wanted):
        return False
    return all(w == ANY_SEGMENT or w == p for w, p in zip(wanted, parts))


# --------------------------------------------------------------------------
# Dates in addresses


@lru_cache(maxsize=4096)
def date_segment(day: date | None) -> str:
    """A date as an address segment: ``YYYYMMDD``, or ``noexpiry`` for None (kept: every plan formats a few)."""

    return NO_EXPIRY if day is None else day.strftime(DATE_FORMAT)


@lru_cache(maxsize=4096)
def parse_date_segment(segment: str) -> date | None:
    if segment == NO_EXPIRY:
        return None
    try:
        return datetime.strptime(segment, DATE_FORMAT).date()
    except ValueError:
        raise InvalidCommand(f"{segment!r} is not a YYYYMMDD date") from None


# --------------------------------------------------------------------------
# The file's shape


PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Programme(Frozen):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    points_asset: Asset
    money_asset: Asset
    qualifying_asset: Asset
    awards_asset: Asset
    control_asset: Asset
    campaign_asset: Asset
    point_value: PositiveDecimal
    issuance_shards: Annotated[int, Field(ge=1, le=1024)]
    timezone: str = "UTC"
    stock_asset: Asset | None = None
    """Units of physical rewards in stock (the catalogue's stock accounts); None: no physical rewards."""


class OrderCurrency(Frozen):
    """A currency orders may be paid in; how many points it earns is the rules file's business."""

    decimals: Annotated[int, Field(ge=0, le=6)]


class ConversionPolicy(Frozen):
    points_per_unit: Annotated[int, Field(ge=1)]


class Policies(Frozen):
    expiry_days: Annotated[int, Field(ge=1)] | None
    pending_days: Annotated[int, Field(ge=0)]
    hold_ttl_minutes: Annotated[int, Field(ge=1)]
    refund_shortfall: RefundShortfall
    currencies: Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")], OrderCurrency], Field(min_length=1)]
    conversion: ConversionPolicy
    settlement_rounding: Rounding = "half_even"
    point_kinds: dict[Literal["bonus", "transferred"], Period] = Field(default_factory=dict)
    """Kinds of point with an expiry period of their own (see :mod:`.point_kinds`); absent: kept with base points."""


class PartnerDirection(Frozen):
    points_per_partner_point: Annotated[int, Field(ge=1)]
    price_per_partner_point: PositiveDecimal


class Partner(Frozen):
    name: Name
    asset: Asset
    outbound: PartnerDirection
    inbound: PartnerDirection


PoolDistribution = Literal["shares", "funds"]
"""How a pool's draws are charged to its members: pro rata to declared shares, or to the funds each has left."""


class PoolMember(Frozen):
    share: Annotated[int, Field(ge=1)] = 1
    """The member's weight under ``distribution: shares`` (a whole number; shares need not sum to 100)."""


class Pool(Frozen):
    """A partner pool: member partners fund it with points bought at ``price_per_point``; draws are charged to
    them by ``distribution`` (see the chart's comments and :mod:`loyalty_accounts.operations.pool`)."""

    name: Name
    price_per_point: PositiveDecimal
    distribution: PoolDistribution = "shares"
    members: Annotated[dict[str, PoolMember], Field(min_length=1)]


class SegmentSpec(Frozen):
    pattern: Annotated[str, StringConstraints(min_length=2)]
    meaning: Name


class AccountSpec(Frozen):
    address: Annotated[str, StringConstraints(min_length=1)]
    meaning: Name
    assets: Annotated[tuple[AssetRole, ...], Field(min_length=1)]
    may_go_negative: bool


class ChartSpec(Frozen):
    """The validated content of ``chart_of_accounts.yaml``."""

    programme: Programme
    policies: Policies
    partners: dict[str, Partner] = Field(default_factory=dict)
    pools: dict[str, Pool] = Field(default_factory=dict)
    segments: dict[str, SegmentSpec]
    accounts: dict[str, AccountSpec]
    general_ledger: GeneralLedgerSpec | None = None
    """GL mapping for the journal (None: the chart has none and ``loyalty journal`` refuses)."""
    analytics: AnalyticsSpec = AnalyticsSpec()
    """Horizons and anomaly thresholds of ``loyalty report programme`` (defaults when the section is absent)."""


# --------------------------------------------------------------------------
# Addresses


@dataclass(frozen=True)
class Segment:
    text: str
    variable: bool


@dataclass(frozen=True)
class AccountKind:
    """One declared account pattern, parsed."""

    name: str
    address: str
    segments: tuple[Segment, ...]
    meaning: str
    assets: tuple[AssetRole, ...]
    may_go_negative: bool

    @cached_property
    def variables(self) -> tuple[str, ...]:
        """The names of the variable segments, in address order (computed once: addresses are built often)."""

        return tuple(s.text for s in self.segments if s.variable)

    @cached_property
    def variable_set(self) -> frozenset[str]:
        return frozenset(self.variables)


@dataclass(frozen=True)
class ParsedAddress:
    kind: str
    values: Mapping[str, str]


