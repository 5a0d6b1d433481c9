"""The reports' rows as the CLI shows them (tables, CSV and the JSON ``lines``), on hand-made inputs (support.report_books)."""

from __future__ import annotations

from support.report_books import (
    breakage_without_closed_cohorts,
    chart,
    liability_with_negative_balances,
    worked_roll_forward,
)

from loyalty_accounts.chart import Chart
from loyalty_accounts.cli.views import (
    activity_rows,
    activity_summary_rows,
    breakage_json,
    breakage_rows,
    liability_rows,
    liability_total_row,
)

__all__ = ["chart"]  # fixture


def test_liability_rows_list_every_state_and_sum_to_the_total_apart(chart: Chart) -> None:
    report = liability_with_negative_balances(chart)
    rows = liability_rows(report)
    assert [r["state"] for r in rows] == ["spendable", "due", "pending", "held", "negative", "other"]
    total = liability_total_row(report)
    assert total["state"] == "total" and sum(r["points"] for r in rows) == total["points"] == report.total_points
    assert sum(r["value"] for r in rows) == total["value"]


def test_roll_forward_rows_run_from_opening_through_the_movements_and_the_summary_says_the_rest(chart: Chart) -> None:
    report = worked_roll_forward(chart)
    rows = activity_rows(report)
    assert [r["line"] for r in rows][:2] == ["opening", "issued"]
    # the unexplained movement (10 points from world) is a row too: the rows sum to the closing
    assert [r["explained"] for r in rows if r["line"] == "world"] == [False]
    assert sum(r["points"] for r in rows) == report.closing_points - report.residual == 260
    summary = activity_summary_rows(report)
    assert [r["line"] for r in summary] == ["expected_closing", "closing", "difference"]
    assert summary[-1]["points"] == 10


def test_breakage_rows_are_the_cohorts_and_the_note_is_in_the_document(chart: Chart) -> None:
    report = breakage_without_closed_cohorts(chart)
    rows = breakage_rows(report)
    assert [r["cohort"] for r in rows] == [c.cohort for c in report.cohorts]
    assert breakage_json(report)["note"] == report.note
