"""The reads behind the revenue schedule (:mod:`.revenue`): estimates, orders, refunds and the points pool.

All of them are dated reads: the transactions dated at or before the window's end (estimates, earns,
refunds; reverted ones left out), the pool's balances effective at the window's start, its end and
each instant an estimate changes inside it, and the points roll-forward of the window. A report of
a past period therefore reads the ledger as it was then, including what was posted later with an
earlier date.
"""

from __future__ import annotations

from datetime import datetime

from ..chart import Chart
from ..errors import InvalidCommand
from ..operations.base import metadata_filter
from ..operations.earn import EarnCommand, EarnRecord
from ..operations.refund import RefundCommand
from ..operations.revenue_estimate import RevenueEstimate, RevenueEstimateCommand
from ..ports import LedgerPort
from ..types import PostedTransaction
from ..vocabulary.amounts import asset_precision
from .common import ONE_MICROSECOND, Clock, points_of, window
from .revenue import PoolState, RevenueSchedule, Sale, SaleRefund, revenue_schedule
from .roll_forward import RollForward, read_roll_forward

__all__ = ["read_estimates", "read_pool", "read_revenue"]


def _dated(ledger: LedgerPort, operation: str, end: datetime) -> list[PostedTransaction]:
    """The operation's transactions dated at or before ``end``, reverts left out."""

    return [tx for tx in ledger.transactions(metadata=metadata_filter(operation), end=end + ONE_MICROSECOND) if not tx.reverted]


def read_estimates(ledger: LedgerPort, end: datetime | None = None) -> list[RevenueEstimate]:
    """Every revenue estimate recorded (effective at or before ``end`` when given), in effective order."""

    txs = ledger.transactions(metadata=metadata_filter(RevenueEstimateCommand.operation))
    found = [RevenueEstimate.of(tx) for tx in txs if not tx.reverted]
    return sorted((e for e in found if end is None or e.effective <= end), key=lambda e: (e.effective, e.transaction_id))


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


def _other_points(activity: RollForward, sale_points: int, refund_points: int) -> int:
    """The window's points issued or removed otherwise than by sales and refunds (awards, exchange in,
    adjustments, write-offs), from the roll-forward's explained lines; movements it cannot explain
    stay out, so the schedule's points do not tie when there are any."""

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
    estimates = read_estimates(ledger, last)
    sales = [_sale(tx) for tx in _dated(ledger, EarnCommand.operation, last)]
    refunds = [_refund(tx) for tx in _dated(ledger, RefundCommand.operation, last)]
    instants = {last, *(e.effective for e in estimates if first is None or e.effective > first)}
    if first is not None:
        instants.add(first)
    pools = {moment: read_pool(ledger, chart, moment) for moment in sorted(instants)}
    activity = read_roll_forward(ledger, chart, first, last, clock=clock)
    in_window = [s.points for s in sales if (first is None or s.at > first)]
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
        pools=pools,
        other_points=_other_points(activity, sum(in_window), sum(refunded)),
    )
