"""Revenue estimate: one control unit moved from the estimates account to itself, the estimate in the metadata."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from support.interpreter import run_script

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations.revenue_estimate import (
    Estimates,
    RevenueEstimate,
    RevenueEstimateCommand,
    parse_fx,
    parse_rate,
    plan,
)
from loyalty_accounts.types import PostedTransaction

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def command(**estimates: object) -> RevenueEstimateCommand:
    fields = {"breakage_rate": Decimal("0.2"), **estimates}
    return RevenueEstimateCommand(effective=AT, estimates=Estimates(**fields), approved_by="cfo")


def test_the_estimate_is_dated_at_its_instant_and_moves_no_balance(chart, catalogue):
    p = plan(command(fx=(("EUR", Decimal("1.0850")),), constrained_rate=Decimal("0.15")), chart, catalogue, None)
    assert p.reference == "revenue_estimate:20260101T000000.000000Z"
    assert p.timestamp == AT
    assert p.vars == {"one": "CTL 1", "estimates": "program:revenue:estimates"}
    assert p.metadata == {
        "effective": "2026-01-01T00:00:00Z",
        "breakage_rate": "0.2",
        "constrained_rate": "0.15",
        "method": "proportional",
        "approved_by": "cfo",
        "fx_EUR": "1.085",
    }
    postings = run_script(p.script, p.vars, {"program:revenue:estimates": {"CTL": 0}})
    assert postings == [{"source": "program:revenue:estimates", "destination": "program:revenue:estimates", "amount": 1, "asset": "CTL"}]


def test_the_same_rate_written_two_ways_is_the_same_command():
    assert command(breakage_rate=parse_rate("20%", option="--breakage")).fingerprint() == command(breakage_rate=Decimal("0.200")).fingerprint()
    assert command(breakage_rate=Decimal("0.25")).fingerprint() != command().fingerprint()


def test_the_metadata_reads_back_as_the_estimate(chart, catalogue):
    p = plan(command(method="remote", fx=(("JPY", Decimal("0.0067")), ("EUR", Decimal("1.08")))), chart, catalogue, None)
    tx = PostedTransaction(id=7, timestamp=AT, postings=(), metadata=p.all_metadata(), reference=p.reference)
    read = RevenueEstimate.of(tx)
    assert (read.effective, read.approved_by, read.transaction_id) == (AT, "cfo", 7)
    assert read.estimates == Estimates(breakage_rate=Decimal("0.2"), method="remote", fx=(("EUR", Decimal("1.08")), ("JPY", Decimal("0.0067"))))
    assert read.estimates.rate_of("JPY") == Decimal("0.0067") and read.estimates.rate_of("GBP") is None


@pytest.mark.parametrize(
    "fields",
    [
        {"breakage_rate": Decimal("1")},
        {"breakage_rate": Decimal("-0.1")},
        {"breakage_rate": Decimal("NaN")},
        {"breakage_rate": Decimal("0.1"), "constrained_rate": Decimal("0.2")},
        {"breakage_rate": Decimal("0.2"), "method": "linear"},
        {"breakage_rate": Decimal("0.2"), "fx": (("EUR", Decimal("0")),)},
        {"breakage_rate": Decimal("0.2"), "fx": (("EUR", Decimal("1")), ("EUR", Decimal("1.1")))},
        {"breakage_rate": Decimal("0.2"), "fx": (("euro", Decimal("1")),)},
    ],
)
def test_malformed_estimates_are_refused(fields):
    with pytest.raises(InvalidCommand):
        Estimates(**fields)


def test_a_rate_for_the_programmes_own_currency_is_refused(chart, catalogue):
    with pytest.raises(InvalidCommand, match="no exchange rate is needed for USD"):
        plan(command(fx=(("USD", Decimal("1")),)), chart, catalogue, None)


@pytest.mark.parametrize("approver", ["", "Jane Doe", "x" * 101])
def test_the_approver_is_an_id_not_a_name(approver):
    with pytest.raises(InvalidCommand):
        RevenueEstimateCommand(effective=AT, estimates=Estimates(breakage_rate=Decimal("0.2")), approved_by=approver)


def test_rates_and_exchange_rates_are_parsed_exactly():
    assert parse_rate("12.5%", option="--breakage") == Decimal("0.125")
    assert parse_rate(" 0.3 ", option="--breakage") == Decimal("0.3")
    assert parse_fx(["eur=1.0850", "JPY=0.0067"]) == (("EUR", Decimal("1.0850")), ("JPY", Decimal("0.0067")))
    for bad in ("abc", "inf", "%"):
        with pytest.raises(InvalidCommand, match="--breakage"):
            parse_rate(bad, option="--breakage")
    for bad in (["EUR"], ["EUR=x"]):
        with pytest.raises(InvalidCommand, match="--fx"):
            parse_fx(bad)
