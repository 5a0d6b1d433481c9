"""Partner exchange, out and in: three legs in one transaction, settlement in money."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand
from loyalty_accounts.operations import (
    ExchangeInCommand,
    ExchangeOutCommand,
    exchange_in,
    exchange_out,
)
from loyalty_accounts.types import TransactionPlan

EXCHANGE_OUT_SCRIPT_1 = """\
vars {
  monetary $points
  monetary $taken_0
  account $buckets_0
  account $exchanged
  monetary $partner_points
  account $partner_issued
  account $partner_delivered
  monetary $settlement
  account $partner_settlement
  account $exchange_cost
}

send $points (
  source = {
    max $taken_0 from $buckets_0

  }
  destination = $exchanged
)

send $partner_points (
  source = $partner_issued allowing unbounded overdraft
  destination = $partner_delivered
)

send $settlement (
  source = $partner_settlement allowing unbounded overdraft
  destination = $exchange_cost
)
"""

EXCHANGE_IN_SCRIPT = """\
vars {
  monetary $partner_points
  account $partner_issued
  account $partner_received
  monetary $points
  account $issued
  account $bucket
  monetary $settlement
  account $exchange_revenue
  account $partner_settlement
}

send $partner_points (
  source = $partner_issued allowing unbounded overdraft
  destination = $partner_received
)

send $points (
  source = $issued allowing unbounded overdraft
  destination = $bucket
)

send $settlement (
  source = $exchange_revenue allowing unbounded overdraft
  destination = $partner_settlement
)
"""


def out_command(miles: int = 40, partner: str = "skyway") -> ExchangeOutCommand:
    return ExchangeOutCommand(customer="c42", exchange_id="x-1", partner=partner, partner_points=miles, at=AT)


def in_command(miles: int = 100, partner: str = "skyway") -> ExchangeInCommand:
    return ExchangeInCommand(customer="c42", exchange_id="x-2", partner=partner, partner_points=miles, at=AT)


def test_exchange_out(chart, catalogue):
    plan = exchange_out.plan(out_command(), chart, catalogue, buckets(d20270331=200))
    assert plan == TransactionPlan(
        operation="exchange_out",
        template="exchange_out",
        script=EXCHANGE_OUT_SCRIPT_1,
        vars={
            "points": "PTS 120",
            "taken_0": "PTS 120",
            "buckets_0": "customers:c42:points:20270331",
            "exchanged": "partners:skyway:exchanged",
            "partner_points": "SKYMILES 40",
            "partner_issued": "partners:skyway:issued",
            "partner_delivered": "partners:skyway:delivered",
            "settlement": "USD/2 50",
            "partner_settlement": "partners:skyway:settlement",
            "exchange_cost": "program:exchange:cost",
        },
        reference="exchange_out:x-1",
        command_hash=out_command().fingerprint(),
        metadata={
            "customer": "c42",
            "exchange_id": "x-1",
            "partner": "skyway",
            "points": "120",
            "partner_points": "40",
            "partner_asset": "SKYMILES",
            "settlement": "0.50",
            "currency": "USD",
            "price_per_partner_point": "0.0125",
        },
        timestamp=AT,
    )


def test_settlement_is_rounded_half_even_to_cents(chart, catalogue):
    # 3 miles × 0.0125 = 0.0375 → 0.04; 2 miles → 0.025 → 0.02 (half even)
    three = exchange_out.plan(out_command(3), chart, catalogue, buckets(d20270331=200))
    two = exchange_out.plan(out_command(2), chart, catalogue, buckets(d20270331=200))
    assert three.vars["settlement"] == "USD/2 4"
    assert two.vars["settlement"] == "USD/2 2"


def test_exchange_out_short_of_points(chart, catalogue):
    with pytest.raises(InsufficientPoints):
        exchange_out.plan(out_command(67), chart, catalogue, buckets(d20270331=200))


def test_exchange_in(chart, catalogue):
    plan = exchange_in.plan(in_command(), chart, catalogue)
    assert plan == TransactionPlan(
        operation="exchange_in",
        template="exchange_in",
        script=EXCHANGE_IN_SCRIPT,
        vars={
            "partner_points": "SKYMILES 100",
            "partner_issued": "partners:skyway:issued",
            "partner_received": "partners:skyway:received",
            "points": "PTS 200",
            "issued": "program:points:issued:7",
            "bucket": "customers:c42:points:20270601",
            "settlement": "USD/2 80",
            "exchange_revenue": "program:exchange:revenue",
            "partner_settlement": "partners:skyway:settlement",
        },
        reference="exchange_in:x-2",
        command_hash=in_command().fingerprint(),
        metadata={
            "customer": "c42",
            "exchange_id": "x-2",
            "partner": "skyway",
            "points": "200",
            "partner_points": "100",
            "partner_asset": "SKYMILES",
            "settlement": "0.80",
            "currency": "USD",
            "price_per_partner_point": "0.0080",
            "expires_at": "2027-06-01",
        },
        timestamp=AT,
    )


def test_unknown_partner(chart, catalogue):
    with pytest.raises(InvalidCommand, match="unknown partner 'railco'"):
        exchange_in.plan(in_command(partner="railco"), chart, catalogue)
    with pytest.raises(InvalidCommand, match="unknown partner"):
        exchange_out.plan(out_command(partner="railco"), chart, catalogue, buckets(d20270331=200))


def test_only_whole_partner_points():
    with pytest.raises(InvalidCommand, match="partner_points"):
        ExchangeOutCommand(customer="c42", exchange_id="x-1", partner="skyway", partner_points=1.5, at=AT)
