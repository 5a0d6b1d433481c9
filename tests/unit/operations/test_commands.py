"""Commands are checked when they are made: bad input is InvalidCommand, naming the field."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from opsupport import AT

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import (
    ConvertCommand,
    EarnCommand,
    HoldCommand,
    Money,
    RedeemCommand,
    RefundCommand,
)

GOOD_EARN = dict(customer="c42", order_id="o-1.a_b", amount=Money(amount=Decimal("10"), currency="USD"), ordered_at=AT)


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("customer", "c 42", "customer"),
        ("customer", "", "customer"),
        ("customer", "x" * 65, "customer"),
        ("customer", "c42:points", "customer"),
        ("order_id", "o/1", "order_id"),
        ("order_id", "o" * 101, "order_id"),
        ("ordered_at", datetime(2026, 6, 1, 10, 0), "timezone"),
        ("amount", {"amount": "-1", "currency": "USD"}, "greater than 0"),
        ("amount", {"amount": "0", "currency": "USD"}, "greater than 0"),
        ("amount", {"amount": 1.25, "currency": "USD"}, "never a float"),
        ("amount", {"amount": "NaN", "currency": "USD"}, "amount"),
        ("amount", {"amount": "10", "currency": "usd"}, "currency"),
    ],
)
def test_bad_earn_commands(field, value, fragment):
    with pytest.raises(InvalidCommand, match=fragment):
        EarnCommand(**{**GOOD_EARN, field: value})


@pytest.mark.parametrize("points", [0, -5, 1.5, "10", True])
def test_points_are_positive_integers(points):
    with pytest.raises(InvalidCommand, match="points"):
        RedeemCommand(customer="c42", redemption_id="r-1", points=points, at=AT)


def test_unknown_fields_are_refused():
    with pytest.raises(InvalidCommand, match="colour"):
        HoldCommand(customer="c42", hold_id="h-1", points=1, at=AT, colour="red")


def test_missing_fields_are_named():
    with pytest.raises(InvalidCommand, match="at: required"):
        ConvertCommand(customer="c42", conversion_id="cv-1", points=100)


def test_model_validate_also_raises_invalid_command():
    with pytest.raises(InvalidCommand, match="refund_id"):
        RefundCommand.model_validate(
            {"customer": "c42", "order_id": "o-1", "refund_id": "", "amount": {"amount": "1", "currency": "USD"}, "at": AT}
        )


def test_commands_are_frozen():
    cmd = EarnCommand(**GOOD_EARN)
    with pytest.raises(Exception):
        cmd.customer = "c77"  # type: ignore[misc]


def test_instants_are_normalised_to_utc():
    from datetime import timedelta, timezone

    here = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    a = EarnCommand(**{**GOOD_EARN, "ordered_at": here})
    b = EarnCommand(**GOOD_EARN)
    assert a == b
    assert a.fingerprint() == b.fingerprint()


def test_processing_instant_is_not_part_of_the_fingerprint() -> None:
    later = AT.replace(second=AT.second + 1) if AT.second < 59 else AT.replace(minute=AT.minute + 1)
    first = RedeemCommand(customer="c42", redemption_id="r-1", points=10, at=AT)
    retried = RedeemCommand(customer="c42", redemption_id="r-1", points=10, at=later)
    changed = RedeemCommand(customer="c42", redemption_id="r-1", points=11, at=AT)
    assert first.fingerprint() == retried.fingerprint()
    assert first.fingerprint() != changed.fingerprint()


def test_order_instant_is_part_of_the_earn_fingerprint() -> None:
    other = {**GOOD_EARN, "ordered_at": GOOD_EARN["ordered_at"].replace(year=2025)}
    assert EarnCommand(**GOOD_EARN).fingerprint() != EarnCommand(**other).fingerprint()
