"""Roll-forward: the pure function on hand-made volumes (the worked example among them), and the service."""

from __future__ import annotations

from decimal import Decimal

from support.finance_books import at
from support.report_books import AS_OF, FakeBooks, reports, vrow, worked_roll_forward

from loyalty_accounts.chart import Chart
from loyalty_accounts.reports.roll_forward import roll_forward
from loyalty_accounts.types import PostedTransaction


def test_roll_forward_worked_example(chart: Chart) -> None:
    report = worked_roll_forward(chart)
    lines = {line.line: line.points for line in report.lines}
    assert lines == {
        "issued": 350,
        "reversed": -70,
        "redeemed": -30,
        "expired": -120,
        "converted": 0,
        "adjusted": 0,
        "exchanged": 0,
        "written_off": 0,
        "world": 10,
    }
    assert report.expected_closing_points == 250
    assert not report.ties and report.difference == 10 and report.unexplained_points == 10 and report.residual == 0
    world = report.lines[-1]
    assert (world.account, world.explained, world.value) == ("world", False, Decimal("0.10"))


def test_roll_forward_ties_and_signs_of_the_two_way_lines(chart: Chart) -> None:
    accounts = [
        vrow("program:points:issued:0", 0, 100),
        vrow("program:points:adjustments", 30, 50),  # 50 credited, 30 debited: +20
        vrow("partners:skyway:exchanged", 60, 0),  # given up to the partner: -60
        vrow("program:points:written_off", 0, 15),  # refund shortfall absorbed: +15
        vrow("program:points:mystery", 5, 0),  # not a chart account: unexplained
    ]
    report = roll_forward(start=None, end=AS_OF, chart=chart, opening=0, closing=70, accounts=accounts, roots=[])
    lines = {line.line: line for line in report.lines}
    assert (lines["adjusted"].points, lines["exchanged"].points, lines["written_off"].points) == (20, -60, 15)
    assert lines["exchanged"].account == "partners:*:exchanged"
    assert lines["unexplained"].account == "program:points:mystery" and lines["unexplained"].points == -5
    assert report.expected_closing_points == 75 and report.difference == -5 and report.residual == 0


def test_roll_forward_that_ties(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, _ = clean
    report = reports(books).activity(at("2026-01-01T00:00:00"), AS_OF)
    lines = {line.line: line.points for line in report.lines}
    assert lines == {
        "issued": 230,  # o-6 30 + o-3 200
        "reversed": -30,  # rf-1
        "redeemed": -30,  # r-2
        "expired": -120,
        "converted": 0,
        "adjusted": 0,
        "exchanged": 0,
        "written_off": 0,
    }
    assert (report.opening_points, report.closing_points) == (120, 170)  # c1 200, c4 -30
    assert report.ties and report.difference == 0 and report.residual == 0


def test_roll_forward_does_not_tie_after_a_manual_posting(full: FakeBooks) -> None:
    report = reports(full).activity(at("2026-01-01T00:00:00"), AS_OF)
    assert report.opening_points == 120 and report.closing_points == 260
    assert report.expected_closing_points == 250  # 120 + 350 - 70 - 30 - 120
    assert not report.ties and report.difference == 10 and report.residual == 0
    world = [line for line in report.lines if not line.explained]
    assert [(line.line, line.account, line.points) for line in world] == [("world", "world", 10)]


def test_roll_forward_of_a_window_before_the_manual_posting_ties(full: FakeBooks) -> None:
    report = reports(full).activity(at("2025-01-01T00:00:00"), at("2026-01-01T00:00:00"))
    assert (report.opening_points, report.closing_points) == (0, 120)
    assert report.ties
