"""A small, realistic programme year, run through the real services and priced by the rules file.

Four customers shop from October 2026 in two currencies and several
categories, through a chargeback window. Carol's travel booking lifts her to
silver, so her later orders earn ×1.25; Bob's Saturday groceries meet a
store campaign, and his Black Friday order in the app stacks the app-week
bonus on the Black Friday multiplier. Dave signs up (an engagement award,
once per customer). Then points are held and captured (one hold is voided),
redeemed, clawed back after a partial refund, transferred, exchanged with a
partner airline, converted to store credit and, a year on, expired; by then
the qualification window has moved past Carol's booking and she is a member
again. Every instant is fixed, so the story is the same on every run: run it
twice on one ledger and the second run posts nothing (every step is a replay
of its business key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from .operations import (
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    Money,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from .program import BatchResult, LoyaltyProgram, OperationResult

CUSTOMERS = ("alice", "bob", "carol", "dave")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# The instant of the last step: the demo reports tiers as they stand then.
END = _at("2027-10-05T00:00:00")


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


STEPS: tuple[Step, ...] = (
    _earn("alice", "A-1001", "120.00", "USD", "books", "web", "2026-10-01T10:00:00"),
    _earn("carol", "C-3001", "1000.00", "USD", "travel", "web", "2026-10-02T09:30:00"),
    Step("dave signs up", lambda p: p.engage("dave", "sign_up", "signup-dave", _at("2026-10-03T15:00:00"))),
    _earn("dave", "D-4001", "45.00", "USD", "fuel", "store", "2026-10-03T16:00:00"),
    _release("2026-10-20T00:00:00"),
    _earn("bob", "B-2001", "80.00", "EUR", "groceries", "store", "2026-10-24T09:00:00"),
    _earn("carol", "C-3002", "80.00", "USD", "groceries", "app", "2026-10-24T10:00:00"),
    _release("2026-11-10T00:00:00"),
    Step(
        "carol redeems 5350 points for a flight",
        lambda p: p.redeem(
            RedeemCommand(customer="carol", redemption_id="R-C1", points=5350, reward="flight", at=_at("2026-11-12T09:00:00"))
        ),
    ),
    Step(
        "carol returns part of C-3001 (20.00 USD) after spending",
        lambda p: p.refund(
            RefundCommand(
                customer="carol", order_id="C-3001", refund_id="F-C1", amount=_money("20.00", "USD"), at=_at("2026-11-14T15:00:00")
            )
        ),
    ),
    _earn("alice", "A-1002", "60.00", "USD", "electronics", "web", "2026-11-27T15:00:00"),
    _earn("bob", "B-2002", "300.00", "USD", "home", "app", "2026-11-28T12:00:00"),
    Step(
        "alice holds 100 points at checkout",
        lambda p: p.hold(HoldCommand(customer="alice", hold_id="H-A1", points=100, at=_at("2026-12-01T10:00:00"))),
    ),
    Step(
        "alice's checkout captures 70 of them",
        lambda p: p.capture(CaptureCommand(customer="alice", hold_id="H-A1", points=70, at=_at("2026-12-01T10:05:00"))),
    ),
    Step(
        "bob holds 50 points",
        lambda p: p.hold(HoldCommand(customer="bob", hold_id="H-B1", points=50, at=_at("2026-12-01T11:00:00"))),
    ),
    Step("bob's checkout is abandoned: void", lambda p: p.void("bob", "H-B1")),
    _earn("carol", "C-3003", "200.00", "EUR", "travel", "web", "2026-12-05T10:00:00"),
    _release("2026-12-20T00:00:00"),
    Step(
        "alice gives dave 30 points",
        lambda p: p.transfer(
            TransferCommand(customer="alice", to_customer="dave", transfer_id="T-1", points=30, at=_at("2027-01-10T10:00:00"))
        ),
    ),
    Step(
        "bob swaps points for 60 Skyway miles",
        lambda p: p.exchange_out(
            ExchangeOutCommand(customer="bob", exchange_id="X-B1", partner="skyway", partner_points=60, at=_at("2027-02-01T10:00:00"))
        ),
    ),
    Step(
        "dave brings in 40 Skyway miles",
        lambda p: p.exchange_in(
            ExchangeInCommand(customer="dave", exchange_id="X-D1", partner="skyway", partner_points=40, at=_at("2027-02-15T10:00:00"))
        ),
    ),
    Step(
        "bob converts 200 points into store credit",
        lambda p: p.convert(ConvertCommand(customer="bob", conversion_id="V-B1", points=200, at=_at("2027-03-01T10:00:00"))),
    ),
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
