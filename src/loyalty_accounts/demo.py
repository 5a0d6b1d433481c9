"""A small, realistic programme year, run through the real services.

Four customers shop in two currencies through a chargeback window, hold and
capture points at checkout (one hold is voided), redeem, get a partial refund
after spending, transfer, exchange with a partner airline, convert to store
credit, and finally lose old points to expiry. Every instant is fixed, so the
story is the same on every run: run it twice on one ledger and the second run
posts nothing (every step is a replay of its business key).
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


def _money(amount: str, currency: str) -> Money:
    return Money(amount=Decimal(amount), currency=currency)


@dataclass(frozen=True)
class Step:
    label: str
    run: Callable[[LoyaltyProgram], OperationResult | BatchResult]


def _earn(customer: str, order: str, amount: str, currency: str, at: str) -> Step:
    return Step(
        f"{customer} orders {order} for {amount} {currency}",
        lambda p: p.earn(EarnCommand(customer=customer, order_id=order, amount=_money(amount, currency), ordered_at=_at(at))),
    )


def _release(at: str) -> Step:
    return Step(f"release pending points due by {at[:10]}", lambda p: p.release(_at(at)))


STEPS: tuple[Step, ...] = (
    _earn("alice", "A-1001", "120.00", "USD", "2025-09-01T10:00:00"),
    _earn("bob", "B-2001", "80.00", "EUR", "2025-09-01T11:00:00"),
    _earn("carol", "C-3001", "250.00", "USD", "2025-09-02T09:30:00"),
    _earn("dave", "D-4001", "45.00", "USD", "2025-09-03T16:00:00"),
    _release("2025-09-20T00:00:00"),
    _earn("alice", "A-1002", "60.00", "USD", "2025-10-15T12:00:00"),
    _earn("bob", "B-2002", "300.00", "USD", "2025-10-16T12:00:00"),
    _release("2025-11-01T00:00:00"),
    Step(
        "alice holds 100 points at checkout",
        lambda p: p.hold(HoldCommand(customer="alice", hold_id="H-A1", points=100, at=_at("2025-11-05T10:00:00"))),
    ),
    Step(
        "alice's checkout captures 70 of them",
        lambda p: p.capture(CaptureCommand(customer="alice", hold_id="H-A1", points=70, at=_at("2025-11-05T10:05:00"))),
    ),
    Step(
        "bob holds 50 points",
        lambda p: p.hold(HoldCommand(customer="bob", hold_id="H-B1", points=50, at=_at("2025-11-05T11:00:00"))),
    ),
    Step("bob's checkout is abandoned: void", lambda p: p.void("bob", "H-B1")),
    Step(
        "carol redeems 200 points for a mug",
        lambda p: p.redeem(
            RedeemCommand(customer="carol", redemption_id="R-C1", points=200, reward="mug", at=_at("2025-11-10T09:00:00"))
        ),
    ),
    Step(
        "carol returns part of C-3001 (100.00 USD) after spending",
        lambda p: p.refund(
            RefundCommand(
                customer="carol", order_id="C-3001", refund_id="F-C1", amount=_money("100.00", "USD"), at=_at("2025-11-12T15:00:00")
            )
        ),
    ),
    _earn("carol", "C-3002", "80.00", "USD", "2025-12-01T10:00:00"),
    _release("2025-12-20T00:00:00"),
    Step(
        "alice gives dave 30 points",
        lambda p: p.transfer(
            TransferCommand(customer="alice", to_customer="dave", transfer_id="T-1", points=30, at=_at("2026-01-10T10:00:00"))
        ),
    ),
    Step(
        "bob swaps points for 60 Skyway miles",
        lambda p: p.exchange_out(
            ExchangeOutCommand(customer="bob", exchange_id="X-B1", partner="skyway", partner_points=60, at=_at("2026-02-01T10:00:00"))
        ),
    ),
    Step(
        "dave brings in 40 Skyway miles",
        lambda p: p.exchange_in(
            ExchangeInCommand(customer="dave", exchange_id="X-D1", partner="skyway", partner_points=40, at=_at("2026-02-15T10:00:00"))
        ),
    ),
    Step(
        "bob converts 200 points into store credit",
        lambda p: p.convert(ConvertCommand(customer="bob", conversion_id="V-B1", points=200, at=_at("2026-03-01T10:00:00"))),
    ),
    Step("expiry run a year after the first orders", lambda p: p.expire(_at("2026-09-05T00:00:00"))),
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
