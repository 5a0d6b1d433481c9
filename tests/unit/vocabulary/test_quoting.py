from __future__ import annotations

from datetime import timezone

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.vocabulary.amounts import parse_points
from loyalty_accounts.vocabulary.instants import parse_instant
from loyalty_accounts.vocabulary.quoting import QUOTED_AT_MOST, quoted


def test_a_short_value_is_quoted_whole_and_a_long_one_cut_with_its_length() -> None:
    assert quoted("c 1") == "'c 1'"
    assert quoted("x" * QUOTED_AT_MOST) == repr("x" * QUOTED_AT_MOST)
    assert quoted("x" * (QUOTED_AT_MOST + 1)) == repr("x" * QUOTED_AT_MOST) + f"… ({QUOTED_AT_MOST + 1} characters)"
    assert quoted(42) == "42" and quoted(None) == "None"


def test_a_newline_in_a_refused_value_stays_escaped() -> None:
    assert "\n" not in quoted("a\nb") and quoted("a\nb") == "'a\\nb'"


@pytest.mark.parametrize("parse", [lambda t: parse_instant(t, timezone.utc, what="--at"), lambda t: parse_points(t)])
def test_a_pasted_screenful_is_refused_in_one_short_line(parse) -> None:
    text = "2026-01-01" + "\n9" * 500
    with pytest.raises(InvalidCommand) as refused:
        parse(text)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 220 and "(1010 characters)" in message


@pytest.mark.parametrize("typed", ["ann.lee@example.com", "+1 415 555 0100", "4155550100"])
def test_an_email_or_phone_typed_in_a_value_is_not_repeated(typed: str) -> None:
    shown = quoted(typed)
    assert typed not in shown and "not repeated" in shown


def test_blanks_between_words_are_repeated_in_a_value_that_is_no_id() -> None:
    # a malformed instant is said back as typed (ids are stricter: :func:`loyalty_accounts.vocabulary.ids.customer_id`)
    assert quoted("2026-05-01 10:00") == "'2026-05-01 10:00'"


def test_an_fx_rate_typed_as_a_phone_number_is_not_repeated() -> None:
    from loyalty_accounts.operations.revenue_estimate import parse_fx

    with pytest.raises(InvalidCommand) as refused:
        parse_fx(["EUR=415-555-0100"])
    assert "555" not in str(refused.value) and "not repeated" in str(refused.value)


def test_a_long_list_is_cut_with_the_length_of_what_is_cut() -> None:
    text = repr(list(range(30)))
    assert quoted(list(range(30))) == text[:QUOTED_AT_MOST] + f"… ({len(text)} characters in all)"


def test_a_field_s_validation_error_gives_the_value_s_own_length_and_closes_its_quote() -> None:
    # a 101-character order id: the message shows its first QUOTED_AT_MOST characters quoted, then 101, not 103
    from datetime import datetime
    from decimal import Decimal

    from loyalty_accounts.operations.earn import EarnCommand
    from loyalty_accounts.vocabulary.amounts import Money

    with pytest.raises(InvalidCommand) as refused:
        EarnCommand(
            customer="c1",
            order_id="x" * 101,
            amount=Money(amount=Decimal("10"), currency="USD"),
            ordered_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        )
    message = str(refused.value)
    assert "(got " + repr("x" * QUOTED_AT_MOST) + "… (101 characters))" in message, message
