"""Earning: points for orders (earn, quote, explain) and for engagement events (engage).

Pricing: an earn is priced by :func:`loyalty_accounts.rules.quote` at the
order's own instant, with the customer's tier and campaign usage read from the
ledger (:func:`loyalty_accounts.operations.earn.price`); the chart prices
nothing, so without a rules file earning, quoting and awarding are refused.
Tiers are read from the qualifying points (QPTS) every earn posts to the
customer's qualifying account of the order's day and every refund takes back
(see :mod:`.tiers`). Engagement awards are limited by counters the ledger
checks when it posts (see :mod:`loyalty_accounts.operations.engage`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ..chart import BASE, BONUS
from ..errors import InsufficientPoints, UnknownEntity
from ..operations import EarnCommand, EarnRecord, EngageCommand, earn
from ..rules import EarnBreakdown, EngagementLimitReached
from ..types import PostedTransaction
from ..vocabulary import ids
from ..vocabulary.frozen import Frozen
from .executor import Executor
from .results import OperationResult, TierChange


class EarnExplanation(Frozen):
    """An earn read back from the ledger: its breakdown and the points its postings really moved."""

    order_id: str
    customer: str
    transaction: int
    posted_points: int
    breakdown: EarnBreakdown
    tier_after: str | None = None
    tier_change: TierChange | None = None
    expires: tuple[tuple[str, int, date | None], ...] = ()
    """(kind of point, points, expiry date or None: never) of each part of the order's points, as the earn recorded them."""

    @property
    def adds_up(self) -> bool:
        """The explanation's figures sum exactly to the points posted."""

        return sum((line.points for line in self.breakdown.lines()), Decimal(0)) == self.posted_points


def expiry_parts(record: EarnRecord) -> tuple[tuple[str, int, date | None], ...]:
    """(kind, points, expiry) of an earn's base and bonus parts (bonus only when it recorded one)."""

    parts = [(BASE, record.points - record.bonus_points, record.expires_on)]
    if record.bonus_points:
        parts.append((BONUS, record.bonus_points, record.bonus_expires_on))
    return tuple(parts)


def tier_change_of(tx: PostedTransaction) -> TierChange | None:
    """The tier change an earn recorded in its metadata, if any."""

    meta = tx.metadata
    direction = meta.get("tier_change")
    if direction not in ("upgrade", "downgrade", "changed") or "r_tier" not in meta or "tier_after" not in meta:
        return None
    return TierChange(before=meta["r_tier"], after=meta["tier_after"], direction=direction)  # type: ignore[arg-type]


class EarningService:
    """Earn, quote, engage and explain over the executor's ledger."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._reading = executor.reading

    def earn(self, command: EarnCommand) -> OperationResult:
        """Price the order with the rules at its own instant and post its points and qualifying points.

        An order priced at 0 points posts nothing; the answer's note says so,
        with the rules' reason when they give one. A posted earn says how it
        moved the customer's tier (``tier_change``).
        """

        self._reading.require_rules("earn")
        result = self._executor.run(command)
        if not result.transactions:
            return result
        return result.model_copy(update={"tier_change": tier_change_of(result.transactions[0])})

    def quote(self, command: EarnCommand) -> EarnBreakdown:
        """What the order would earn if posted now: priced at its own instant with the tier and campaign usage the ledger holds; posts nothing."""

        rules = self._reading.require_rules("quote")
        return earn.price(command, self._reading, rules)[0]

    def engage(self, customer: str, event: str, key: str, at: datetime) -> OperationResult:
        """Award an engagement event's points, once per ``key``, within the rules' limits.

        The limits are pre-checked from the award counters (a clear refusal
        without a post) and enforced by the ledger when posting: if a
        concurrent award took the last slot in between, the ledger refuses
        ours (``INSUFFICIENT_FUND`` on a counter), the counters are read
        again and the refusal becomes :class:`EngagementLimitReached` —
        unless the concurrent award was this very one (the same key sent
        twice at once): then it is answered with that award (``replayed``).
        """

        ids.customer_id(customer)
        ids.code(event, what="engagement event")
        ids.business_key(key, what="award key")
        self._reading.require_rules("engage")
        command = EngageCommand(customer=customer, event=event, key=key, at=at)
        try:
            return self._executor.run(command)
        except InsufficientPoints:
            raise EngagementLimitReached(
                f"{event} was awarded to {customer} concurrently up to its limit", code="ENGAGEMENT_LIMIT"
            ) from None

    def explain(self, order_id: str) -> EarnExplanation:
        """The breakdown an order's earn recorded, with the points its postings moved."""

        ids.business_key(order_id, what="order id")
        tx = earn.find_earn(self._reading, order_id)
        if "r_ver" not in tx.metadata:
            raise UnknownEntity(f"order {order_id} was earned before the rules file priced earns: it has no breakdown")
        breakdown = EarnBreakdown.from_metadata(tx.metadata)
        chart = self._reading.chart
        issued = chart.issued_shard(tx.metadata["customer"])
        posted = sum(p.amount for p in tx.postings if p.asset == chart.points_asset and p.source == issued)
        return EarnExplanation(
            order_id=order_id,
            customer=tx.metadata["customer"],
            transaction=tx.id,
            posted_points=posted,
            breakdown=breakdown,
            tier_after=tx.metadata.get("tier_after"),
            tier_change=tier_change_of(tx),
            expires=expiry_parts(EarnRecord.from_metadata(tx.metadata)),
        )
