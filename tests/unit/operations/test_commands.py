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
    RedeemCommand,
    RefundCommand,
)
from loyalty_accounts.vocabulary.amounts import Money

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


def test_an_order_instant_filled_in_with_the_clock_is_not_part_of_the_fingerprint() -> None:
    from datetime import timedelta

    def made_at(offset: timedelta) -> EarnCommand:
        return EarnCommand(**{**GOOD_EARN, "ordered_at": AT + offset, "unstated": {"ordered_at"}})

    first, a_second_later = made_at(timedelta(0)), made_at(timedelta(seconds=1))
    assert first.fingerprint() == a_second_later.fingerprint()
    assert first.fingerprint() != EarnCommand(**GOOD_EARN).fingerprint()  # a stated instant counts
    other_amount = EarnCommand(**{**GOOD_EARN, "amount": Money(amount=Decimal("11"), currency="USD"), "unstated": {"ordered_at"}})
    assert other_amount.fingerprint() != first.fingerprint()
    assert "unstated" not in first.model_dump()
    with pytest.raises(InvalidCommand, match="not fields of this command: colour"):
        EarnCommand(**{**GOOD_EARN, "unstated": {"colour"}})


def test_sweeps_keep_their_as_of_to_the_second_their_references_name() -> None:
    from opsupport import dated_buckets

    from loyalty_accounts.chart import load_chart
    from loyalty_accounts.numscript import Catalogue
    from loyalty_accounts.operations import ExpireCommand, ReleaseCommand, expire

    early = ExpireCommand(customer="c42", as_of=AT.replace(microsecond=100))
    late = ExpireCommand(customer="c42", as_of=AT.replace(microsecond=900_000))
    assert early.as_of == late.as_of == AT.replace(microsecond=0)
    assert early.fingerprint() == late.fingerprint()
    assert ReleaseCommand(customer="c42", as_of=AT.replace(microsecond=5)).as_of == AT.replace(microsecond=0)
    chart, catalogue = load_chart(None), Catalogue()
    (plan_early,) = expire.plan(early, chart, catalogue, dated_buckets(d20250101=5))
    (plan_late,) = expire.plan(late, chart, catalogue, dated_buckets(d20250101=5))
    assert (plan_early.reference, plan_early.command_hash) == (plan_late.reference, plan_late.command_hash)
