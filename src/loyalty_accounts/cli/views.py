"""How the finance reports are shown: their rows, columns and JSON documents, defined once for the CLI.

Rows carry the same lines in tables, CSV and JSON (``"lines"``), with stable
column names; values stay ``datetime``, ``date`` and exact ``Decimal`` until
the output layer renders them (ISO dates, decimal strings). Each report's
rows are of one kind, so that a column of its CSV sums to the report's total
(liability: the states sum to the total; activity: opening and movements,
unexplained ones included, sum to the closing less the residual, which is
zero unless the reads were inconsistent; breakage: the cohorts' estimates and points
awaiting expiry sum to the report's; statement: the movements sum to closing
less opening). Totals are the ``*_total_row``/``*_summary_rows`` shown under
a table's rule, and fields of the JSON document.
"""

from __future__ import annotations

from typing import Any

from ..reports import (
    BreakageReport,
    CustomerStatement,
    LiabilityStatement,
    Reconciliation,
    RollForward,
)
from ..reports.common import Valued

__all__ = [
    "ACTIVITY_COLUMNS",
    "BREAKAGE_COHORT_COLUMNS",
    "BREAKAGE_COLUMNS",
    "LIABILITY_COLUMNS",
    "RECONCILE_COLUMNS",
    "STATEMENT_COLUMNS",
    "activity_json",
    "activity_rows",
    "breakage_json",
    "breakage_rows",
    "liability_json",
    "liability_rows",
    "liability_total_row",
    "activity_summary_rows",
    "statement_expiring_rows",
    "STATEMENT_EXPIRING_COLUMNS",
    "reconcile_json",
    "reconcile_rows",
    "statement_balance_row",
    "statement_json",
    "statement_rows",
]

LIABILITY_COLUMNS = ("as_of", "state", "points", "value", "currency", "customers")
ACTIVITY_COLUMNS = ("from", "to", "line", "account", "points", "value", "currency", "explained")
BREAKAGE_COLUMNS = (
    "cohort",
    "status",
    "first_expiry",
    "last_expiry",
    "issued",
    "expired",
    "rate",
    "outstanding",
    "awaiting_expiry",
    "estimated",
    "value",
    "currency",
)
"""One row per earn cohort; ``estimated`` (open cohorts) and ``awaiting_expiry`` sum to the report's figures."""
BREAKAGE_COHORT_COLUMNS = tuple(c for c in BREAKAGE_COLUMNS if c != "currency")
"""The cohort table of the breakage report as people read it (the other figures are told in sentences)."""
RECONCILE_COLUMNS = ("as_of", "check", "status", "detail", "count", "offending", "info")
STATEMENT_COLUMNS = (
    "customer",
    "line",
    "timestamp",
    "transaction_id",
    "operation",
    "business_key",
    "points",
    "balance",
)
STATEMENT_EXPIRING_COLUMNS = ("customer", "expires_on", "state", "points")
"""With a ``kind`` column after ``state`` when the chart keeps kinds of point apart (see :func:`statement_expiring_rows`)."""


def _row(columns: tuple[str, ...], **fields: Any) -> dict[str, Any]:
    """A row holding every column in order, ``None`` where ``fields`` gives no value."""

    row: dict[str, Any] = dict.fromkeys(columns)
    row.update(fields)
    return row


def _valuation(report: Valued) -> dict[str, Any]:
    """How a report's points are valued, as its JSON states it after its instant or window."""

    return {"points_asset": report.points_asset, "currency": report.currency, "point_value": report.point_value}


# -- liability --------------------------------------------------------------


def liability_rows(statement: LiabilityStatement) -> list[dict[str, Any]]:
    """One row per state; their ``points`` and ``value`` sum to the statement's totals."""

    return [
        {
            "as_of": statement.as_of,
            "state": line.state,
            "points": line.points,
            "value": line.value,
            "currency": statement.currency,
            "customers": line.customers,
        }
        for line in statement.lines
    ]


def liability_total_row(statement: LiabilityStatement) -> dict[str, Any]:
    """The total under the states (customers: those with a non-zero position, each counted once)."""

    return {
        "as_of": statement.as_of,
        "state": "total",
        "points": statement.total_points,
        "value": statement.total_value,
        "currency": statement.currency,
        "customers": statement.customers_with_position,
    }


def liability_json(statement: LiabilityStatement) -> dict[str, Any]:
    return {
        "report": "liability",
        "as_of": statement.as_of,
        **_valuation(statement),
        "lines": liability_rows(statement),
        "total_points": statement.total_points,
        "total_value": statement.total_value,
        "ledger_total_points": statement.ledger_total_points,
        "listed_total_points": statement.listed_total_points,
        "ties": statement.ties,
        "difference": statement.difference,
        "customers_with_position": statement.customers_with_position,
        "accounts_below_zero": [a.model_dump() for a in statement.accounts_below_zero],
    }


# -- activity (roll-forward) ------------------------------------------------


def _activity_row(report: RollForward, line: str, account: str, points: int, explained: bool | None = None) -> dict[str, Any]:
    return {
        "from": report.start,
        "to": report.end,
        "line": line,
        "account": account,
        "points": points,
        "value": report.value(points),
        "currency": report.currency,
        "explained": explained,
    }


def activity_rows(report: RollForward) -> list[dict[str, Any]]:
    """The opening balance and each movement, signed (``explained`` false for one no operation accounts for):
    their ``points`` sum to the closing less the residual (zero unless the reads were inconsistent)."""

    out = [_activity_row(report, "opening", "customers:...", report.opening_points)]
    out.extend(_activity_row(report, line.line, line.account, line.points, line.explained) for line in report.lines)
    return out


