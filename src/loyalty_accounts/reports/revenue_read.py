"""The reads behind the revenue schedule (:mod:`.revenue`): estimates, orders, refunds and the points pool.

All of them are dated reads: the transactions dated at or before the window's end (estimates, earns,
refunds; reverted ones left out), the pool's balances effective at the window's start, its end and
each instant an estimate changes inside it, and the points roll-forward of the window. A report of
a past period therefore reads the ledger as it was then, including what was posted later with an
earlier date.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable
from decimal import Decimal

from ..chart import Chart
from ..errors import InvalidCommand
from ..operations.base import metadata_filter
from ..operations.earn import EarnCommand, EarnRecord
from ..operations.exchange_in import ExchangeInCommand
from ..operations.refund import RefundCommand
from ..operations.revenue_estimate import RevenueEstimate, RevenueEstimateCommand
from ..ports import LedgerPort
from ..types import PostedTransaction
from ..vocabulary.amounts import asset_precision
from .common import ONE_MICROSECOND, Clock, customer_root, kind_of, points_of, window
from .revenue import PoolState, RevenueSchedule, Sale, SaleRefund, revenue_schedule
from .revenue_pool import Movement
from .reverts import REVERT_METADATA_KEY
from .roll_forward import RollForward, read_roll_forward

__all__ = ["movement_of", "read_estimates", "read_movements", "read_pool", "read_revenue"]


def estimates_of(transactions: Iterable[PostedTransaction]) -> list[RevenueEstimate]:
    """The revenue estimates the transactions record (reverted ones left out), in effective order."""

    found = (
        RevenueEstimate.of(tx)
        for tx in transactions
        if tx.metadata.get("operation") == RevenueEstimateCommand.operation and not tx.reverted
    )
    return sorted(found, key=lambda e: (e.effective, e.transaction_id))


def read_estimates(ledger: LedgerPort) -> list[RevenueEstimate]:
    """Every revenue estimate recorded on the ledger, in effective order."""

    return estimates_of(ledger.transactions(metadata=metadata_filter(RevenueEstimateCommand.operation)))


def _sale(tx: PostedTransaction) -> Sale:
    record = EarnRecord.from_metadata(tx.metadata)
    return Sale(
        transaction_id=tx.id,
        at=tx.timestamp,
        order_id=record.order_id,
        currency=record.amount.currency,
        amount=record.amount.amount,
        points=record.points,
    )


def _refund(tx: PostedTransaction) -> SaleRefund:
    m = tx.metadata
    try:
        return SaleRefund(
            transaction_id=tx.id,
            at=tx.timestamp,
            order_id=m["order_id"],
            refunded_total=m["refunded_total"],
            points=int(m["points"]),
        )
    except (KeyError, ValueError) as exc:
        raise InvalidCommand(f"refund #{tx.id} has malformed metadata: {exc}") from None


def read_pool(ledger: LedgerPort, chart: Chart, pit: datetime) -> PoolState:
    """The points pool effective at ``pit``: customers' points, redeemed (incl. converted and exchanged out), expired."""

    def total(address_filter: str) -> int:
        return points_of(chart, ledger.aggregate_balances(address_filter, pit=pit))

    redeemed = sum(total(f) for f in (chart.redeemed(), chart.converted(), chart.kind_filter("partner_exchanged")))
    return PoolState(outstanding=total(chart.customer_filter()), redeemed=redeemed, expired=total(chart.expired()))


REDEEMING_KINDS = frozenset({"points_redeemed", "points_converted", "partner_exchanged"})
"""Where points go when a customer is given what they were for: a reward, store credit, a partner's points."""


