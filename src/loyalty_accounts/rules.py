"""Earning rules: what an order or an engagement event is worth, and which tier a customer is in.

``rules.yaml`` is data with a ``version``; :func:`load_rules` validates it
(pydantic for shape, then the cross-field rules below, each reported with the
file, field path and line, as :mod:`loyalty_accounts.chart` does). Everything
here is pure: the service reads the ledger (tier volumes, campaign usage,
engagement counts) and passes plain numbers in; nothing reads a clock.

How :func:`quote` prices an order, always in this order:

1. an excluded category, or an amount below the currency's minimum, earns 0
   and the breakdown says why;
2. base = amount × the currency's rate;
3. × the category multiplier (1 for a category the file does not list);
4. × the tier multiplier;
5. the campaigns active at the order's own instant (start inclusive, end
   exclusive; wall-clock edges read in the campaign's time zone), taken by
   start instant then id: a multiplier adds ``running × (m − 1)`` to the
   running figure, so later multipliers compound on it; a bonus adds a fixed
   number of points that no multiplier touches; each contribution is clipped
   to the campaign's per-order cap and to what is left of its per-customer
   cap after ``campaign_usage``;
6. the exact total is rounded once, with the file's rule (floor).

Every step above works on exact decimals and never rounds; rounding happens
only in step 6. Each step is a non-decreasing function of the running figure
with a non-negative result (multipliers are positive, campaign contributions
are ``min(≥ 0, cap)``), and the rounding rules are non-decreasing and map
non-negative values to non-negative integers. So points are never negative
and more money never earns fewer points under the same rules, tier and usage.

Worked example (``rules.yaml``, version 2026.11.1): a gold customer buys
120.35 EUR of groceries in a store on Saturday 2026-10-24 at 10:00 Paris
time, during ``fresh-saturdays-2026-10`` (×2, at most 300 points an order)::

    base      120.35 EUR × 1.1                  132.385
    category  groceries ×2                     +132.385
    tier      gold ×1.5                        +132.385
    campaign  fresh-saturdays-2026-10 ×2       +300      (397.155 capped per order; 97.155 clipped)
    rounding  floor of 697.155                   −0.155
    total                                       697

Campaign caps count whole points although rounding waits for the total: an
order is charged ``ceil(contribution)`` against each campaign's per-customer
cap (:attr:`CampaignStep.charged`). The service sums those charges from earlier
earn metadata to build ``campaign_usage``; charging upwards is what keeps the
customer inside the cap.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AwareDatetime, Field, StringConstraints, ValidationError, field_validator, model_validator

from .chart import Chart
from .vocabulary.amounts import Rounding, round_to
from .vocabulary.yaml_file import invalid_document, read_yaml_mapping, yaml_location
from .errors import ChartError, InvalidCommand, LoyaltyError
from .vocabulary.ids import BusinessKey, Code, CustomerId
from .vocabulary.frozen import Value
from .vocabulary.frozen import Frozen

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
Reason = Literal["excluded_category", "below_minimum"]

# Exact arithmetic: wide enough for any product the bounds above allow, and
# trapping Inexact so a silent intermediate rounding is impossible.
_EXACT = Context(prec=200, traps=[Inexact, InvalidOperation, Overflow, DivisionByZero])
# The one deliberate rounding (step 6) runs here: wide, without the Inexact trap.
_ROUNDING = Context(prec=200, traps=[InvalidOperation, Overflow, DivisionByZero])


def _exact() -> Any:
    return localcontext(_EXACT)


def _text(value: Decimal) -> str:
    """A decimal as metadata and explanations show it: plain notation, no trailing zeros."""

    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class RuleProblem(ChartError):
    """A cross-field rule the file breaks; carries the field path so the loader can add the line."""

    def __init__(self, path: Sequence[str | int], problem: str) -> None:
        self.path = tuple(path)
        self.problem = problem
        dotted = ".".join(str(p) for p in self.path) or "(top level)"
        super().__init__(f"rules: {dotted}: {problem}")


class EngagementLimitReached(LoyaltyError):
    """The customer already had every award of this event the rules allow (a business refusal)."""


# --------------------------------------------------------------------------
# The file's shape


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
    """A time-boxed promotion. ``starts``/``ends`` without an offset are wall-clock times in ``timezone``."""

    id: CampaignId
    timezone: str
    starts: datetime
    ends: datetime
    categories: Annotated[tuple[Code, ...], Field(min_length=1)] | None = None
    channels: Annotated[tuple[Code, ...], Field(min_length=1)] | None = None
    multiplier: Annotated[Decimal, Field(gt=1, le=100, decimal_places=4, allow_inf_nan=False)] | None = None
    bonus: WholePoints | None = None
    cap_per_order: WholePoints | None = None
    cap_per_customer: WholePoints | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> datetime:
        """First instant of the campaign (inclusive), in UTC."""

        return _resolve(self.starts, self.zone)

    @property
    def end(self) -> datetime:
        """First instant after the campaign (exclusive), in UTC."""

        return _resolve(self.ends, self.zone)

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

    @model_validator(mode="after")
    def _cross_checks(self) -> "Rules":
        _check(self)
        return self

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


def _resolve(value: datetime, zone: ZoneInfo) -> datetime:
    """A window edge as a UTC instant: wall-clock time is read in ``zone``, an offset is kept."""

    local = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return local.astimezone(timezone.utc)


def _wall_clock_problem(value: datetime, zone: ZoneInfo) -> str | None:
    """Why a wall-clock edge does not name exactly one instant in ``zone``, or None."""

    if value.tzinfo is not None:
        return None
    first = value.replace(tzinfo=zone, fold=0)
    second = value.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    if first.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != value:
        return f"{value.isoformat()} does not exist in {zone.key} (the clocks skip it)"
    return f"{value.isoformat()} happens twice in {zone.key} (the clocks go back): give a UTC offset"


def _check(rules: Rules) -> None:
    """The rules beyond field types; each failure names its field path."""

    for code, cur in rules.currencies.items():
        if _places(cur.minimum_order) > cur.decimals:
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
            problem = _wall_clock_problem(getattr(campaign, edge), zone)
            if problem:
                raise RuleProblem((*path, edge), problem)
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


# --------------------------------------------------------------------------
# Loading


def default_rules_path() -> Path:
    """``$LOYALTY_RULES``, else ``rules.yaml`` at the root of this checkout."""

    override = os.environ.get("LOYALTY_RULES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "rules.yaml"


def load_rules(path: str | Path | None = None, *, chart: Chart | None = None) -> Rules:
    """Read and validate a rules file (and, given a chart, check it against it); problems raise ChartError."""

    rules_path = Path(path) if path is not None else default_rules_path()
    try:
        text = rules_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChartError(f"{rules_path}: cannot read the rules file ({exc.strerror})") from None
    return parse_rules(text, source=str(rules_path), chart=chart)


def parse_rules(text: str, *, source: str = "<rules>", chart: Chart | None = None) -> Rules:
    """Validate rules text; every error names ``source``, the field path and its line."""

    data, node = read_yaml_mapping(text, source=source, what="the rules")
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        raise invalid_document("invalid rules", source, node, exc) from None
    except RuleProblem as exc:
        raise ChartError(f"{yaml_location(source, node, exc.path)}: {exc.problem}") from None
    if chart is not None:
        _check_against_chart(rules, chart, source, node)
    return rules


def check_against_chart(rules: Rules, chart: Chart, *, source: str = "rules") -> None:
    """Refuse rules written for another programme or pricing currencies the chart does not accept as it does."""

    _check_against_chart(rules, chart, source, None)


def _check_against_chart(rules: Rules, chart: Chart, source: str, node: yaml.Node | None) -> None:
    name = chart.spec.programme.name
    if rules.programme != name:
        raise ChartError(f"{yaml_location(source, node, ('programme',))}: the chart is for programme {name!r}")
    accepted = chart.policies.currencies
    for code, cur in rules.currencies.items():
        path = ("currencies", code)
        if code not in accepted:
            raise ChartError(f"{yaml_location(source, node, path)}: the chart does not accept {code}")
        if cur.decimals != accepted[code].decimals:
            raise ChartError(
                f"{yaml_location(source, node, (*path, 'decimals'))}: the chart gives {code} {accepted[code].decimals} decimals"
            )


# --------------------------------------------------------------------------
# Orders and their breakdown


class Order(Value):
    """A purchase to price. ``amount`` is in whole units of ``currency`` (12.50 USD), never a float."""

    customer: CustomerId
    order_id: BusinessKey
    amount: Annotated[Decimal, Field(gt=0, le=MAX_ORDER_AMOUNT, allow_inf_nan=False)]
    currency: CurrencyCode
    category: Code
    channel: Code
    ordered_at: AwareDatetime

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must be a Decimal or a string, never a float")
        return value


class CampaignStep(Frozen):
    """What one campaign added to an order: ``points`` kept, ``clipped`` lost to ``cap``."""

    campaign: CampaignId
    multiplier: Decimal | None = None
    bonus: int | None = None
    points: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    clipped: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    cap: Literal["order", "customer"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "CampaignStep":
        if (self.multiplier is None) == (self.bonus is None):
            raise ValueError("a campaign step has exactly one of multiplier or bonus")
        if (self.cap is None) != (self.clipped == 0):
            raise ValueError("a cap is named exactly when points were clipped")
        return self

    @property
    def charged(self) -> int:
        """Whole points this step counts against the campaign's per-customer cap (rounded up)."""

        return int(self.points.to_integral_value(rounding=ROUND_CEILING))


