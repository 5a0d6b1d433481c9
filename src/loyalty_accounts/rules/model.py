"""The shape of a rules file: currencies, channels, categories, tiers, campaigns, engagement, and the order to price.

:class:`Rules` is the validated content of ``rules.yaml``: pydantic checks
each field's type and bounds, then :func:`_check` the rules that span fields
(a tier ladder that climbs, campaign windows that end after they start and
never stack more than :data:`MAX_STACKED_CAMPAIGNS` deep, ...). A broken
cross-field rule is a :class:`RuleProblem` carrying its field path, so the
loader (:mod:`.loader`) can name the line.

A campaign's window (``starts`` inclusive, ``ends`` exclusive) follows the
package's one rule for instants (:mod:`loyalty_accounts.vocabulary.instants`):
a bare date (``2026-12-01``) is midnight of that day in the campaign's own
``timezone``, so a Paris weekend stays midnight-to-midnight in Paris across a
DST change; a time with an offset (``2026-07-01T09:00:00+09:00``) is that
instant; a time without an offset names no instant and is refused.
"""

from __future__ import annotations

from functools import cached_property

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ..errors import ChartError, InvalidCommand
from ..vocabulary.amounts import NOT_A_FLOAT, Rounding
from ..vocabulary.frozen import Frozen, Value
from ..vocabulary.ids import BusinessKey, Code, CustomerId
from ..vocabulary.instants import parse_instant
from .catalogue import RewardCatalogue, check_catalogue

# More campaigns than this may never overlap: it bounds the work per order and
# the size of an earn transaction's metadata.
MAX_STACKED_CAMPAIGNS = 8
MAX_ORDER_AMOUNT = Decimal(10) ** 9

CampaignId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,47}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")]
Factor = Annotated[Decimal, Field(gt=0, le=100, decimal_places=4, allow_inf_nan=False)]
Rate = Annotated[Decimal, Field(gt=0, le=1000, decimal_places=6, allow_inf_nan=False)]
WholePoints = Annotated[int, Field(ge=1, le=10**9, strict=True)]
Count = Annotated[int, Field(ge=1, le=10**6, strict=True)]


def decimal_places(value: Decimal) -> int:
    """How many decimals ``value`` is written with: ``5.00`` → 2, ``500`` → 0."""

    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class RuleProblem(ChartError):
    """A cross-field rule the file breaks; carries the field path so the loader can add the line."""

    def __init__(self, path: Sequence[str | int], problem: str) -> None:
        self.path = tuple(path)
        self.problem = problem
        dotted = ".".join(str(p) for p in self.path) or "(top level)"
        super().__init__(f"rules: {dotted}: {problem}")


class CurrencyRule(Frozen):
    rate: Rate
    decimals: Annotated[int, Field(ge=0, le=6, strict=True)]
    minimum_order: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)


class Tier(Frozen):
    name: Code
    threshold: Annotated[int, Field(ge=0, strict=True)]
    multiplier: Factor


class Qualification(Frozen):
    window: Literal["rolling", "lifetime"]
    days: Annotated[int, Field(ge=1, le=3660, strict=True)] | None = None


class Tiers(Frozen):
    qualification: Qualification
    ladder: Annotated[tuple[Tier, ...], Field(min_length=1)]


