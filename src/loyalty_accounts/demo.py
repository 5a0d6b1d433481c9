"""A small, realistic programme year, run through the real services and priced by the rules file.

Four customers shop from October 2025 in two currencies and several
categories, through a chargeback window. Carol's travel booking lifts her to
silver, so her later orders earn ×1.25; Bob's Saturday groceries meet a
store campaign, and his Black Friday order in the app stacks the app-week
bonus on the Black Friday multiplier (the 2025 editions of the campaigns in
rules.yaml). Dave signs up (an engagement award, once per customer). Then
points are redeemed, clawed back after a partial refund, held and captured,
transferred, exchanged with a partner airline, converted to store credit,
held at an abandoned checkout (voided) and, a year on, expired; by then the
qualification window has moved past Carol's booking and she is a member
again. Finance records its revenue estimates at launch (20 % breakage, EUR
at 1.08 USD) and revises breakage to 25 % in April, a catch-up in the
revenue schedule. Every instant is fixed, so the story is the same on every run: run it
twice on one ledger and the second run posts nothing (every step is a replay
of its business key).

The whole story lies in the past (2025-10-02 to 2026-10-06): a ledger only
records what has happened, and reports "as of now" read every transaction
dated up to now, so a future-dated step would be missing from them while its
effects were already posted. The one step not dated by the story is the
void: it is dated at the instant it is made (the programme's clock), so it
lands after every step of the story. The voided hold is therefore the story's last
spend, placed just before the expiry run, so that no account is ever below
zero at any instant, and the ledger reconciles as of the story's end (the
hold is then still live) and as of now; as of an instant in between, the
hold shows as lapsed and not yet voided, which is what the ledger records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from .operations.revenue_estimate import Estimates, RevenueEstimateCommand
from .operations import (
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from .program import LoyaltyProgram
from .services.results import BatchResult, OperationResult
from .vocabulary.amounts import Money
from .vocabulary.instants import parse_instant

CUSTOMERS = ("alice", "bob", "carol", "dave")


def _at(text: str) -> datetime:
    return parse_instant(text, timezone.utc)


# The instant of the last step (the expiry run): the demo reports tiers as they stand then.
END = _at("2026-10-06T00:00:00Z")


def _money(amount: str, currency: str) -> Money:
    return Money(amount=Decimal(amount), currency=currency)


@dataclass(frozen=True)
class Step:
    label: str
    run: Callable[[LoyaltyProgram], OperationResult | BatchResult]


def _earn(customer: str, order: str, amount: str, currency: str, category: str, channel: str, at: str) -> Step:
    command = EarnCommand(
        customer=customer,
        order_id=order,
        amount=_money(amount, currency),
        ordered_at=_at(at),
        category=category,
        channel=channel,
    )
    return Step(f"{customer} orders {order}: {amount} {currency} of {category} ({channel})", lambda p: p.earn(command))


def _release(at: str) -> Step:
    return Step(f"release pending points due by {at[:10]}", lambda p: p.release(_at(at)))


def _estimate(at: str, breakage: str, reason: str, **fx: str) -> Step:
    command = RevenueEstimateCommand(
        effective=_at(at),
        estimates=Estimates(breakage_rate=Decimal(breakage), fx=tuple((c, Decimal(r)) for c, r in fx.items())),
        approved_by="cfo",
        reason=reason,
    )
    return Step(f"finance records the revenue estimates from {at[:10]}: breakage {breakage}", lambda p: p.execute(command))


STEPS: tuple[Step, ...] = (
    _estimate("2025-10-01T00:00:00Z", "0.2", "launch", EUR="1.08"),
    _earn("alice", "A-1001", "120.00", "USD", "books", "web", "2025-10-02T10:00:00Z"),
    _earn("carol", "C-3001", "1000.00", "USD", "travel", "web", "2025-10-03T09:30:00Z"),
    Step("dave signs up", lambda p: p.engage("dave", "sign_up", "signup-dave", _at("2025-10-04T15:00:00Z"))),
    _earn("dave", "D-4001", "45.00", "USD", "fuel", "store", "2025-10-04T16:00:00Z"),
    _release("2025-10-21T00:00:00Z"),
    _earn("bob", "B-2001", "80.00", "EUR", "groceries", "store", "2025-10-25T09:00:00Z"),
    _earn("carol", "C-3002", "80.00", "USD", "groceries", "app", "2025-10-25T10:00:00Z"),
    _release("2025-11-11T00:00:00Z"),
    Step(
        "carol redeems 5350 points for a flight",
        lambda p: p.redeem(
            RedeemCommand(customer="carol", redemption_id="R-C1", points=5350, reward="flight", at=_at("2025-11-13T09:00:00Z"))
        ),
    ),
    Step(
        "carol returns part of C-3001 (20.00 USD) after spending",
        lambda p: p.refund(
            RefundCommand(
                customer="carol", order_id="C-3001", refund_id="F-C1", amount=_money("20.00", "USD"), at=_at("2025-11-15T15:00:00Z")
            )
        ),
    ),
    _earn("alice", "A-1002", "60.00", "USD", "electronics", "web", "2025-11-28T15:00:00Z"),
    _earn("bob", "B-2002", "300.00", "USD", "home", "app", "2025-11-29T12:00:00Z"),
    Step(
        "alice holds 100 points at checkout",
        lambda p: p.hold(HoldCommand(customer="alice", hold_id="H-A1", points=100, at=_at("2025-12-02T10:00:00Z"))),
    ),
    Step(
        "alice's checkout captures 70 of them",
        lambda p: p.capture(CaptureCommand(customer="alice", hold_id="H-A1", points=70, at=_at("2025-12-02T10:05:00Z"))),
    ),
    _earn("carol", "C-3003", "200.00", "EUR", "travel", "web", "2025-12-06T10:00:00Z"),
    _release("2025-12-21T00:00:00Z"),
    Step(
        "alice gives dave 30 points",
        lambda p: p.transfer(
            TransferCommand(customer="alice", to_customer="dave", transfer_id="T-1", points=30, at=_at("2026-01-11T10:00:00Z"))
        ),
    ),
    Step(
        "bob swaps points for 60 Skyway miles",
        lambda p: p.exchange_out(
            ExchangeOutCommand(customer="bob", exchange_id="X-B1", partner="skyway", partner_points=60, at=_at("2026-02-02T10:00:00Z"))
        ),
    ),
    Step(
        "dave brings in 40 Skyway miles",
        lambda p: p.exchange_in(
            ExchangeInCommand(customer="dave", exchange_id="X-D1", partner="skyway", partner_points=40, at=_at("2026-02-16T10:00:00Z"))
        ),
    ),
    Step(
        "bob converts 200 points into store credit",
        lambda p: p.convert(ConvertCommand(customer="bob", conversion_id="V-B1", points=200, at=_at("2026-03-02T10:00:00Z"))),
    ),
    _estimate("2026-04-01T00:00:00Z", "0.25", "half-year-review", EUR="1.08"),
    # The void is dated when it is made (when the demo runs), not at a
    # story instant: so the voided hold comes after every spend
    # of the story and is still live at END (its 30 minutes run to 00:15). Were
    # it earlier, the points the void gives back would have been spent again
    # before the void's date, and the ledger as of those instants would show
    # the bucket they came from below zero.
    Step(
        "bob holds 50 points",
        lambda p: p.hold(HoldCommand(customer="bob", hold_id="H-B1", points=50, at=_at("2026-10-05T23:45:00Z"))),
    ),
    Step("bob's checkout is abandoned: void", lambda p: p.void("bob", "H-B1")),
    Step("expiry run a year after the first orders", lambda p: p.expire(END)),
)


def run_demo(program: LoyaltyProgram, on_step: Callable[[Step, OperationResult | BatchResult], None] | None = None) -> list[OperationResult | BatchResult]:
    """Initialise the ledger and play every step; returns each step's result."""

    program.init()
    results = []
    for step in STEPS:
        result = step.run(program)
        results.append(result)
        if on_step:
            on_step(step, result)
    return results
