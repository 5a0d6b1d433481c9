"""How the revenue schedule and the estimates are shown: rows (table and CSV) and JSON.

Each row is one line of the contract liability's roll-forward with its signed effect on the
liability, in points and in money: the rows above ``closing`` sum to it, in both columns.
"""

from __future__ import annotations

from typing import Any

from ..operations.revenue_estimate import RevenueEstimate
from ..reports import RevenueSchedule
from ..vocabulary.instants import iso_instant

__all__ = ["REVENUE_COLUMNS", "estimate_json", "revenue_closing_row", "revenue_json", "revenue_rows"]

REVENUE_COLUMNS = ("from", "to", "line", "points", "amount", "currency")


def _row(report: RevenueSchedule, line: str, points: int, amount: Any) -> dict[str, Any]:
    return {"from": report.start, "to": report.end, "line": line, "points": points, "amount": amount, "currency": report.currency}


def revenue_rows(report: RevenueSchedule) -> list[dict[str, Any]]:
    """Opening and each movement, signed as they move the liability; they sum to :func:`revenue_closing_row` when the schedule ties."""

    return [_row(report, line, points, amount) for line, points, amount in report.lines()]


def revenue_closing_row(report: RevenueSchedule) -> dict[str, Any]:
    return _row(report, "closing", report.closing_points, report.closing)


def estimate_json(estimate: RevenueEstimate) -> dict[str, Any]:
    e = estimate.estimates
    return {
        "effective": iso_instant(estimate.effective),
        "breakage_rate": e.breakage_rate,
        "constrained_rate": e.constrained_rate,
        "method": e.method,
        "fx": {currency: rate for currency, rate in e.fx},
        "approved_by": estimate.approved_by,
        "reason": estimate.reason,
        "transaction": estimate.transaction_id,
        "recorded_at": iso_instant(estimate.recorded_at) if estimate.recorded_at else None,
    }


def revenue_json(report: RevenueSchedule) -> dict[str, Any]:
    return {
        "report": "revenue",
        "programme": report.programme,
        "from": report.start,
        "to": report.end,
        "currency": report.currency,
        "lines": revenue_rows(report),
        "closing_points": report.closing_points,
        "closing": report.closing,
        "sales_price": report.sales_price,
        "allocated_to_goods": report.allocated_to_goods,
        "allocated_to_points": report.allocated,
        "revenue": report.revenue,
        "catch_ups": [{"at": c.at, "transaction": c.transaction_id, "amount": c.amount} for c in report.catch_ups],
        "estimates": [estimate_json(e) for e in report.estimates],
        "ties": report.ties,
        "points_difference": report.points_tie,
        "unpriced": [
            {"order_id": u.sale.order_id, "transaction": u.sale.transaction_id, "at": u.sale.at, "amount": u.sale.amount,
             "currency": u.sale.currency, "points": u.sale.points, "reason": u.reason}
            for u in report.unpriced
        ],
    }
