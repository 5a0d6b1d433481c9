"""Finance reports: pure functions on hand-made numbers, and the service on the in-memory ledger.

The service tests post a scripted history built from the operations' own
plans into ``FakeLedger`` (which runs every script in the real Numscript
interpreter), then compare each report with figures worked out by hand from
that history. Chart: the repository's (USD rate 1, expiry 365 days, pending
14 days, claw_back, UTC, 1 PTS = 0.01 USD, hold TTL 30 minutes).

The scripted history (UTC)::

    2025-01-10 12:00  earn c1 o-1 100.00 USD  → pending 20250124:20260110  100
    2025-01-20 09:00  earn c2 o-2  50.00 USD  → pending 20250203:20260120   50
    2025-01-25 02:00  release c1               → bucket 20260110           100
    2025-02-01 10:00  redeem c1 r-1 30                                     (70 left)
    2025-02-04 02:00  release c2               → bucket 20260120            50
    2026-01-21 03:00  expire c1 (70), expire c2 (50)           expired 120
    2026-02-01 10:00  earn c4 o-6  30.00 USD  → pending 20260215:20270201   30
    2026-02-16 02:00  release c4; 2026-02-20 redeem c4 r-2 30              (0 left)
    2026-03-01 10:00  earn c1 o-3 200.00 USD  → pending 20260315:20270301  200
    2026-03-02 10:00  refund c4 o-6 rf-1 30.00 → clawback -30 (claw_back)
    2026-03-16 02:00  release c1               → bucket 20270301           200
    2026-03-20 10:00  hold c1 h-1 60 (lapses 10:30)                        (140 left)
    ---- "clean" history ends here, with h-1 voided at 10:05 ----
    2026-04-01 10:00  earn c3 o-4  80.00 USD  → pending 20260415:20270401   80, never released
    2026-04-05 10:00  earn c2 o-5  40.00 USD, refunded in full on 04-06 (rf-2)
    2026-04-10 10:00  manual posting world → customers:c5:points:noexpiry   10
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import random
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import typer
from support.fake_ledger import FakeLedger
from support.finance_books import MOVE, Books, at, history_to_first_hold, priced
from support.ledger_logs import HASH1, LOG1_DOCUMENT, logs_as_served
from typer.testing import CliRunner

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.cli.report import app as report_app
from loyalty_accounts.cli.report import reconcile_command, statement_command
from loyalty_accounts.errors import InvalidCommand, LedgerUnavailable
from loyalty_accounts.ledger.log_chain import log_hash
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import (
    OPERATIONS,
    AdjustCommand,
    EngageCommand,
    BucketBalance,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    EarnRecord,
    ExchangeInCommand,
    ExchangeOutCommand,
    ExpireCommand,
    HoldCommand,
    OpenCounterCommand,
    PendingBalance,
    RedeemCommand,
    RefundCommand,
    ReleaseCommand,
    TransferCommand,
    adjust,
    capture,
    convert,
    earn,
    engage,
    exchange_in,
    exchange_out,
    expire,
    hold,
    open_counter,
    redeem,
    refund,
    release,
    transfer,
)
from loyalty_accounts.vocabulary.amounts import Money
from loyalty_accounts.reports import (
    BASE_METADATA,
    OPERATION_METADATA,
    REVERT_METADATA_KEY,
    FinanceReports,
    breakage_report,
    check_log_chain,
    check_negative_balances,
    check_transaction_metadata,
    check_trial_balance,
    closed_cohorts,
    cohort_of,
    kind_filter,
    liability_statement,
    money_value,
    revert_targets,
    roll_forward,
)
from loyalty_accounts.rules import EngagementRule
from loyalty_accounts.types import AccountState, Posting, PostedTransaction, TransactionPlan, Volume, VolumeRow

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc


AS_OF = at("2026-05-01T00:00:00")


@pytest.fixture(scope="module")
def chart() -> Chart:
    return load_chart(ROOT / "chart_of_accounts.yaml")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(ROOT / "numscript")


class FakeBooks(Books):
    """The shared books on the in-memory ledger, whose clock (it stamps reverts) the test sets."""

    def __init__(self, chart: Chart, catalogue: Catalogue) -> None:
        self.now = [at("2026-04-20T00:00:00")]
        self.fake = FakeLedger(clock=lambda: self.now[0])
        super().__init__(self.fake, chart, catalogue)

    def void_at(self, held: PostedTransaction, when: str) -> PostedTransaction:
        self.now[0] = at(when)
        return self.void(held)

    def raw(self, postings: tuple[Posting, ...], when: str, metadata: dict[str, str] | None = None) -> PostedTransaction:
        """A transaction written by another client, with whatever metadata it chose (none by default)."""

        return self.fake._record(postings, at(when), metadata or {}, None)


def clean_history(books: Books) -> dict[str, PostedTransaction]:
    """The scripted history up to the hold h-1 (every check passes once it is voided)."""

    return history_to_first_hold(books)


def full_history(books: Books) -> dict[str, PostedTransaction]:
    """The whole scripted history: h-1 left open, c3 never released, a manual posting."""

    b = books
    txs = clean_history(books)
    b.earn("c3", "o-4", "80.00", "2026-04-01T10:00:00")
    b.earn("c2", "o-5", "40.00", "2026-04-05T10:00:00")
    b.refund("c2", "o-5", "rf-2", "40.00", "2026-04-06T10:00:00")
    txs["manual"] = b.manual("world", "customers:c5:points:noexpiry", 10, "2026-04-10T10:00:00")
    return txs


@pytest.fixture(scope="module")
def full(chart: Chart, catalogue: Catalogue) -> FakeBooks:
    books = FakeBooks(chart, catalogue)
    full_history(books)
    return books


@pytest.fixture
def clean(chart: Chart, catalogue: Catalogue) -> tuple[FakeBooks, dict[str, PostedTransaction]]:
    books = FakeBooks(chart, catalogue)
    txs = clean_history(books)
    books.void_at(txs["h-1"], "2026-03-20T10:05:00")
    return books, txs


def reports(books: Books) -> FinanceReports:
    return FinanceReports(books.ledger, books.chart, clock=lambda: AS_OF)


# --------------------------------------------------------------------------
# Pure helpers


def test_money_is_exact() -> None:
    assert money_value(1234, Decimal("0.01")) == Decimal("12.34")
    assert str(money_value(0, Decimal("0.01"))) == "0.00"
    assert money_value(-30, Decimal("0.01")) == Decimal("-0.30")
    huge = 10**40 + 7
    # The default 28-digit context would round this product; the report must not.
    assert str(money_value(huge, Decimal("0.0125"))) == "125000000000000000000000000000000000000.0875"


def test_kind_filters_come_from_the_chart(chart: Chart) -> None:
    assert kind_filter(chart, "customer_points") == "customers::points:"
    assert kind_filter(chart, "customer_pending") == "customers::pending::"
    assert kind_filter(chart, "customer_hold") == "customers::holds:"
    assert kind_filter(chart, "customer_clawback") == "customers::clawback"


def test_cohorts_close_when_their_last_bucket_is_due() -> None:
    # January 2025 earns expire from 2026-01-01 (Jan 1 + 365) to 2026-01-31.
    assert cohort_of(date(2026, 1, 31), 365) == date(2025, 1, 1)
    assert cohort_of(date(2027, 3, 1), 365) == date(2026, 3, 1)
    assert closed_cohorts(date(2026, 1, 31), 365, 2) == (date(2024, 12, 1), date(2025, 1, 1))
    assert closed_cohorts(date(2026, 1, 30), 365, 2) == (date(2024, 11, 1), date(2024, 12, 1))
    assert closed_cohorts(date(2026, 5, 1), 365, 1) == (date(2025, 4, 1),)


def acct(address: str, balance: int, asset: str = "PTS") -> AccountState:
    volume = Volume(input=max(balance, 0), output=max(-balance, 0))
    return AccountState(address=address, volumes={asset: volume})


def test_liability_moves_negative_balances_to_their_own_line(chart: Chart) -> None:
    accounts = [
        acct("customers:a:points:20270101", 100),
        acct("customers:a:points:20270201", -20),  # forced revert: below zero
        acct("customers:b:pending:20260115:20270101", 40),
        acct("customers:b:holds:h1", 5),
        acct("customers:c:clawback", -30),
        acct("customers:d:credit", 500, "USD/2"),  # store credit, not points
        acct("customers:e:mystery", 7),  # not a points account of the chart
    ]
    by_kind = {"customer_points": 80, "customer_pending": 40, "customer_hold": 5, "customer_clawback": -30}
    report = liability_statement(as_of=AS_OF, chart=chart, by_kind=by_kind, ledger_total=102, accounts=accounts)
    lines = {line.state: line for line in report.lines}
    assert {s: (l.points, l.customers) for s, l in lines.items()} == {
        "spendable": (100, 1),
        "pending": (40, 1),
        "held": (5, 1),
        "negative": (-50, 2),
        "other": (7, 1),
    }
    assert lines["negative"].value == Decimal("-0.50")
    assert report.total_points == 102 and report.total_value == Decimal("1.02")
    assert report.ties and report.difference == 0
    assert report.customers_with_position == 4  # a, b, c, e (d holds store credit only)
    assert [a.address for a in report.accounts_below_zero] == ["customers:a:points:20270201", "customers:c:clawback"]
    assert [r["state"] for r in report.rows()] == ["spendable", "pending", "held", "negative", "other", "total"]


def test_liability_that_does_not_add_up_says_so(chart: Chart) -> None:
    report = liability_statement(
        as_of=AS_OF, chart=chart, by_kind={"customer_points": 10}, ledger_total=12, accounts=[acct("customers:a:points:noexpiry", 10)]
    )
    assert not report.ties and report.difference == -2


def vrow(account: str, inp: int, out: int, asset: str = "PTS") -> VolumeRow:
    return VolumeRow(account=account, asset=asset, input=inp, output=out, balance=inp - out)


def test_roll_forward_worked_example(chart: Chart) -> None:
    accounts = [
        vrow("program:points:issued:3", 40, 200),
        vrow("program:points:issued:5", 30, 150),
        vrow("program:points:redeemed", 30, 0),
        vrow("program:points:expired", 120, 0),
        vrow("program:credit:issued", 0, 500, "USD/2"),
    ]
    roots = [vrow("customers", 500, 310), vrow("program", 220, 350), vrow("world", 0, 10), vrow("world", 0, 500, "USD/2")]
    report = roll_forward(
        start=at("2026-01-01T00:00:00"), end=AS_OF, chart=chart, opening=120, closing=260, accounts=accounts, roots=roots
    )
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
    rows = report.rows()
    assert [r["line"] for r in rows][:2] == ["opening", "issued"] and rows[-1]["line"] == "difference"
    assert rows[-1]["points"] == 10


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


def test_breakage_estimate_from_closed_cohorts(chart: Chart) -> None:
    positions = [
        acct("customers:a:points:20270301", 140),  # cohort 2026-03, not due
        acct("customers:b:pending:20260415:20270401", 80),  # cohort 2026-04
        acct("customers:c:points:20260420", 9),  # cohort 2025-04: closed, due, not swept
        acct("customers:d:points:noexpiry", 10),  # never expires
    ]
    report = breakage_report(
        start=None,
        end=AS_OF,
        chart=chart,
        realised=120,
        positions=positions,
        expired_by_expiry={date(2026, 1, 10): 70, date(2026, 1, 20): 50},
        issued_by_cohort={date(2025, 1, 1): 150, date(2025, 4, 1): 21},
    )
    # rate = (120 + 9 awaiting in 2025-04) / (150 + 21) = 129 / 171
    assert report.rate == Decimal("0.754386")
    cohorts = {c.cohort: c for c in report.cohorts}
    assert (cohorts["2025-01"].issued, cohorts["2025-01"].expired, cohorts["2025-01"].rate) == (150, 120, Decimal("0.8"))
    assert cohorts["2025-04"].awaiting_expiry == 9 and cohorts["2025-04"].status == "closed"
    assert cohorts["2026-03"].estimated == 106  # 140 × 129/171 = 105.6 → 106
    assert cohorts["2026-04"].estimated == 60  # 80 × 129/171 = 60.4 → 60
    assert report.estimated_points == 166 and report.estimated_value == Decimal("1.66")
    assert report.awaiting_expiry_points == 9
    assert report.realised_value == Decimal("1.20")
    assert "expiry date minus policies.expiry_days" in report.method
    assert report.rate_cohorts[-1] == "2025-04" and len(report.rate_cohorts) == 12


def test_breakage_without_closed_cohorts_gives_no_rate(chart: Chart) -> None:
    report = breakage_report(
        start=None,
        end=at("2026-01-15T00:00:00"),
        chart=chart,
        realised=0,
        positions=[acct("customers:a:points:20270301", 140)],
        expired_by_expiry={},
        issued_by_cohort={},
    )
    assert report.rate is None and report.estimated_points is None and report.estimated_value is None
    assert report.note is not None and "too little history" in report.note
    assert [(c.status, c.outstanding, c.estimated) for c in report.cohorts] == [("open", 140, None)]
    assert report.rows()[-1]["note"] == report.note


def test_trial_balance_check(chart: Chart) -> None:
    assert check_trial_balance({"PTS": 0, "USD/2": 0}).status == "pass"
    roots = [vrow("customers", 300, 40), vrow("program", 40, 300), vrow("stray", 5, 0)]
    result = check_trial_balance({"PTS": 5, "USD/2": 0}, roots)
    assert result.status == "fail"
    assert result.offending == ("PTS: sums to 5 (customers=260, program=-260, stray=5)",)
    assert check_trial_balance({"QPTS": -1}).offending == ("QPTS: sums to -1",)


class Unbalanced(FakeLedger):
    """An in-memory ledger whose aggregate over every account is off by 5 points (as a corrupted store would be)."""

    def aggregate_balances(self, address_filter: str, **kwargs: Any) -> dict[str, int]:
        totals = super().aggregate_balances(address_filter, **kwargs)
        if address_filter == "":
            totals["PTS"] = totals.get("PTS", 0) + 5
        return totals


def test_reconcile_reports_a_broken_trial_balance(chart: Chart) -> None:
    check = FinanceReports(Unbalanced(), chart, clock=lambda: AS_OF).reconcile().check("trial_balance")
    assert check.status == "fail" and check.offending == ("PTS: sums to 5",)


def tx(tx_id: int, postings: list[tuple[str, str, int]], metadata: dict[str, str] | None = None, *, reverted: bool = False) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=AS_OF,
        postings=tuple(Posting(source=s, destination=d, amount=a, asset="PTS") for s, d, a in postings),
        metadata=metadata or {},
        reverted=reverted,
    )


HOLD_META = {
    "operation": "hold",
    "template": "hold",
    "command_hash": "h",
    "customer": "c1",
    "hold_id": "h-1",
    "points": "60",
    "expires_at": "2026-03-20T10:30:00Z",
}


def test_reverts_are_recognised_by_the_server_marker_or_by_mirror_postings() -> None:
    original = tx(0, [("customers:c1:points:20270301", "customers:c1:holds:h-1", 60)], HOLD_META, reverted=True)
    mirror = tx(1, [("customers:c1:holds:h-1", "customers:c1:points:20270301", 60)])
    marked = tx(3, [("x", "y", 1)], {REVERT_METADATA_KEY: "2"})
    other = tx(2, [("y", "x", 1)], {"operation": "manual"}, reverted=True)
    assert revert_targets([original, mirror, other, marked]) == {1: 0, 3: 2}
    # A mirror of a transaction that was not reverted is not a revert.
    assert revert_targets([original.model_copy(update={"reverted": False}), mirror]) == {}


def test_metadata_check_names_each_problem() -> None:
    txs = [
        tx(0, [("a", "b", 1)], HOLD_META, reverted=True),
        tx(1, [("b", "a", 1)]),  # the void: a revert, accepted
        tx(2, [("c", "d", 1)]),  # no metadata, not a revert
        tx(3, [("c", "d", 1)], {**HOLD_META, "template": "redeem", "hold_id": ""}),
        tx(4, [("c", "d", 1)], {"operation": "bonus", "template": "bonus", "command_hash": "x"}),
    ]
    result = check_transaction_metadata(txs)
    assert result.status == "fail"
    assert result.offending == (
        "#2: no operation metadata (a posting made outside the operations)",
        "#3 (hold): missing hold_id; template 'redeem' is not one of hold",
        "#4: unknown operation 'bonus'",
    )
    assert result.info == ("#1 reverts #0 (hold)",)


def test_negative_balances_policy(chart: Chart, catalogue: Catalogue) -> None:
    accounts = [acct("customers:c4:clawback", -30), acct("customers:c1:points:20270301", -5), acct("customers:c2:credit", -1, "USD/2")]
    result = check_negative_balances(chart=chart, accounts=accounts)
    assert result.status == "fail"
    assert result.offending == ("customers:c1:points:20270301 -5 PTS", "customers:c2:credit -1 USD/2")
    assert result.info == ("customers:c4:clawback -30 PTS",)
    write_off = Chart.from_yaml((ROOT / "chart_of_accounts.yaml").read_text().replace("refund_shortfall: claw_back", "refund_shortfall: write_off"))
    result = check_negative_balances(chart=write_off, accounts=accounts[:1])
    assert result.status == "fail" and result.offending == ("customers:c4:clawback -30 PTS",)


# --------------------------------------------------------------------------
# The one metadata table matches what the plans write


def every_plan(chart: Chart, catalogue: Catalogue) -> list[TransactionPlan]:
    t = at("2026-06-01T10:00:00")
    usd = Money(amount=Decimal("125.90"), currency="USD")
    bks = [BucketBalance(expiry=date(2026, 9, 30), points=300), BucketBalance(expiry=date(2027, 3, 31), points=400)]
    held = (
        Posting(source="customers:c42:points:20260930", destination="customers:c42:holds:h-9", amount=50, asset="PTS"),
        Posting(source="customers:c42:points:20270331", destination="customers:c42:holds:h-9", amount=20, asset="PTS"),
    )
    record = EarnRecord(
        customer="c42", order_id="o-1", amount=usd, points=125, ordered_at=t, release_on=date(2026, 6, 15), expires_on=date(2027, 6, 1)
    )
    plans = [
        earn.plan(EarnCommand(customer="c42", order_id="o-1", amount=usd, ordered_at=t), chart, catalogue, breakdown=priced("125.90")),
        earn.plan(
            EarnCommand(customer="c42", order_id="o-2", amount=usd, ordered_at=t),
            chart,
            catalogue,
            breakdown=priced("125.90"),
            clawback_balance=-30,
            tier_after="silver",
            tier_change="upgrade",
        ),
        engage.plan(
            EngageCommand(customer="c42", event="review_written", key="rv-77", at=t),
            chart,
            catalogue,
            rule=EngagementRule(points=50, per_day=2, per_customer=10),
            rules_version="test-1",
            clawback_balance=-5,
        ),
        open_counter.plan(OpenCounterCommand(customer="c42", event="review_written", day=date(2026, 6, 1)), chart, catalogue),
        *release.plan(
            ReleaseCommand(customer="c42", as_of=t), chart, catalogue, [PendingBalance(release=date(2026, 6, 1), expiry=date(2027, 5, 18), points=95)]
        ),
        hold.plan(HoldCommand(customer="c42", hold_id="h-9", points=70, at=t), chart, catalogue, bks),
        capture.plan(CaptureCommand(customer="c42", hold_id="h-9", points=55, at=t), chart, catalogue, held),
        redeem.plan(RedeemCommand(customer="c42", redemption_id="r-5", points=70, at=t), chart, catalogue, bks),
        redeem.plan(RedeemCommand(customer="c42", redemption_id="r-6", points=70, at=t, reward="mug"), chart, catalogue, bks),
        *expire.plan(ExpireCommand(customer="c42", as_of=at("2026-09-30T03:00:00")), chart, catalogue, bks),
        transfer.plan(TransferCommand(customer="c42", to_customer="c77", transfer_id="t-3", points=70, at=t), chart, catalogue, bks),
        exchange_out.plan(
            ExchangeOutCommand(customer="c42", exchange_id="x-1", partner="skyway", partner_points=40, at=t), chart, catalogue, bks
        ),
        exchange_in.plan(ExchangeInCommand(customer="c42", exchange_id="x-2", partner="skyway", partner_points=100, at=t), chart, catalogue),
        convert.plan(ConvertCommand(customer="c42", conversion_id="cv-1", points=500, at=t), chart, catalogue, bks),
        refund.plan(
            RefundCommand(customer="c42", order_id="o-1", refund_id="rf-1", amount=usd, at=t),
            chart,
            catalogue,
            earn=record,
            previous_refunds=[],
            buckets=bks,
        ),
        adjust.plan(
            AdjustCommand(customer="c42", adjustment_id="a-1", direction="credit", points=50, reason="goodwill", at=t), chart, catalogue
        ),
        adjust.plan(
            AdjustCommand(customer="c42", adjustment_id="a-2", direction="debit", points=30, reason="goodwill", at=t), chart, catalogue, bks
        ),
    ]
    return [p for p in plans if p is not None]


def test_metadata_table_matches_what_every_plan_writes(chart: Chart, catalogue: Catalogue) -> None:
    assert set(OPERATION_METADATA) == set(OPERATIONS)
    plans = every_plan(chart, catalogue)
    assert {p.operation for p in plans} == set(OPERATIONS)
    optional_seen: set[tuple[str, str]] = set()
    for plan in plans:
        rule = OPERATION_METADATA[plan.operation]
        keys = set(plan.all_metadata())
        assert BASE_METADATA | rule.required <= keys, plan.reference
        assert all(rule.allows(key) for key in keys), (plan.reference, sorted(keys))
        optional_seen |= {(plan.operation, k) for k in keys & rule.optional}
        if rule.business_key:
            assert plan.metadata[rule.business_key] in plan.reference
    assert optional_seen == {(op, k) for op, rule in OPERATION_METADATA.items() for k in rule.optional}
    # Every plan passes the reconciliation's metadata check.
    posted = [tx(i, [("a", "b", 1)], p.all_metadata()) for i, p in enumerate(plans)]
    assert check_transaction_metadata(posted).status == "pass"


# --------------------------------------------------------------------------
# The log hash chain check (the hashes themselves: tests/unit/ledger/test_log_chain.py)


def test_log_chain_check_passes_on_logs_as_served() -> None:
    logs = logs_as_served()
    result = check_log_chain(logs)
    assert result.status == "pass", result
    assert result.info == ("2 log(s) matched the trigger form",)


def test_log_chain_detects_an_altered_payload_and_a_rewritten_hash() -> None:
    logs = logs_as_served()
    logs[0]["data"]["transaction"]["postings"][0]["amount"] = 1000
    result = check_log_chain(logs)
    assert result.status == "fail"
    assert result.offending == ("log 1 (NEW_TRANSACTION): hash does not match its content and the previous hash",)

    logs = logs_as_served()
    logs[0]["data"]["transaction"]["postings"][0]["amount"] = 1000
    logs[0]["hash"] = base64.b64encode(log_hash(logs[0], None)).decode()  # rewritten to match
    result = check_log_chain(logs)
    assert result.status == "fail"
    assert result.offending == ("log 2 (REVERTED_TRANSACTION): hash does not match its content and the previous hash",)


def test_log_with_a_schema_version_may_hash_it() -> None:
    log = {**logs_as_served()[0], "schemaVersion": "coa-abc"}
    document = LOG1_DOCUMENT[:-1] + b',"schemaVersion":"coa-abc"}'
    log["hash"] = base64.b64encode(hashlib.sha256(document + b"\n").digest()).decode()
    result = check_log_chain([log])
    assert result.status == "pass" and result.info == ("1 log(s) matched the with schemaVersion form",)
    log["hash"] = base64.b64encode(HASH1).decode()
    assert check_log_chain([log]).status == "pass"


def test_logs_without_hashes_or_unknown_types_are_not_verified() -> None:
    unhashed = [{"id": 1, "type": "NEW_TRANSACTION", "data": {}}]
    assert check_log_chain(unhashed).status == "not_verified"
    odd = [{**logs_as_served()[0], "type": "SOMETHING_NEW"}]
    result = check_log_chain(odd)
    assert result.status == "not_verified" and "unknown log type" in result.offending[0]
    assert check_log_chain([]).status == "pass"


# --------------------------------------------------------------------------
# The service on the scripted history


def test_liability_now(full: FakeBooks) -> None:
    report = reports(full).liability()
    assert report.as_of == AS_OF
    lines = {line.state: (line.points, line.value, line.customers) for line in report.lines}
    assert lines == {
        "spendable": (150, Decimal("1.50"), 2),  # c1 140, c5 10
        "pending": (80, Decimal("0.80"), 1),  # c3
        "held": (60, Decimal("0.60"), 1),  # c1's hold h-1
        "negative": (-30, Decimal("-0.30"), 1),  # c4's clawback debt
        "other": (0, Decimal("0.00"), 0),
    }
    assert (report.total_points, report.total_value) == (260, Decimal("2.60"))
    assert report.ties and report.ledger_total_points == 260
    assert report.customers_with_position == 4
    assert [a.address for a in report.accounts_below_zero] == ["customers:c4:clawback"]


def test_liability_at_a_past_instant_uses_point_in_time_reads(full: FakeBooks) -> None:
    report = reports(full).liability(at("2025-06-01T00:00:00"))
    points = {line.state: line.points for line in report.lines}
    assert points == {"spendable": 120, "pending": 0, "held": 0, "negative": 0, "other": 0}
    assert report.total_value == Decimal("1.20") and report.customers_with_position == 2 and report.ties


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


def test_realised_breakage_and_estimate(full: FakeBooks) -> None:
    service = reports(full)
    report = service.breakage()
    assert (report.realised_points, report.realised_value) == (120, Decimal("1.20"))
    assert report.rate == Decimal("0.800000")  # January 2025: 120 of 150 expired
    cohorts = {c.cohort: c for c in report.cohorts}
    assert set(cohorts) == {"2025-01", "2026-03", "2026-04"}
    assert (cohorts["2025-01"].issued, cohorts["2025-01"].expired) == (150, 120)
    assert (cohorts["2026-03"].outstanding, cohorts["2026-03"].estimated) == (140, 112)
    assert (cohorts["2026-04"].outstanding, cohorts["2026-04"].estimated) == (80, 64)
    assert (report.estimated_points, report.estimated_value) == (176, Decimal("1.76"))
    assert report.awaiting_expiry_points == 0

    window = service.breakage(at("2026-02-01T00:00:00"), AS_OF)
    assert window.realised_points == 0 and window.estimated_points == 176
    january = service.breakage(at("2026-01-01T00:00:00"), at("2026-02-01T00:00:00"))
    assert january.realised_points == 120 and january.rate == Decimal("0.800000")


def test_breakage_before_any_cohort_closed_says_so(full: FakeBooks) -> None:
    report = reports(full).breakage(None, at("2026-01-25T00:00:00"))
    assert report.realised_points == 120  # expired on 2026-01-21
    assert report.rate is None and report.estimated_points is None
    assert "too little history" in (report.note or "")


def test_reconcile_a_clean_history_passes(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, txs = clean
    result = reports(books).reconcile()
    statuses = {c.name: c.status for c in result.checks}
    assert statuses == {
        "trial_balance": "pass",
        "roll_forward": "pass",
        "negative_balances": "pass",
        "expired_holds": "pass",
        "overdue_pending": "pass",
        "transaction_metadata": "pass",
        "log_chain": "not_verified",  # the in-memory ledger does not hash its logs
    }
    assert result.ok
    assert result.check("negative_balances").info == ("customers:c4:clawback -30 PTS",)
    assert result.check("transaction_metadata").info == (f"#{txs['h-1'].id + 1} reverts #{txs['h-1'].id} (hold) as void",)


def test_reconcile_the_full_history_names_every_break(full: FakeBooks) -> None:
    result = reports(full).reconcile()
    # transaction ids count from 1, as on the server
    assert not result.ok
    assert result.check("roll_forward").offending == ("world: +10 PTS (world)",)
    assert result.check("expired_holds").offending == (
        "customers:c1:holds:h-1: 60 points, lapsed at 2026-03-20T10:30:00Z (hold #14)",
    )
    assert result.check("overdue_pending").offending == ("customers:c3:pending:20260415:20270401: 80 points, release date 2026-04-15",)
    assert result.check("transaction_metadata").offending == ("#18: unknown operation 'manual'",)
    assert result.check("trial_balance").status == "pass"
    assert result.check("negative_balances").status == "pass"


def test_reconcile_as_of_a_past_instant(full: FakeBooks) -> None:
    result = reports(full).reconcile(at("2026-03-20T10:15:00"))
    # The hold was placed at 10:00 and lapses at 10:30: still within its TTL.
    assert result.check("expired_holds").status == "pass"
    assert result.ok


def test_hold_left_open_past_its_ttl_fails(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, _ = clean
    books.hold("c1", "h-2", 25, "2026-04-01T12:00:00")
    check = reports(books).reconcile().check("expired_holds")
    assert check.status == "fail"
    assert check.offending == ("customers:c1:holds:h-2: 25 points, lapsed at 2026-04-01T12:30:00Z (hold #16)",)


def test_pending_past_its_release_date_fails(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, _ = clean
    books.earn("c3", "o-4", "80.00", "2026-04-01T10:00:00")
    service = reports(books)
    assert service.reconcile(at("2026-04-14T23:59:59")).check("overdue_pending").status == "pass"
    check = service.reconcile(at("2026-04-15T00:00:00")).check("overdue_pending")
    assert check.status == "fail"
    assert check.offending == ("customers:c3:pending:20260415:20270401: 80 points, release date 2026-04-15",)


def test_transaction_missing_metadata_fails(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, _ = clean
    bad = TransactionPlan(
        operation="redeem",
        template="redeem",
        script=MOVE,
        vars={"amount": "PTS 5", "from": "customers:c1:points:20270301", "to": "program:points:redeemed"},
        reference="redeem:r-9",
        command_hash="x",
        metadata={"customer": "c1"},
        timestamp=at("2026-04-02T10:00:00"),
    )
    posted = books.ledger.post(bad)
    books.raw((Posting(source="program:points:issued:0", destination="customers:c9:points:noexpiry", amount=3, asset="PTS"),), "2026-04-03T10:00:00")
    check = reports(books).reconcile().check("transaction_metadata")
    assert check.status == "fail"
    assert check.offending == (
        f"#{posted.id} (redeem): missing points, redemption_id",
        f"#{posted.id + 1}: no operation metadata (a posting made outside the operations)",
    )


def test_customer_account_below_zero_fails(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, txs = clean
    # Reverting o-3 after its points were released: the pending account goes below zero (forced).
    books.now[0] = at("2026-04-20T00:00:00")
    books.ledger.revert(txs["o-3"].id, force=True)
    result = reports(books).reconcile()
    check = result.check("negative_balances")
    assert check.status == "fail"
    assert check.offending == ("customers:c1:pending:20260315:20270301 -200 PTS",)
    assert result.check("transaction_metadata").status == "pass"  # the revert is recognised
    assert result.check("roll_forward").status == "pass"
    liability = reports(books).liability()
    assert {line.state: line.points for line in liability.lines}["negative"] == -230


def test_manual_posting_breaks_the_roll_forward_check(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, _ = clean
    books.manual("world", "customers:c5:points:noexpiry", 10, "2026-04-10T10:00:00")
    check = reports(books).reconcile().check("roll_forward")
    assert check.status == "fail" and check.offending == ("world: +10 PTS (world)",)


class HashedLogs(FakeLedger):
    """An in-memory ledger serving a given hash-chained log."""

    served: list[dict[str, Any]] = []

    def logs(self) -> Iterator[dict[str, Any]]:
        yield from self.served


def test_reconcile_reports_the_log_chain(chart: Chart) -> None:
    ledger = HashedLogs()
    ledger.served = logs_as_served()
    service = FinanceReports(ledger, chart, clock=lambda: AS_OF)
    check = service.reconcile().check("log_chain")
    assert check.status == "pass" and "SHA-256" in check.detail
    ledger.served[1]["data"]["transaction"]["metadata"]["com.formance.spec/state/reverts"] = "7"
    result = service.reconcile()
    assert result.check("log_chain").status == "fail" and not result.ok


def test_customer_statement(full: FakeBooks) -> None:
    statement = reports(full).statement("c1", at("2026-01-01T00:00:00"), AS_OF, horizon_days=330)
    assert (statement.opening_points, statement.closing_points) == (70, 200)
    assert [(line.operation, line.business_key, line.points, line.balance) for line in statement.lines] == [
        ("expire", "expire:20260121T030000Z:c1:20260110", -70, 0),
        ("earn", "o-3", 200, 200),
        ("release", "release:20260316T020000Z:c1:20260315:20270301", 0, 200),
        ("hold", "h-1", 0, 200),
    ]
    assert statement.ties
    assert [(e.expires_on, e.state, e.points) for e in statement.expiring] == [(date(2027, 3, 1), "spendable", 140)]
    assert reports(full).statement("c1", at("2026-01-01T00:00:00"), AS_OF).expiring == ()


def test_statement_lists_a_void_as_a_revert(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, txs = clean
    statement = reports(books).statement("c1", at("2026-03-01T00:00:00"), AS_OF)
    last = statement.lines[-1]
    assert (last.operation, last.business_key, last.points) == ("revert of hold", f"#{txs['h-1'].id} h-1", 0)
    assert statement.closing_points == 200 and statement.ties


def test_statement_refuses_a_bad_customer_id_and_a_reversed_window(full: FakeBooks) -> None:
    with pytest.raises(InvalidCommand):
        reports(full).statement("not a customer!")
    with pytest.raises(InvalidCommand):
        reports(full).activity(AS_OF, at("2026-01-01T00:00:00"))


def test_the_demo_programme_reconciles() -> None:
    """Every transaction the programme's own services write passes every check (the metadata table included)."""

    from support.programme import programme

    from loyalty_accounts.demo import run_demo

    ledger = FakeLedger()
    program = programme(ledger)
    run_demo(program)
    # After the demo's last step, and after the void (a revert is dated when it is made).
    when = max(max(tx.timestamp for tx in ledger.txs), datetime.now(UTC)) + timedelta(days=1)
    service = FinanceReports(ledger, program.chart, clock=lambda: when)
    result = service.reconcile()
    assert {c.name: c.status for c in result.checks if c.status != "pass"} == {"log_chain": "not_verified"}, result.checks
    assert any("as void" in line for line in result.check("transaction_metadata").info)
    assert service.liability().ties
    assert service.activity(None).ties


