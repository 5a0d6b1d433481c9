"""Reading a pack on the in-memory ledger: the demo year's sections, progress, and writes landing while it is read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from support.cli_apps import demo_ledger
from support.fake_ledger import FakeLedger
from support.programme import earn, programme

from loyalty_accounts.chart import Chart
from loyalty_accounts.demo import run_demo
from loyalty_accounts.errors import OperationRefused
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports, render_pack
from loyalty_accounts.reports.pack import PackContext, ReportPack, Section, SectionEntry, read_pack
from loyalty_accounts.types import Posting

UTC = timezone.utc
START = datetime(2025, 9, 30, 23, 59, 59, 999999, tzinfo=UTC)
AS_OF = datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> tuple[FakeLedger, LoyaltyProgram]:
    ledger = FakeLedger()
    program = programme(ledger)
    run_demo(program)
    return ledger, program


@pytest.fixture(scope="module")
def pack(demo: tuple[FakeLedger, LoyaltyProgram]) -> ReportPack:
    ledger, program = demo
    return FinanceReports(ledger, program.chart, rules=program.rules).pack(AS_OF, START)


def table(pack: ReportPack, name: str) -> list[dict[str, object]]:
    found = next(t for t in pack.tables() if t.name == name)
    return [dict(zip(found.columns, row)) for row in found.rows]


def test_the_sections_in_order_with_their_charts(pack: ReportPack) -> None:
    assert [s.key for s in pack.sections] == ["liability", "roll_forward", "daily_flows", "revenue", "breakage", "cohort_triangle", "partners", "reconciliation"]
    assert [f.name for f in pack.figures()] == ["liability_by_state", "daily_flows", "breakage_by_cohort"]
    assert [t.name for t in pack.tables()] == [
        "liability_over_time", "roll_forward", "daily_flows", "revenue_schedule", "revenue_estimates", "breakage_cohorts", "cohort_triangle_redeemed",
        "cohort_triangle_expired", "cohort_triangle_ties", "partner_balances", "pool_positions", "reconciliation",
    ]


def test_the_header_and_head(pack: ReportPack, demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, _ = demo
    assert (pack.header.programme, pack.header.ledger, pack.header.start, pack.header.as_of) == ("acme-rewards", "fake", START, AS_OF)
    logs = list(ledger.logs())
    assert pack.head.log_id == logs[-1]["id"] and pack.head.logs == len(logs)
    assert pack.head.chain.status == "not_verified"  # the in-memory ledger does not hash its logs


def test_the_liability_is_read_at_the_start_each_month_end_and_the_as_of(pack: ReportPack) -> None:
    rows = table(pack, "liability_over_time")
    instants = [row["as_of"] for row in rows]
    assert instants[0] == START and instants[-1] == AS_OF and len(instants) == 15
    assert instants[1] == datetime(2025, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert all(row["ties"] for row in rows) and rows[0]["total_points"] == 0


def test_partner_balance_is_what_the_demo_exchanged(pack: ReportPack) -> None:
    # bob's 60 miles out at 0.0125 (the programme owes 0.75), dave's 40 in at 0.0080 (the partner owes 0.32)
    cityrail, skyway = table(pack, "partner_balances")
    assert cityrail["balance"] == 0  # the demo trades with skyway only
    assert skyway["balance"] == Decimal("-0.43") and skyway["position"] == "programme owes the partner"


def test_the_pools_are_their_accounts_balances_at_the_as_of() -> None:
    ledger = FakeLedger()  # its own: the pool operations below must not reach the module's demo
    program = programme(ledger)
    run_demo(program)
    # the demo uses no pool: every member of the chart's pool travel is at zero, and the totals too
    rows = table(FinanceReports(ledger, program.chart, rules=program.rules).pack(AS_OF, START), "pool_positions")
    assert [(r["pool"], r["partner"]) for r in rows] == [("travel", "cityrail"), ("travel", "skyway")]
    assert all(r[f] == 0 for r in rows for f in ("contributed", "funds", "awarded", "redeemed", "paid"))
    # after contributions and draws dated after the demo's story: the pack as of then shows them, one before does not
    later = datetime(2026, 11, 5, tzinfo=UTC)
    program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="pk-1", points=300, at=later))
    program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="pk-2", points=100, at=later))
    program.execute(PoolEarnCommand(customer="alice", pool="travel", earn_id="pk-e", points=10, at=later + timedelta(hours=1)))
    reports = FinanceReports(ledger, program.chart, rules=program.rules)
    after = reports.pack(later + timedelta(days=1), START)
    got = {r["partner"]: r for r in table(after, "pool_positions")}
    position = reports.pool("travel", later + timedelta(days=1))
    for member in position.members:  # the pool report's balances, member by member
        assert {f: got[member.partner][f] for f in ("contributed", "funds", "awarded", "redeemed", "paid")} == {
            "contributed": member.contributed, "funds": member.funds, "awarded": member.awarded, "redeemed": member.redeemed, "paid": member.paid
        }
    # by hand: 10 drawn by shares 3:1 → skyway 8, cityrail 2; 300 at the pool's price 0.009 → 2.70
    assert (got["skyway"]["contributed"], got["skyway"]["funds"], got["skyway"]["awarded"]) == (300, 292, 8)
    assert (got["cityrail"]["contributed"], got["cityrail"]["funds"], got["cityrail"]["awarded"]) == (100, 98, 2)
    found = next(t for t in after.tables() if t.name == "pool_positions")
    (total,) = [dict(zip(found.columns, row)) for row in found.footer]
    assert (total["partner"], total["contributed"], total["funds"], total["awarded"]) == ("total", 400, 390, 10)
    assert all(r["contributed"] == 0 for r in table(reports.pack(later - timedelta(microseconds=1), START), "pool_positions"))


def test_progress_counts_every_step_up_to_the_total(demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    seen: list[tuple[int, int]] = []
    read_pack(ledger, program.chart, AS_OF, START, rules=program.rules, progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    # the head, 15 liability reads, six more sections, the check that the log did not move
    assert {t for _, t in seen} == {24} and done == sorted(done) and seen[-1] == (24, 24)


def test_the_default_period_is_twelve_months(demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    built = read_pack(ledger, program.chart, AS_OF, sections=())
    assert built.header.start == datetime(2025, 11, 30, 23, 59, 59, 999999, tzinfo=UTC) and built.sections == ()


def writing(ledger: FakeLedger, times: int) -> tuple[SectionEntry, list[int]]:
    """A section that posts a transaction (a write landing during the reads) the first ``times`` times it runs."""

    calls: list[int] = []

    def section(ctx: PackContext) -> Section:
        calls.append(1)
        if len(calls) <= times:
            ledger._record((Posting(source="world", destination="world", amount=1, asset="PTS"),), None, {}, None)
        return Section(key="probe", title="Probe")

    return SectionEntry(section), calls


def test_a_write_during_the_reads_makes_them_again(chart: Chart) -> None:
    ledger = demo_ledger()
    entry, calls = writing(ledger, 1)
    built = read_pack(ledger, chart, AS_OF, START, sections=(entry,))
    assert len(calls) == 2 and built.head.log_id == list(ledger.logs())[-1]["id"]


def test_writes_that_keep_landing_are_refused(chart: Chart) -> None:
    ledger = demo_ledger()
    entry, calls = writing(ledger, 99)
    with pytest.raises(OperationRefused, match="written to while the pack was read"):
        read_pack(ledger, chart, AS_OF, START, sections=(entry,))
    assert len(calls) == 3


def test_the_same_ledger_and_period_give_the_same_files(pack: ReportPack, demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    again = FinanceReports(ledger, program.chart, rules=program.rules).pack(AS_OF, START)
    assert render_pack(again) == render_pack(pack)


def test_the_revenue_section_is_the_revenue_report_of_the_period(pack: ReportPack, demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    report = FinanceReports(ledger, program.chart).revenue(START, AS_OF)
    rows = table(pack, "revenue_schedule")
    assert [r["line"] for r in rows][0] == "opening" and len(rows) == 8
    assert sum(Decimal(str(r["amount"])) for r in rows) == report.closing > 0
    assert sum(int(str(r["points"])) for r in rows) == report.closing_points
    assert [r["breakage_rate"] for r in table(pack, "revenue_estimates")] == [Decimal("0.2"), Decimal("0.25")]


def test_orders_the_schedule_cannot_price_are_named_in_its_section() -> None:
    ledger = FakeLedger()
    program = programme(ledger)
    program.earn(earn("c1", "o-1", "10.00", at=datetime(2026, 1, 5, tzinfo=UTC)))
    made = FinanceReports(ledger, program.chart).pack(AS_OF, START)
    section = next(s for s in made.sections if s.key == "revenue")
    assert section.paragraphs[0].startswith("Not allocated: order o-1") and "before any revenue estimate" in section.paragraphs[0]
    assert [t.name for t in section.tables] == ["revenue_schedule", "revenue_estimates"]
