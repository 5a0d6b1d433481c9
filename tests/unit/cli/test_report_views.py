"""The reports' rows as the CLI shows them (tables, CSV and the JSON ``lines``), on hand-made inputs (support.report_books)."""

from __future__ import annotations

from support.report_books import (
    breakage_without_closed_cohorts,
    chart,
    liability_with_negative_balances,
    worked_roll_forward,
)

from loyalty_accounts.chart import Chart
from loyalty_accounts.cli.views import activity_rows, breakage_rows, liability_rows

__all__ = ["chart"]  # fixture


def test_liability_rows_list_every_state_then_the_total(chart: Chart) -> None:
    report = liability_with_negative_balances(chart)
    assert [r["state"] for r in liability_rows(report)] == ["spendable", "pending", "held", "negative", "other", "total"]


def test_roll_forward_rows_run_from_opening_to_the_difference(chart: Chart) -> None:
    report = worked_roll_forward(chart)
    rows = activity_rows(report)
    assert [r["line"] for r in rows][:2] == ["opening", "issued"] and rows[-1]["line"] == "difference"
    assert rows[-1]["points"] == 10


def test_breakage_estimate_row_carries_the_note_when_there_is_no_rate(chart: Chart) -> None:
    report = breakage_without_closed_cohorts(chart)
    assert breakage_rows(report)[-1]["note"] == report.note