class ExplanationLine(Frozen):
    label: str
    points: Decimal

    @property
    def figure(self) -> str:
        """The points as explanations print them: plain notation, no trailing zeros."""

        return _text(self.points)

    def __str__(self) -> str:
        sign = "+" if self.points > 0 else ""
        return f"{sign + _text(self.points):>14}  {self.label}"


class EarnBreakdown(Frozen):
    """Every step of an order's pricing, enough to explain it and to check its total.

    The intermediate figures (:attr:`base`, :attr:`after_category`,
    :attr:`after_tier`, :attr:`subtotal`) are derived, never stored, so a
    breakdown read back from metadata cannot disagree with itself.
    """

    rules_version: Version
    amount: Decimal
    currency: CurrencyCode
    category: Code
    channel: Code
    tier: Code
    rate: Decimal
    category_multiplier: Decimal
    tier_multiplier: Decimal
    campaigns: tuple[CampaignStep, ...] = ()
    rounding: Rounding
    reason: Reason | None = None
    points: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _adds_up(self) -> "EarnBreakdown":
        if self.reason is not None:
            if self.points != 0 or self.campaigns:
                raise ValueError(f"an order refused for {self.reason} earns nothing")
        elif self.points != _round(self.subtotal, self.rounding):
            raise ValueError(f"{self.points} points is not {self.rounding} of {_text(self.subtotal)}")
        if len(self.campaigns) > MAX_STACKED_CAMPAIGNS:
            raise ValueError(f"at most {MAX_STACKED_CAMPAIGNS} campaigns apply to one order")
        return self

    @property
    def base(self) -> Decimal:
        with _exact():
            return self.amount * self.rate

    @property
    def after_category(self) -> Decimal:
        with _exact():
            return self.base * self.category_multiplier

    @property
    def after_tier(self) -> Decimal:
        with _exact():
            return self.after_category * self.tier_multiplier

    @property
    def subtotal(self) -> Decimal:
        """The exact total before the one rounding (0 for a refused order)."""

        if self.reason is not None:
            return Decimal(0)
        with _exact():
            return sum((s.points for s in self.campaigns), self.after_tier)

    def campaign_charges(self) -> dict[str, int]:
        """Per campaign, the whole points to add to the customer's usage of it."""

        return {s.campaign: s.charged for s in self.campaigns}

    # -- explanation -----------------------------------------------------

    def lines(self) -> tuple[ExplanationLine, ...]:
        """A human explanation, one figure per step; the figures add up to :attr:`points` exactly."""

        if self.reason == "excluded_category":
            return (ExplanationLine(label=f"category {self.category} is excluded: no points", points=Decimal(0)),)
        if self.reason == "below_minimum":
            label = f"{_text(self.amount)} {self.currency} is below the minimum order: no points"
            return (ExplanationLine(label=label, points=Decimal(0)),)
        out = [
            ExplanationLine(
                label=f"base: {_text(self.amount)} {self.currency} × {_text(self.rate)} points per {self.currency}",
                points=self.base,
            )
        ]
        with _exact():
            if self.category_multiplier != 1:
                out.append(ExplanationLine(
                    label=f"category {self.category} ×{_text(self.category_multiplier)}",
                    points=self.after_category - self.base,
                ))
            if self.tier_multiplier != 1:
                out.append(ExplanationLine(
                    label=f"tier {self.tier} ×{_text(self.tier_multiplier)}",
                    points=self.after_tier - self.after_category,
                ))
            for step in self.campaigns:
                what = f"×{_text(step.multiplier)}" if step.multiplier is not None else f"bonus {step.bonus}"
                label = f"campaign {step.campaign} {what}"
                if step.cap is not None:
                    label += f" (capped per {step.cap}: {_text(step.clipped)} clipped)"
                out.append(ExplanationLine(label=label, points=step.points))
            gap = self.points - self.subtotal
        if gap:
            out.append(ExplanationLine(label=f"rounding ({self.rounding}) of {_text(self.subtotal)}", points=gap))
        return tuple(out)

    # -- metadata ----------------------------------------------------------

    def to_metadata(self) -> dict[str, str]:
        """Flat string metadata for the earn transaction; ``r_`` keys, no customer or order id.

        At most 12 + 5 × MAX_STACKED_CAMPAIGNS keys; every value is a code or a
        bounded decimal.
        """

        meta = {
            "r_ver": self.rules_version,
            "r_amt": _text(self.amount),
            "r_cur": self.currency,
            "r_cat": self.category,
            "r_ch": self.channel,
            "r_tier": self.tier,
            "r_rate": _text(self.rate),
            "r_xcat": _text(self.category_multiplier),
            "r_xtier": _text(self.tier_multiplier),
            "r_rnd": self.rounding,
            "r_pts": str(self.points),
        }
        if self.reason is not None:
            meta["r_why"] = self.reason
        for i, step in enumerate(self.campaigns):
            key = f"r_c{i}"
            meta[key] = step.campaign
            if step.multiplier is not None:
                meta[f"{key}_x"] = _text(step.multiplier)
            else:
                meta[f"{key}_b"] = str(step.bonus)
            meta[f"{key}_p"] = _text(step.points)
            if step.cap is not None:
                meta[f"{key}_cap"] = step.cap
                meta[f"{key}_clip"] = _text(step.clipped)
        return meta

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "EarnBreakdown":
        """Read back what :meth:`to_metadata` wrote (other keys of the transaction are ignored)."""

        ours = {k: v for k, v in metadata.items() if k.startswith("r_")}
        used: set[str] = set()

        def take(key: str) -> str:
            used.add(key)
            return ours[key]

        try:
            steps = []
            i = 0
            while f"r_c{i}" in ours:
                key = f"r_c{i}"
                step: dict[str, Any] = {"campaign": take(key), "points": Decimal(take(f"{key}_p"))}
                if f"{key}_x" in ours:
                    step["multiplier"] = Decimal(take(f"{key}_x"))
                if f"{key}_b" in ours:
                    step["bonus"] = int(take(f"{key}_b"))
                if f"{key}_cap" in ours:
                    step["cap"] = take(f"{key}_cap")
                    step["clipped"] = Decimal(take(f"{key}_clip"))
                steps.append(CampaignStep(**step))
                i += 1
            breakdown = cls(
                rules_version=take("r_ver"),
                amount=Decimal(take("r_amt")),
                currency=take("r_cur"),
                category=take("r_cat"),
                channel=take("r_ch"),
                tier=take("r_tier"),
                rate=Decimal(take("r_rate")),
                category_multiplier=Decimal(take("r_xcat")),
                tier_multiplier=Decimal(take("r_xtier")),
                rounding=take("r_rnd"),
                reason=take("r_why") if "r_why" in ours else None,
                points=int(take("r_pts")),
                campaigns=tuple(steps),
            )
            # Derived figures are computed from the parsed values: check they stay exact.
            _ = breakdown.subtotal
        except (KeyError, ValueError, ArithmeticError, ValidationError) as exc:
            raise InvalidCommand(f"earn breakdown metadata is incomplete or malformed: {exc!r}") from None
        unknown = sorted(set(ours) - used)
        if unknown:
            raise InvalidCommand(f"earn breakdown metadata has unknown keys {unknown}")
        return breakdown