def movement_of(chart: Chart, tx: PostedTransaction) -> Movement | None:
    """The transaction's net points flows between the customers and the programme; None when it has none.

    Flows between two customer accounts (a release, a hold, a transfer) and between two programme
    accounts leave the pool as it is. An ``exchange_in`` carries what the partner paid
    (its ``settlement`` metadata, in the programme's currency).
    """

    root = customer_root(chart)
    flows = {"issued": 0, "reversed": 0, "redeemed": 0, "expired": 0, "added": 0, "removed": 0}
    for posting in tx.postings:
        if posting.asset != chart.points_asset:
            continue
        source_in = posting.source.split(":", 1)[0] == root
        destination_in = posting.destination.split(":", 1)[0] == root
        if source_in == destination_in:
            continue
        other = kind_of(chart, posting.source if destination_in else posting.destination)
        if destination_in:
            flows["issued" if other == "points_issued" else "added"] += posting.amount
        elif other == "points_issued":
            flows["reversed"] += posting.amount
        elif other in REDEEMING_KINDS:
            flows["redeemed"] += posting.amount
        elif other == "points_expired":
            flows["expired"] += posting.amount
        else:
            flows["removed"] += posting.amount
    if not any(flows.values()):
        return None
    operation = tx.metadata.get("operation")
    paid = Decimal(tx.metadata.get("settlement", "0")) if operation == ExchangeInCommand.operation else Decimal(0)
    return Movement(transaction_id=tx.id, at=tx.timestamp, operation=operation, paid=paid, **flows)


def movements_of(chart: Chart, transactions: Iterable[PostedTransaction]) -> list[Movement]:
    """The transactions that move points in or out of the customers' hands, as :class:`~.revenue_pool.Movement`;
    reverted transactions and their reverts (which cancel out) left out."""

    out = []
    for tx in transactions:
        if tx.reverted or REVERT_METADATA_KEY in tx.metadata:
            continue
        movement = movement_of(chart, tx)
        if movement is not None:
            out.append(movement)
    return out


def read_movements(ledger: LedgerPort, chart: Chart, end: datetime) -> list[Movement]:
    """:func:`movements_of` every transaction dated at or before ``end``."""

    return movements_of(chart, ledger.transactions(end=end + ONE_MICROSECOND))


def _other_points(activity: RollForward, sale_points: int, refund_points: int) -> int:
    """The window's points issued or removed otherwise than by sales, partners' exchanges in and refunds
    (awards, adjustments, write-offs), from the roll-forward's explained lines; movements it cannot
    explain stay out, so the schedule's points do not tie when there are any."""

    lines = {line.line: line.points for line in activity.lines if line.explained}
    other = lines["issued"] + lines["reversed"] + lines["adjusted"] + lines["written_off"]
    return other - sale_points + refund_points


def read_revenue(
    ledger: LedgerPort, chart: Chart, start: datetime | None, end: datetime | None, *, clock: Clock
) -> RevenueSchedule:
    """The revenue schedule over ``(start, end]`` (``start`` None: from the beginning; ``end`` None: now).

    Raises InvalidCommand when the window is empty or a record is malformed; orders placed with no
    estimate in force or no exchange rate for their currency are listed in the schedule's ``unpriced``.
    """

    first, last = window(start, end, clock)
    history = list(ledger.transactions(end=last + ONE_MICROSECOND))  # one listing serves every record below

    def live(operation: str) -> list[PostedTransaction]:
        return [tx for tx in history if tx.metadata.get("operation") == operation and not tx.reverted]

    estimates = estimates_of(history)
    sales = [_sale(tx) for tx in live(EarnCommand.operation)]
    refunds = [_refund(tx) for tx in live(RefundCommand.operation)]
    movements = movements_of(chart, history)
    instants = {last} | ({first} if first is not None else set())
    pools = {moment: read_pool(ledger, chart, moment) for moment in sorted(instants)}
    activity = read_roll_forward(ledger, chart, first, last, clock=clock)
    in_window = [s.points for s in sales if (first is None or s.at > first)]
    in_window += [m.issued for m in movements if m.paid and (first is None or m.at > first)]
    refunded = [r.points for r in refunds if (first is None or r.at > first)]
    return revenue_schedule(
        programme=chart.spec.programme.name,
        currency=chart.money_currency,
        places=asset_precision(chart.money_asset),
        point_value=chart.point_value,
        start=first,
        end=last,
        estimates=estimates,
        sales=sales,
        refunds=refunds,
        movements=movements,
        pools=pools,
        other_points=_other_points(activity, sum(in_window), sum(refunded)),
    )