# --------------------------------------------------------------------------
# The command line


runner = CliRunner()


class Unreachable:
    """A port whose every read fails the way the HTTP client does when the server is down."""

    ledger = "down"

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise LedgerUnavailable("Formance ledger at http://127.0.0.1:9 is unavailable")

        return fail


def cli(port: Any) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _options(ctx: typer.Context) -> None:
        ctx.obj = AppContext(None, None, ROOT / "chart_of_accounts.yaml", None, _client=port)

    root.add_typer(report_app, name="report")
    root.command("reconcile")(reconcile_command)
    root.command("statement")(statement_command)
    return root


def test_cli_liability_json_and_csv_carry_the_same_content(full: FakeBooks) -> None:
    app = cli(full.ledger)
    result = runner.invoke(app, ["report", "liability", "--as-of", "2026-05-01T00:00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["total_points"] == 260 and payload["total_value"] == "2.60" and payload["ties"] is True
    csv_result = runner.invoke(app, ["report", "liability", "--as-of", "2026-05-01T02:00:00+02:00", "--csv"])
    assert csv_result.exit_code == 0, csv_result.output
    lines = csv_result.stdout.splitlines()
    assert lines[0] == "as_of,state,points,value,currency,customers"
    assert lines[-1] == "2026-05-01T00:00:00+00:00,total,260,2.60,USD,4"
    assert [row["value"] for row in payload["lines"]] == [line.split(",")[3] for line in lines[1:]]


def test_cli_activity_table_says_whether_it_ties(full: FakeBooks) -> None:
    result = runner.invoke(cli(full.ledger), ["report", "activity", "--from", "2026-01-01T00:00:00Z", "--to", "2026-05-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "ties: NO" in result.stdout and "by 10 PTS" in result.stdout


def test_cli_breakage_prints_the_method(full: FakeBooks) -> None:
    result = runner.invoke(cli(full.ledger), ["report", "breakage", "--to", "2026-05-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "Method: rate = expired / issued" in result.stdout and "176 PTS = 1.76 USD" in result.stdout


def test_cli_reconcile_exits_1_on_a_break_and_0_when_clean(full: Books, clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    broken = runner.invoke(cli(full.ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00Z"])
    assert broken.exit_code == 1
    assert "FAIL         expired_holds" in broken.stdout and "customers:c1:holds:h-1" in broken.stdout
    ok = runner.invoke(cli(clean[0].ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00Z", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True


def test_cli_statement_csv(full: FakeBooks) -> None:
    result = runner.invoke(
        cli(full.ledger), ["statement", "--customer", "c1", "--from", "2026-01-01T00:00:00Z", "--to", "2026-05-01T00:00:00Z", "--csv"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "customer,line,timestamp,transaction_id,operation,business_key,points,balance,state,expires_on"
    assert lines[1] == "c1,opening,2026-01-01T00:00:00+00:00,,,,,70,,"
    assert lines[-1] == "c1,closing,2026-05-01T00:00:00+00:00,,,,,200,,"
    longer = runner.invoke(cli(full.ledger), ["statement", "--customer", "c1", "--to", "2026-05-01T00:00:00Z", "--days", "330", "--csv"])
    assert longer.stdout.splitlines()[-1] == "c1,expiring,,,,,140,,spendable,2027-03-01"


@pytest.mark.parametrize(
    "args",
    [
        ["report", "liability", "--as-of", "2026-05-01T00:00:00"],
        ["report", "liability", "--as-of", "2026-05-01Z"],
        ["report", "liability", "--as-of", "yesterday"],
        ["report", "activity", "--from", "2026-05-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"],
        ["report", "liability", "--json", "--csv"],
        ["statement", "--customer", "bad id!"],
        ["report", "breakage", "--cohorts", "0"],
    ],
)
def test_cli_bad_input_exits_2(full: Books, args: list[str]) -> None:
    result = runner.invoke(cli(full.ledger), args)
    assert result.exit_code == 2, result.output


def test_cli_naive_instant_is_explained(full: FakeBooks) -> None:
    result = runner.invoke(cli(full.ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00"])
    assert result.exit_code == 2
    assert "has no UTC offset" in result.stderr


def test_cli_unreachable_ledger_exits_3() -> None:
    for args in (["report", "liability"], ["reconcile"], ["statement", "--customer", "c1"]):
        result = runner.invoke(cli(Unreachable()), args)
        assert result.exit_code == 3, (args, result.output)
        assert "unavailable" in result.stderr


# --------------------------------------------------------------------------
# The benchmark script: its seeding on the in-memory ledger, its failure when the ledger is down


def bench_script() -> Any:
    spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "scripts" / "bench_reports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


def test_bench_seeds_a_history_every_report_accepts(chart: Chart, catalogue: Catalogue) -> None:
    bench = bench_script()
    ledger = FakeLedger()
    now = at("2026-05-01T12:00:00")
    seeded = bench.seed(ledger, chart, catalogue, customers=5, transactions=40, rng=random.Random(7), now=now)
    assert seeded.counts["earn"] == 22 and seeded.counts["release"] > 0 and seeded.counts["expire"] > 0
    assert seeded.total == len(ledger.txs)
    service = FinanceReports(ledger, chart, clock=lambda: now)
    result = service.reconcile(now)
    assert [c.name for c in result.checks if c.status == "fail"] == []
    assert service.liability(now).ties
    assert service.breakage(None, now).rate is not None  # cohorts 540 days back have closed
    timings = bench.run_reports(service, now, seeded.customers[0])
    assert [name for name, _, _ in timings][0] == "liability (now)" and len(timings) == 7


def test_bench_fails_clearly_when_the_ledger_is_unreachable(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    bench = bench_script()
    assert bench.main(["--ledger-url", "http://127.0.0.1:9", "--attempts", "1", "--ledger", "bench-x"]) == 3
    assert "unreachable, nothing was written" in capsys.readouterr().err
    monkeypatch.delenv("LOYALTY_LEDGER_URL", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        bench.main([])
    assert exit_info.value.code == 2
