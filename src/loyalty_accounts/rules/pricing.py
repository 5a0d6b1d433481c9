"""Pricing an order: :func:`quote` and the :class:`EarnBreakdown` that explains and records it.

Everything here is pure: the service reads the ledger (tier, campaign usage)
and passes plain numbers in; nothing reads a clock.

How :func:`quote` prices an order, always in this order:

1. an excluded category, or an amount below the currency's minimum, earns 0
   and the breakdown says why;
2. base = amount × the currency's rate;
3. × the category multiplier (1 for a category the file does not list);
4. × the tier multiplier;
5. the campaigns active at the order's own instant (start inclusive, end
   exclusive; a bare-date edge is midnight in the campaign's time zone),
   taken by start instant then id: a multiplier adds ``running × (m − 1)`` to
   the running figure, so later multipliers compound on it; a bonus adds a
   fixed number of points that no multiplier touches; each contribution is
   clipped to the campaign's per-order cap and to what is left of its
   per-customer cap after ``campaign_usage``;
6. the exact total is rounded once, with the file's rule (floor).

Every step above works on exact decimals and never rounds; rounding happens
only in step 6. Each step is a non-decreasing function of the running figure
with a non-negative result (multipliers are positive, campaign contributions
are ``min(≥ 0, cap)``), and the rounding rules are non-decreasing and map
non-negative values to non-negative integers. So points are never negative
and more money never earns fewer points under the same rules, tier and usage.

Worked example (``rules.yaml``, version 2026.12.1): a gold customer buys
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
cap (:attr:`CampaignStep.charged`). Each earn credits those charges to the
customer's usage account of the campaign, whose balance is ``campaign_usage``
(:func:`loyalty_accounts.operations.earn.campaign_usage`); charging upwards is
what keeps the customer inside the cap.
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Annotated, Any, Literal, Mapping

from pydantic import Field, ValidationError, model_validator

from ..errors import InvalidCommand
from ..vocabulary.amounts import Rounding, round_to
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import Code
from .model import (
    MAX_STACKED_CAMPAIGNS,
    Campaign,
    CampaignId,
    CurrencyCode,
    Order,
    Rules,
    Version,
    decimal_places,
)

Reason = Literal["excluded_category", "below_minimum"]

# Exact arithmetic: wide enough for any product the bounds of the rules allow, and
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

    @property
    def bonus_points(self) -> int:
        """The part of :attr:`points` the campaigns added (bonus points): the total less the order's own price
        (:attr:`after_tier`) rounded the same way; 0 without campaigns, never below 0 nor above the total."""

        if self.reason is not None or not self.campaigns:
            return 0
        return max(0, min(self.points, self.points - _round(self.after_tier, self.rounding)))

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
    if decimal_places(order.amount) > currency.decimals:
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