def _round(value: Decimal, rounding: Rounding) -> int:
    with localcontext(_ROUNDING):
        return int(round_to(value, 0, rounding))


# --------------------------------------------------------------------------
# Pricing


def quote(rules: Rules, order: Order, *, tier: str, campaign_usage: Mapping[str, int]) -> EarnBreakdown:
    """Price an order under ``rules`` for a customer of ``tier`` (steps in the module docstring).

    ``campaign_usage`` maps a campaign id to the points this customer was
    already charged by it (summed :meth:`EarnBreakdown.campaign_charges`);
    missing ids count as 0. A currency, tier or channel the rules do not know,
    or more decimals than the currency has, is an :class:`InvalidCommand`.
    """

    currency = rules.currency(order.currency)
    if _places(order.amount) > currency.decimals:
        raise InvalidCommand(f"{order.amount} {order.currency} has more than {currency.decimals} decimals")
    tier_rule = rules.tier(tier)
    if order.channel not in rules.channels:
        raise InvalidCommand(f"unknown channel {order.channel!r} (channels: {', '.join(rules.channels)})")
    for campaign_id, used in campaign_usage.items():
        if not isinstance(used, int) or isinstance(used, bool) or used < 0:
            raise InvalidCommand(f"campaign usage of {campaign_id!r} must be a non-negative integer, got {used!r}")

    fields: dict[str, Any] = {
        "rules_version": rules.version,
        "amount": order.amount,
        "currency": order.currency,
        "category": order.category,
        "channel": order.channel,
        "tier": tier_rule.name,
        "rate": currency.rate,
        "category_multiplier": rules.category_multiplier(order.category),
        "tier_multiplier": tier_rule.multiplier,
        "rounding": rules.rounding,
    }
    if order.category in rules.excluded_categories:
        return EarnBreakdown(**fields, reason="excluded_category", points=0)
    if order.amount < currency.minimum_order:
        return EarnBreakdown(**fields, reason="below_minimum", points=0)

    steps: list[CampaignStep] = []
    with _exact():
        running = order.amount * currency.rate * fields["category_multiplier"] * tier_rule.multiplier
        bonuses = Decimal(0)
        for campaign in rules.campaigns_at(order.ordered_at):
            if not campaign.applies_to(order):
                continue
            wanted = running * (campaign.multiplier - 1) if campaign.multiplier is not None else Decimal(campaign.bonus or 0)
            limit, cap = _limit(campaign, campaign_usage.get(campaign.id, 0))
            kept = wanted if limit is None else min(wanted, limit)
            steps.append(CampaignStep(
                campaign=campaign.id,
                multiplier=campaign.multiplier,
                bonus=campaign.bonus,
                points=kept,
                clipped=wanted - kept,
                cap=cap if kept < wanted else None,
            ))
            if campaign.multiplier is not None:
                running += kept
            else:
                bonuses += kept
        subtotal = running + bonuses
    return EarnBreakdown(**fields, campaigns=tuple(steps), points=_round(subtotal, rules.rounding))


