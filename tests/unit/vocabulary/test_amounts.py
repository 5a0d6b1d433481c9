from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.vocabulary.amounts import Money, asset_precision, from_minor, parse_points, to_minor


def test_asset_precision_and_minor_units():
    assert asset_precision("USD/2") == 2
    assert asset_precision("PTS") == 0
    assert to_minor(Decimal("12.5"), "USD/2") == 1250
    assert to_minor(Decimal("12.50"), "USD/2") == 1250
    assert to_minor(Decimal("3"), "JPY") == 3
    assert from_minor(1250, "USD/2") == Decimal("12.50")
    assert str(from_minor(5, "USD/2")) == "0.05"


def test_minor_units_refuse_extra_decimals_and_bad_assets():
    with pytest.raises(InvalidCommand, match="more decimals"):
        to_minor(Decimal("12.345"), "USD/2")
    with pytest.raises(InvalidCommand, match="invalid asset"):
        asset_precision("usd")
    with pytest.raises(InvalidCommand):
        to_minor(Decimal("NaN"), "USD/2")




def test_points_are_plain_whole_numbers() -> None:
    assert parse_points("250") == 250
    assert parse_points("-250", signed=True) == -250
    for bad in ("1.5", "1e3", "1_0", "+5", " 10", "0x10", "٥", "", "-5"):
        with pytest.raises(InvalidCommand, match="--points: .* is not a positive whole number of points"):
            parse_points(bad)
    with pytest.raises(InvalidCommand, match="-p: '1_0' is not a whole number of points"):
        parse_points("1_0", option="-p", signed=True)


@pytest.mark.parametrize("text", ["1e3", " 20 ", "20 ", "+20", "١٢", "１０", "12,50", ""])
def test_money_as_text_is_plain_decimal_digits(text: str) -> None:
    with pytest.raises((InvalidCommand, ValueError)):
        Money(amount=text, currency="USD")  # type: ignore[arg-type]
    assert Money(amount="12.50", currency="USD").amount == Decimal("12.5")  # type: ignore[arg-type]
