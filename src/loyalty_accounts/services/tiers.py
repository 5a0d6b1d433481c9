"""Tiers: read from the qualifying points (QPTS) every earn posts and every refund takes back.

Every earn moves as many qualifying points as it earned to the customer's
qualifying account of the order's day, ``customers:{c}:qualifying:{day}``, and
a refund of the order moves its share back: the tier at an instant sums the
balances, as of that instant, of the days inside the rules' qualification
window. Spending, transferring or expiring points never changes it.
"""

from __future__ import annotations

from datetime import date, datetime

from ..rules import TierStatus, tier_for
from ..vocabulary import ids
from .executor import Executor


class TierService:
    """Tiers and the qualifying points they are made of."""

    def __init__(self, executor: Executor) -> None:
        self._reading = executor.reading

    def tier(self, customer: str, as_of: datetime) -> TierStatus:
        """The customer's tier at ``as_of``: from qualifying points earned inside the window, as of then."""

        ids.customer_id(customer)
        rules = self._reading.require_rules("tier")
        self._reading.require_known(customer)
        return tier_for(rules, self._reading.qualifying_points(customer, as_of))

    def qualification_days(self, as_of: datetime) -> tuple[date | None, datetime]:
        """First programme day whose orders count for the tier at ``as_of`` (None: lifetime), and ``as_of``.

        See :meth:`loyalty_accounts.operations.reading.Reading.qualification_days`.
        """

        return self._reading.qualification_days(as_of)

    def qualifying_points(self, customer: str, as_of: datetime) -> int:
        """Qualifying points (earned from orders, net of refunds) inside the window at ``as_of``, as of then.

        See :meth:`loyalty_accounts.operations.reading.Reading.qualifying_points`.
        """

        return self._reading.qualifying_points(ids.customer_id(customer), as_of)