class Campaign(Frozen):
    """A time-boxed promotion, from ``starts`` (inclusive) to ``ends`` (exclusive).

    Each edge is kept as written: a bare date (midnight at the start of that
    day in ``timezone``) or an instant with its offset (see the module
    docstring); :attr:`start` and :attr:`end` are the UTC instants they name.
    """

    id: CampaignId
    timezone: str
    starts: str
    ends: str
    categories: Annotated[tuple[Code, ...], Field(min_length=1)] | None = None
    channels: Annotated[tuple[Code, ...], Field(min_length=1)] | None = None
    multiplier: Annotated[Decimal, Field(gt=1, le=100, decimal_places=4, allow_inf_nan=False)] | None = None
    bonus: WholePoints | None = None
    cap_per_order: WholePoints | None = None
    cap_per_customer: WholePoints | None = None

    @field_validator("starts", "ends", mode="before")
    @classmethod
    def _as_written(cls, value: Any) -> Any:
        # YAML reads an unquoted 2026-12-01 as a date and 2026-11-27T00:00:00 as a
        # datetime: turn them back into their ISO text so the one instant rule judges them.
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def start(self) -> datetime:
        """First instant of the campaign (inclusive), in UTC."""

        return parse_instant(self.starts, self.zone, what=f"campaign {self.id} starts")

    @cached_property
    def end(self) -> datetime:
        """First instant after the campaign (exclusive), in UTC."""

        return parse_instant(self.ends, self.zone, what=f"campaign {self.id} ends")

    def active_at(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def applies_to(self, order: "Order") -> bool:
        return (
            self.active_at(order.ordered_at)
            and (self.categories is None or order.category in self.categories)
            and (self.channels is None or order.channel in self.channels)
        )


class EngagementRule(Frozen):
    points: WholePoints
    per_day: Count | None = None
    per_customer: Count | None = None


class OrderDefaults(Frozen):
    """What an order that does not say its category or channel is priced as."""

    category: Code
    channel: Code


class Order(Value):
    """A purchase to price. ``amount`` is in whole units of ``currency`` (12.50 USD), never a float."""

    customer: CustomerId
    order_id: BusinessKey
    amount: Annotated[Decimal, Field(gt=0, le=MAX_ORDER_AMOUNT, allow_inf_nan=False), NOT_A_FLOAT]
    currency: CurrencyCode
    category: Code
    channel: Code
    ordered_at: AwareDatetime


class Rules(Frozen):
    """The validated content of a rules file; build it with :func:`load_rules` or :func:`parse_rules`."""

    version: Version
    programme: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    rounding: Rounding = "floor"
    currencies: Annotated[dict[CurrencyCode, CurrencyRule], Field(min_length=1)]
    channels: Annotated[tuple[Code, ...], Field(min_length=1)]
    category_multipliers: dict[Code, Factor] = Field(default_factory=dict)
    excluded_categories: tuple[Code, ...] = ()
    tiers: Tiers
    campaigns: tuple[Campaign, ...] = ()
    engagement: dict[Code, EngagementRule] = Field(default_factory=dict)
    order_defaults: OrderDefaults | None = None
    catalogue: RewardCatalogue | None = None
    """The reward catalogue (:mod:`.catalogue`); None: redemptions are priced by the caller only."""

    @model_validator(mode="after")
    def _cross_checks(self) -> "Rules":
        _check(self)
        return self

    @model_validator(mode="after")
    def _catalogue_checks(self) -> "Rules":
        if self.catalogue is not None:
            check_catalogue(self.catalogue)
        return self

    def require_catalogue(self) -> RewardCatalogue:
        """The catalogue; InvalidCommand when these rules declare none."""

        if self.catalogue is None:
            raise InvalidCommand(f"rules {self.version} declare no reward catalogue")
        return self.catalogue

    def currency(self, code: str) -> CurrencyRule:
        try:
            return self.currencies[code]
        except KeyError:
            known = ", ".join(sorted(self.currencies))
            raise InvalidCommand(f"currency {code!r} does not earn points (accepted: {known})") from None

    def tier(self, name: str) -> Tier:
        for tier in self.tiers.ladder:
            if tier.name == name:
                return tier
        known = ", ".join(t.name for t in self.tiers.ladder)
        raise InvalidCommand(f"unknown tier {name!r} (tiers: {known})")

    @property
    def base_tier(self) -> Tier:
        return self.tiers.ladder[0]

    def order_fields(self, category: str | None, channel: str | None) -> tuple[str, str]:
        """(category, channel) of an order, the file's ``order_defaults`` standing in for what it does not say."""

        defaults = self.order_defaults
        if defaults is None and (category is None or channel is None):
            missing = " and ".join(n for n, v in (("category", category), ("channel", channel)) if v is None)
            raise InvalidCommand(f"the order needs a {missing}: rules {self.version} set no order_defaults")
        return (
            category if category is not None else defaults.category,  # type: ignore[union-attr]
            channel if channel is not None else defaults.channel,  # type: ignore[union-attr]
        )

    def category_multiplier(self, category: str) -> Decimal:
        return self.category_multipliers.get(category, Decimal(1))

    def campaigns_at(self, instant: datetime) -> tuple[Campaign, ...]:
        """Campaigns active at ``instant``, in the order they apply: by start instant, then id."""

        active = [c for c in self.campaigns if c.active_at(instant)]
        return tuple(sorted(active, key=lambda c: (c.start, c.id)))


def _check(rules: Rules) -> None:
    """The rules beyond field types; each failure names its field path."""

    for code, cur in rules.currencies.items():
        if decimal_places(cur.minimum_order) > cur.decimals:
            raise RuleProblem(("currencies", code, "minimum_order"), f"{code} takes {cur.decimals} decimals")
    for field, values in (("channels", rules.channels), ("excluded_categories", rules.excluded_categories)):
        if len(set(values)) != len(values):
            raise RuleProblem((field,), "listed twice")
    for category in rules.excluded_categories:
        if category in rules.category_multipliers:
            raise RuleProblem(("category_multipliers", category), "this category is excluded: it earns nothing")

    qual = rules.tiers.qualification
    if qual.window == "rolling" and qual.days is None:
        raise RuleProblem(("tiers", "qualification", "days"), "a rolling window needs its length in days")
    if qual.window == "lifetime" and qual.days is not None:
        raise RuleProblem(("tiers", "qualification", "days"), "a lifetime window has no length")
    ladder = rules.tiers.ladder
    if ladder[0].threshold != 0:
        raise RuleProblem(("tiers", "ladder", 0, "threshold"), "the first tier starts at 0 so every customer has one")
    for i in range(1, len(ladder)):
        low, high = ladder[i - 1], ladder[i]
        if high.threshold <= low.threshold:
            raise RuleProblem(("tiers", "ladder", i, "threshold"), "thresholds must increase up the ladder")
        if high.multiplier < low.multiplier:
            raise RuleProblem(("tiers", "ladder", i, "multiplier"), "a higher tier may not earn less than the one below")
        if any(t.name == high.name for t in ladder[:i]):
            raise RuleProblem(("tiers", "ladder", i, "name"), f"tier {high.name!r} is listed twice")

    seen: set[str] = set()
    for i, campaign in enumerate(rules.campaigns):
        path: tuple[str | int, ...] = ("campaigns", i)
        if campaign.id in seen:
            raise RuleProblem((*path, "id"), f"campaign id {campaign.id!r} is used twice")
        seen.add(campaign.id)
        try:
            zone = ZoneInfo(campaign.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RuleProblem((*path, "timezone"), f"unknown IANA time zone {campaign.timezone!r}") from None
        for edge in ("starts", "ends"):
            where = ".".join(str(p) for p in (*path, edge))
            try:
                parse_instant(getattr(campaign, edge), zone, what=where)
            except InvalidCommand as exc:  # its message starts with ``where``; the loader puts it (and its line) back
                raise RuleProblem((*path, edge), exc.message.removeprefix(f"{where}: ")) from None
        if campaign.end <= campaign.start:
            raise RuleProblem((*path, "ends"), "the campaign must end after it starts")
        if (campaign.multiplier is None) == (campaign.bonus is None):
            raise RuleProblem(path, "give exactly one of multiplier or bonus")
        for category in campaign.categories or ():
            if category in rules.excluded_categories:
                raise RuleProblem((*path, "categories"), f"{category!r} is excluded: the campaign could never apply")
        for channel in campaign.channels or ():
            if channel not in rules.channels:
                raise RuleProblem((*path, "channels"), f"{channel!r} is not one of the declared channels")

    edges = sorted(
        [(c.start, 1, i) for i, c in enumerate(rules.campaigns)] + [(c.end, -1, i) for i, c in enumerate(rules.campaigns)]
    )
    running = 0
    for instant, step, i in edges:  # an end sorts before a start at the same instant: windows are half-open
        running += step
        if running > MAX_STACKED_CAMPAIGNS:
            raise RuleProblem(
                ("campaigns", i), f"more than {MAX_STACKED_CAMPAIGNS} campaigns overlap at {instant.isoformat()}"
            )

    for event, rule in rules.engagement.items():
        if rule.per_day is None and rule.per_customer is None:
            raise RuleProblem(("engagement", event), "give per_day and/or per_customer: an unlimited award can be farmed")

    defaults = rules.order_defaults
    if defaults is not None:
        if defaults.channel not in rules.channels:
            raise RuleProblem(("order_defaults", "channel"), f"{defaults.channel!r} is not one of the declared channels")
        if defaults.category in rules.excluded_categories:
            raise RuleProblem(
                ("order_defaults", "category"), f"{defaults.category!r} is excluded: every order without a category would earn nothing"
            )

