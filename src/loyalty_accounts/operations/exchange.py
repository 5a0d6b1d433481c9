"""What the two partner exchanges share (:mod:`.exchange_out`, :mod:`.exchange_in`): command, terms, legs, metadata.

An exchange trades ``partner_points`` whole points of a declared partner
(the chart's ``partners``) for our points, at the partner's terms for the
direction: ``outbound`` (our points out, theirs delivered) or ``inbound``
(theirs handed in, ours issued). Each direction's terms give our points per
partner point and the price of a partner point in the money asset; the
settlement is partner points × price, rounded by the chart's settlement
rule, and an exchange settling for nothing is refused.

Worked example, skyway outbound 3 PTS and 0.0125 USD per mile, 40 miles::

    points 120, settlement 0.50 USD: vars partner_points "SKYMILES 40",
    partner_issued "partners:skyway:issued", settlement "USD/2 50",
    partner_settlement "partners:skyway:settlement"

The metadata records the price the settlement was worked out at
(``price_per_partner_point``), so a partner statement shows each exchange at
the rate it was agreed at, whatever the chart says later (see
:mod:`loyalty_accounts.reports.partner_statement`). Exchanges posted before
it was recorded lack it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from ..chart import Chart, Partner
from ..errors import InvalidCommand
from ..numscript import VarValue, monetary
from ..vocabulary.amounts import Points, asset_precision, round_to, to_minor
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import BusinessKey, CustomerId, PartnerKey
from ..vocabulary.instants import Instant
from .base import Command

EXCHANGE_KEYS = frozenset(
    {"customer", "exchange_id", "partner", "points", "partner_points", "partner_asset", "settlement", "currency"}
)
"""The metadata keys every exchange writes (:meth:`Exchange.metadata`)."""
PRICE_KEY = "price_per_partner_point"
"""The metadata key holding the price (money per partner point) the settlement was worked out at; optional,
since exchanges posted before it was recorded lack it."""


class ExchangeCommand(Command):
    """Base of the exchange commands: ``partner_points`` whole points of ``partner``, for a customer."""

    key_field = "exchange_id"
    customer: CustomerId
    exchange_id: BusinessKey
    partner: PartnerKey
    partner_points: Points
    at: Instant


def settlement_amount(chart: Chart, partner_points: int, price: Decimal) -> Decimal:
    """Partner points × price, rounded to the money asset by the chart's settlement rule."""

    places = asset_precision(chart.money_asset)
    amount = round_to(Decimal(partner_points) * price, places, chart.policies.settlement_rounding)
    if amount <= 0:
        raise InvalidCommand(f"{partner_points} partner points settle for {amount}: too small to exchange")
    return amount


class Exchange(Frozen):
    """An exchange command priced at its partner's terms: our ``points`` and the money ``settlement``."""

    command: ExchangeCommand
    partner: Partner
    points: int
    price_per_partner_point: Decimal
    """Money per partner point: the price of the terms for the direction."""
    settlement: Decimal

    @classmethod
    def price(cls, command: ExchangeCommand, chart: Chart, direction: Literal["outbound", "inbound"]) -> Exchange:
        """The command at the partner's terms for ``direction``; InvalidCommand for an unknown partner."""

        partner = chart.partner(command.partner)
        terms = partner.outbound if direction == "outbound" else partner.inbound
        return cls(
            command=command,
            partner=partner,
            points=command.partner_points * terms.points_per_partner_point,
            price_per_partner_point=terms.price_per_partner_point,
            settlement=settlement_amount(chart, command.partner_points, terms.price_per_partner_point),
        )

    def partner_vars(self, chart: Chart) -> dict[str, VarValue]:
        """The template vars both directions share: the partner's points, its counterpart, the settlement."""

        p = self.command.partner
        return {
            "partner_points": monetary(self.partner.asset, self.command.partner_points),
            "partner_issued": chart.partner_account(p, "issued"),
            "settlement": monetary(chart.money_asset, to_minor(self.settlement, chart.money_asset)),
            "partner_settlement": chart.partner_account(p, "settlement"),
        }

    def metadata(self, chart: Chart) -> dict[str, str]:
        """The metadata every exchange writes (:data:`EXCHANGE_KEYS`, then :data:`PRICE_KEY`), in this order."""

        command = self.command
        return {
            "customer": command.customer,
            "exchange_id": command.exchange_id,
            "partner": command.partner,
            "points": str(self.points),
            "partner_points": str(command.partner_points),
            "partner_asset": self.partner.asset,
            "settlement": str(self.settlement),
            "currency": chart.money_currency,
            PRICE_KEY: str(self.price_per_partner_point),
        }
