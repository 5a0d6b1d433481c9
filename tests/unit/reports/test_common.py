"""The small exact helpers the statements share: money and the chart's address filters."""

from __future__ import annotations

from decimal import Decimal

from loyalty_accounts.reports.common import money_value


def test_money_is_exact() -> None:
    assert money_value(1234, Decimal("0.01")) == Decimal("12.34")
    assert str(money_value(0, Decimal("0.01"))) == "0.00"
    assert money_value(-30, Decimal("0.01")) == Decimal("-0.30")
    huge = 10**40 + 7
    # The default 28-digit context would round this product; the report must not.
    assert str(money_value(huge, Decimal("0.0125"))) == "125000000000000000000000000000000000000.0875"