def _limit(campaign: Campaign, used: int) -> tuple[Decimal | None, Literal["order", "customer"] | None]:
    """The most a campaign may still add to this order, and which cap sets it (customer on a tie)."""

    per_order = campaign.cap_per_order
    left = None if campaign.cap_per_customer is None else max(0, campaign.cap_per_customer - used)
    if left is not None and (per_order is None or left <= per_order):
        return Decimal(left), "customer"
    if per_order is not None:
        return Decimal(per_order), "order"
    return None, None


# --------------------------------------------------------------------------
# Engagement


def engagement_points(rules: Rules, event: str, *, already_awarded_today: int, already_awarded_ever: int) -> int:
    """Points for one engagement event, given how many times it was already awarded.

    ``already_awarded_today`` counts awards of this event in the current
    programme day (see :func:`programme_day`), ``already_awarded_ever`` all of
    them. A limit already reached raises :class:`EngagementLimitReached`.
    """

    try:
        rule = rules.engagement[event]
    except KeyError:
        known = ", ".join(sorted(rules.engagement)) or "none"
        raise InvalidCommand(f"unknown engagement event {event!r} (events: {known})") from None
    for name, count in (("already_awarded_today", already_awarded_today), ("already_awarded_ever", already_awarded_ever)):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidCommand(f"{name} must be a non-negative integer, got {count!r}")
    if already_awarded_today > already_awarded_ever:
        raise InvalidCommand("more awards today than ever: the counts are inconsistent")
    if rule.per_customer is not None and already_awarded_ever >= rule.per_customer:
        raise EngagementLimitReached(
            f"{event} is awarded at most {rule.per_customer} time(s) per customer", code="ENGAGEMENT_LIMIT"
        )
    if rule.per_day is not None and already_awarded_today >= rule.per_day:
        raise EngagementLimitReached(f"{event} is awarded at most {rule.per_day} time(s) a day", code="ENGAGEMENT_LIMIT")
    return rule.points


