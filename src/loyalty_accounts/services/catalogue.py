"""The reward catalogue as the programme offers it: the rules' rewards, with their stock read from the ledger.

The catalogue itself (reward types, rewards, prices) is the rules file's
(:mod:`loyalty_accounts.rules.catalogue`); what a physical reward has in
stock, has received and has handed out are balances of its accounts on the
ledger (what its redemptions held for review reserve is what is left of those) (:mod:`loyalty_accounts.operations.stock`), never a count kept here.
Restocking is an operation with a business key (:mod:`loyalty_accounts.operations.restock`),
run by the executor exactly once.
"""

from __future__ import annotations

from decimal import Decimal

from ..chart.spec import STOCK_KINDS
from ..operations.restock import RestockCommand
from ..operations.stock import reward_catalogue
from ..rules import Reward
from ..vocabulary import ids
from ..vocabulary.frozen import Frozen
from .executor import Executor
from .results import OperationResult


class CatalogueLine(Frozen):
    """One reward as offered: its price and, for a physical one, its units on the ledger.

    ``in_stock``, ``reserved``, ``received`` and ``delivered`` are None for a
    reward that is not physical (it keeps no stock); ``received`` is every
    unit ever restocked, ``delivered`` every unit redeemed (or approved after
    review), ``reserved`` the units held by redemptions waiting for review (in
    their hold accounts: ``received − in_stock − delivered``, since the
    reward's units only ever leave its restocked account), ``in_stock`` what
    is left to redeem.
    """

    sku: str
    reward_type: str
    name: str
    points: int
    value: Decimal | None
    currency: str
    points_per_unit: Decimal
    minimum_points: int
    physical: bool
    in_stock: int | None = None
    reserved: int | None = None
    received: int | None = None
    delivered: int | None = None


class CatalogueService:
    """The catalogue's rewards with their stock, and restocks."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._reading = executor.reading

    def rewards(self) -> list[CatalogueLine]:
        """Every reward of the catalogue, in the rules file's order; the physical ones with their stock
        (one listing per stock account kind, whatever the number of rewards). InvalidCommand without a catalogue."""

        catalogue = reward_catalogue(self._reading, "the catalogue")
        units = self._units() if any(r.physical for r in catalogue.rewards) else {}
        return [self._line(reward, units) for reward in catalogue.rewards]

    def reward(self, sku: str) -> CatalogueLine:
        """One reward with its stock; InvalidCommand for a malformed SKU or one the catalogue does not list."""

        reward = reward_catalogue(self._reading, "the catalogue").reward(ids.sku(sku))
        return self._line(reward, self._units(reward.sku) if reward.physical else {})

    def restock(self, command: RestockCommand) -> OperationResult:
        """Receive units of a physical reward into its stock; the same restock id again is a replay."""

        return self._executor.run(command)

    def _units(self, sku: str | None = None) -> dict[tuple[str, str], int]:
        """(kind, sku) → units of the stock asset, for every stock account of ``sku`` (None: of every reward)."""

        chart = self._reading.chart
        asset = chart.stock_asset
        found: dict[tuple[str, str], int] = {}
        for kind in STOCK_KINDS:
            if sku is not None:
                found[(kind, sku)] = self._reading.balance(chart.address(kind, reward=sku), asset)
                continue
            for state in self._reading.ledger.accounts(chart.kind_filter(kind)):
                parsed = chart.parse(state.address)
                if parsed is not None:
                    found[(kind, parsed.values["reward"])] = state.balance(asset)
        return found

    def _line(self, reward: Reward, units: dict[tuple[str, str], int]) -> CatalogueLine:
        catalogue = reward_catalogue(self._reading, "the catalogue")
        kind = catalogue.reward_types[reward.type]
        stock: dict[str, int | None] = {"in_stock": None, "reserved": None, "received": None, "delivered": None}
        if reward.physical:
            in_stock = units.get(("catalogue_stock", reward.sku), 0)
            received = -units.get(("catalogue_restocked", reward.sku), 0)
            delivered = units.get(("catalogue_delivered", reward.sku), 0)
            stock = {"in_stock": in_stock, "reserved": received - in_stock - delivered, "received": received, "delivered": delivered}
        return CatalogueLine(
            sku=reward.sku,
            reward_type=reward.type,
            name=reward.name,
            points=catalogue.price(reward),
            value=reward.value,
            currency=catalogue.currency,
            points_per_unit=kind.points_per_unit,
            minimum_points=kind.minimum_points,
            physical=reward.physical,
            **stock,
        )