def activity_summary_rows(report: RollForward) -> list[dict[str, Any]]:
    """The roll-forward's result: expected closing, closing read from the ledger, their difference."""

    return [
        _activity_row(report, "expected_closing", "customers:...", report.expected_closing_points),
        _activity_row(report, "closing", "customers:...", report.closing_points),
        _activity_row(report, "difference", "customers:...", report.difference),
    ]


def activity_json(report: RollForward) -> dict[str, Any]:
    return {
        "report": "activity",
        "from": report.start,
        "to": report.end,
        **_valuation(report),
        "opening_points": report.opening_points,
        "opening_value": report.value(report.opening_points),
        "lines": activity_rows(report),
        "expected_closing_points": report.expected_closing_points,
        "closing_points": report.closing_points,
        "closing_value": report.value(report.closing_points),
        "ties": report.ties,
        "difference": report.difference,
        "difference_value": report.value(report.difference),
        "unexplained_points": report.unexplained_points,
        "residual": report.residual,
    }


# -- breakage ---------------------------------------------------------------


def _realised_window(report: BreakageReport) -> str:
    start = report.start.isoformat() if report.start else "beginning"
    return f"expired in ({start}, {report.end.isoformat()}]"


def breakage_rows(report: BreakageReport) -> list[dict[str, Any]]:
    """One row per earn cohort (closed: issued, expired, rate; open: outstanding and estimate)."""

    return [
        _row(
            BREAKAGE_COLUMNS,
            cohort=c.cohort,
            status=c.status,
            first_expiry=c.first_expiry,
            last_expiry=c.last_expiry,
            issued=c.issued,
            expired=c.expired,
            rate=c.rate,
            outstanding=c.outstanding if c.status == "open" else None,
            awaiting_expiry=c.awaiting_expiry,
            estimated=c.estimated,
            value=c.value,
            currency=report.currency,
        )
        for c in report.cohorts
    ]


def breakage_json(report: BreakageReport) -> dict[str, Any]:
    return {
        "report": "breakage",
        "from": report.start,
        "to": report.end,
        **_valuation(report),
        "realised_points": report.realised_points,
        "realised_value": report.realised_value,
        "method": report.method,
        "rate": report.rate,
        "rate_cohorts": list(report.rate_cohorts),
        "awaiting_expiry_points": report.awaiting_expiry_points,
        "awaiting_expiry_value": report.awaiting_expiry_value,
        "estimated_points": report.estimated_points,
        "estimated_value": report.estimated_value,
        "realised_window": _realised_window(report),
        "note": report.note,
        "cohorts": breakage_rows(report),
    }


# -- reconciliation ---------------------------------------------------------


def reconcile_rows(result: Reconciliation) -> list[dict[str, Any]]:
    return [
        {
            "as_of": result.as_of,
            "check": c.name,
            "status": c.status,
            "detail": c.detail,
            "count": c.violations,
            "offending": "; ".join(c.offending),
            "info": "; ".join(c.info),
        }
        for c in result.checks
    ]


def reconcile_json(result: Reconciliation) -> dict[str, Any]:
    return {
        "report": "reconcile",
        "as_of": result.as_of,
        "ok": result.ok,
        "checks": [
            {
                "check": c.name,
                "status": c.status,
                "detail": c.detail,
                "count": c.violations,
                "offending": list(c.offending),
                "info": list(c.info),
            }
            for c in result.checks
        ],
    }


# -- customer statement -----------------------------------------------------


def statement_rows(statement: CustomerStatement) -> list[dict[str, Any]]:
    """Each movement with the balance after it: their ``points`` sum to closing less opening."""

    return [
        _row(
            STATEMENT_COLUMNS,
            customer=statement.customer,
            line="movement",
            timestamp=line.timestamp,
            transaction_id=line.transaction_id,
            operation=line.operation,
            business_key=line.business_key,
            points=line.points,
            balance=line.balance,
        )
        for line in statement.lines
    ]


def statement_balance_row(statement: CustomerStatement, line: str) -> dict[str, Any]:
    """The ``opening`` or ``closing`` balance as a row of the statement's table."""

    at, balance = (statement.start, statement.opening_points) if line == "opening" else (statement.end, statement.closing_points)
    return _row(STATEMENT_COLUMNS, customer=statement.customer, line=line, timestamp=at, balance=balance)


def statement_expiring_rows(statement: CustomerStatement) -> list[dict[str, Any]]:
    """Points expiring within the horizon after the statement's end, by date, state and (when any is not base)
    kind of point."""

    kinds = any(item.kind != "base" for item in statement.expiring)
    return [
        {
            "customer": statement.customer,
            "expires_on": item.expires_on,
            "state": item.state,
            **({"kind": item.kind} if kinds else {}),
            "points": item.points,
        }
        for item in statement.expiring
    ]


def statement_json(statement: CustomerStatement) -> dict[str, Any]:
    return {
        "report": "statement",
        "customer": statement.customer,
        "from": statement.start,
        "to": statement.end,
        "points_asset": statement.points_asset,
        "currency": statement.currency,
        "opening_points": statement.opening_points,
        "opening_value": statement.value(statement.opening_points),
        "closing_points": statement.closing_points,
        "closing_value": statement.value(statement.closing_points),
        "ties": statement.ties,
        "difference": statement.difference,
        "horizon_days": statement.horizon_days,
        "lines": statement_rows(statement),
        "expiring": statement_expiring_rows(statement),
    }