def programme_day(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the calendar day holding ``instant`` in ``zone`` (the chart's programme time zone).

    A day is midnight to midnight on the local calendar, so it lasts 23 or 25
    hours across a DST change.
    """

    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidCommand(f"instant {instant.isoformat()} has no time zone")
    day = instant.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


# --------------------------------------------------------------------------
# Tiers


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

    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise InvalidCommand(f"instant {as_of.isoformat()} has no time zone")
    end = as_of.astimezone(timezone.utc)
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


# --------------------------------------------------------------------------
# Comparing versions


class VersionComparison(Frozen):
    """What one sample order earns under two rule versions; a note says why it earns nothing or fails."""

    order_id: str
    tier: str
    old_version: str
    new_version: str
    old_points: int | None
    new_points: int | None
    old_note: str | None = None
    new_note: str | None = None

    @property
    def delta(self) -> int | None:
        if self.old_points is None or self.new_points is None:
            return None
        return self.new_points - self.old_points


def _try_quote(rules: Rules, order: Order, tier: str, usage: Mapping[str, int]) -> tuple[int | None, str | None]:
    try:
        breakdown = quote(rules, order, tier=tier, campaign_usage=usage)
    except InvalidCommand as exc:
        return None, exc.message
    return breakdown.points, breakdown.reason


def compare_versions(
    old_rules: Rules,
    new_rules: Rules,
    sample_orders: Sequence[Order],
    *,
    tier: str | None = None,
    campaign_usage: Mapping[str, int] | None = None,
) -> tuple[VersionComparison, ...]:
    """One row per sample order: points under the old and the new rules.

    ``tier`` defaults to each version's base tier. An order one version
    refuses (say, a currency it dropped) gets no points and the refusal as
    its note instead of stopping the comparison.
    """

    usage = campaign_usage or {}
    rows = []
    for order in sample_orders:
        old_tier = tier or old_rules.base_tier.name
        new_tier = tier or new_rules.base_tier.name
        old_points, old_note = _try_quote(old_rules, order, old_tier, usage)
        new_points, new_note = _try_quote(new_rules, order, new_tier, usage)
        rows.append(VersionComparison(
            order_id=order.order_id,
            tier=new_tier if old_tier == new_tier else f"{old_tier}/{new_tier}",
            old_version=old_rules.version,
            new_version=new_rules.version,
            old_points=old_points,
            new_points=new_points,
            old_note=old_note,
            new_note=new_note,
        ))
    return tuple(rows)

