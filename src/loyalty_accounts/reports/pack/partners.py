"""Partner balances: each partner's settlement account at an instant, in money.

The chart's ``partners:{partner}:settlement`` account holds the money
balance with a partner: negative when the programme owes the partner
(points our customers exchanged out), positive when the partner owes the
programme (points exchanged in). Every partner the chart declares has a
line, at zero if its account was never used by then.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Sequence

from ...chart import Chart
from ...ports import LedgerPort
from ...types import AccountState
from ...vocabulary.amounts import from_minor
from ...vocabulary.frozen import Frozen
from ...vocabulary.instants import utc

__all__ = ["PartnerBalance", "partner_balances", "read_partner_balances"]


class PartnerBalance(Frozen):
    partner: str
    name: str
    account: str
    balance: Decimal
    """In the money asset's currency, exact; negative: the programme owes the partner."""
    currency: str

    @property
    def position(self) -> str:
        if self.balance > 0:
            return "partner owes the programme"
        if self.balance < 0:
            return "programme owes the partner"
        return "settled"


def partner_balances(chart: Chart, accounts: Sequence[AccountState]) -> tuple[PartnerBalance, ...]:
    """One line per declared partner, from the settlement accounts listed (others ignored), by partner key."""

    held = {account.address: account.balance(chart.money_asset) for account in accounts}
    lines = []
    for key in sorted(chart.spec.partners):
        address = chart.partner_account(key, "settlement")
        lines.append(
            PartnerBalance(
                partner=key,
                name=chart.spec.partners[key].name,
                account=address,
                balance=from_minor(held.get(address, 0), chart.money_asset),
                currency=chart.money_currency,
            )
        )
    return tuple(lines)


def read_partner_balances(ledger: LedgerPort, chart: Chart, as_of: datetime) -> tuple[PartnerBalance, ...]:
    """The settlement accounts effective at ``as_of`` (one listing)."""

    return partner_balances(chart, list(ledger.accounts(chart.kind_filter("partner_settlement"), pit=utc(as_of))))
