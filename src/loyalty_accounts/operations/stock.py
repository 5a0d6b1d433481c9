"""What a physical reward has in stock, read from the ledger (the catalogue's stock accounts).

A physical reward of the catalogue (``rules.yaml`` ``catalogue``) keeps its
units on the ledger, in the chart's stock asset::

    catalogue:{sku}:restocked   minus every unit ever received (restock)
    catalogue:{sku}:stock       units ready to be redeemed (never negative)
    catalogue:{sku}:delivered   units handed to members (each redemption: one)

The plans read the stock a redemption may take at its instant: the lowest
balance of the stock account from that instant on (a back-dated redemption
must leave every later instant non-negative too), as buckets are read
(:mod:`.timeline`). The ledger's overdraft check on the stock account is what
decides under concurrency: a plan read from a stale stock is refused there
(``INSUFFICIENT_FUND``), and the executor reads and plans again.

The ledger checks the stock's current balance only; the reward's operation
counter (``catalogue:{sku}:sequence``, :mod:`.counter`) makes a back-dated
take exact: read before the stock, it bounds the take's counter leg, so a take
or restock posted in between refuses the take, which is planned again. A
reward whose counter has no balance row (restocked before counters) has it
opened by the redemption's setup (:func:`open_stock_sequence`) before the take
posts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..chart import Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, VarValue, monetary
from ..rules import Reward, RewardCatalogue
from ..types import TransactionPlan
from ..vocabulary.frozen import Frozen
from .counter import bounded_step, open_missing, read_count
from .reading import Reading
from .timeline import timelines

_TICK = timedelta(microseconds=1)


class RewardPick(Frozen):
    """The catalogue reward a redemption names, as its read found it.

    ``points``: its price in the catalogue; ``stock``: the units its stock can
    give at the redemption's instant (None for a reward that is not physical).
    """

    sku: str
    reward_type: str
    points: int
    physical: bool
    stock: int | None = None
    count: int | None = 0
    """Operations on its stock so far (restocks and takes), read before the stock: a take is posted only
    if no other one posted since (``catalogue:{sku}:sequence``, :mod:`.counter`). None: the counter has no
    balance row yet (opened before the take, :func:`open_stock_sequence`)."""


def reward_catalogue(reading: Reading, what: str) -> RewardCatalogue:
    """The rules' catalogue; InvalidCommand naming ``what`` when there are no rules or no catalogue."""

    return reading.require_rules(what).require_catalogue()


def physical_reward(reading: Reading, sku: str, what: str) -> Reward:
    """The catalogue reward ``sku``, which must be physical (InvalidCommand: unknown, or kept without stock)."""

    reward = reward_catalogue(reading, what).reward(sku)
    if not reward.physical:
        raise InvalidCommand(f"reward {sku} is not physical: it keeps no stock")
    return reward


def stock_at(reading: Reading, sku: str, at: datetime) -> int:
    """Units the reward's stock account can give at ``at``: its lowest balance from then on, never below 0.

    Two reads: the account now, and its transactions dated after ``at``
    (none for a redemption dated now). 0 for a reward never restocked.
    """

    chart = reading.chart
    address, asset = chart.stock(sku), chart.stock_asset
    state = reading.account_now(address)
    if state is None:
        return 0
    later = reading.ledger.transactions(account=address, start=at + _TICK)
    line = timelines({address: state.balance(asset)}, later, asset, since=at)[address]
    return max(0, line.lowest_from(at))


def pick(reading: Reading, sku: str, at: datetime) -> RewardPick | None:
    """The catalogue reward ``sku`` with its price (and stock at ``at``, when physical); None when the
    catalogue has no such SKU (or there is no catalogue)."""

    rules = reading.rules
    catalogue = rules.catalogue if rules is not None else None
    reward = catalogue.find(sku) if catalogue is not None else None
    if catalogue is None or reward is None:
        return None
    if not reward.physical:
        return RewardPick(sku=reward.sku, reward_type=reward.type, points=catalogue.price(reward), physical=False)
    # The counter first: a take posted after this read moves it, and the post of a plan made from the
    # stock read below then fails its bounded leg and is planned again.
    count = read_count(reading, reading.chart.stock_sequence(sku))
    return RewardPick(
        sku=reward.sku,
        reward_type=reward.type,
        points=catalogue.price(reward),
        physical=True,
        stock=stock_at(reading, sku, at),
        count=count,
    )


def take_vars(chart: Chart, chosen: RewardPick) -> dict[str, VarValue]:
    """The vars of one unit of ``chosen``'s stock taken (templates ``redeem_reward``, ``hold_reward``): the
    unit, the stock account, and the reward's counter leg bounded by the count the read took
    (``counter_*``, :func:`.counter.bounded_step`)."""

    return {
        "unit": monetary(chart.stock_asset, 1),
        "stock": chart.stock(chosen.sku),
        **bounded_step(chart, chart.stock_sequence(chosen.sku), chosen.count),
    }


def open_stock_sequence(chart: Chart, catalogue: Catalogue, chosen: RewardPick | None) -> list[TransactionPlan]:
    """The opening of ``chosen``'s counter when it is physical and its counter has no balance row, else nothing."""

    if chosen is None or not chosen.physical:
        return []
    return open_missing(chart, catalogue, chart.stock_sequence(chosen.sku), chosen.count)
