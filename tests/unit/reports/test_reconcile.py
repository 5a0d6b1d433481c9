"""Reconciliation: each check on hand-made inputs, then every check through the service on the scripted history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from support.fake_ledger import FakeLedger
from support.finance_books import MOVE, at
from support.ledger_logs import HashedLogs, logs_as_served
from support.report_books import (
    AS_OF,
    HOLD_META,
    ROOT,
    FakeBooks,
    acct,
    reports,
    tx,
    vrow,
)

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.reports.reconcile import (
    check_negative_balances,
    check_transaction_metadata,
    check_trial_balance,
)
from loyalty_accounts.types import PostedTransaction, Posting, TransactionPlan
from loyalty_accounts.vocabulary.instants import parse_instant

UTC = timezone.utc


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
        "overdue_expiry": "pass",
        "transaction_metadata": "pass",
        "log_chain": "not_verified",  # the in-memory ledger does not hash its logs
        "negative_at_any_instant": "pass",
        "clawback_never_positive": "pass",
        "liability_ties": "pass",
        "engagement_limits": "not_verified",
        "campaign_caps": "not_verified",
        "order_refunds": "pass",
        "refunds_after_orders": "pass",
        "closed_periods": "pass",
        "future_dated": "pass",
        "personal_data": "pass",
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


def test_reconcile_reports_the_log_chain(chart: Chart) -> None:
    ledger = HashedLogs()
    ledger.served = logs_as_served()
    service = FinanceReports(ledger, chart, clock=lambda: AS_OF)
    check = service.reconcile().check("log_chain")
    assert check.status == "pass" and "SHA-256" in check.detail
    ledger.served[1]["data"]["transaction"]["metadata"]["com.formance.spec/state/reverts"] = "7"
    result = service.reconcile()
    assert result.check("log_chain").status == "fail" and not result.ok


def test_reconcile_as_of_an_instant_verifies_the_log_as_it_stood_then(chart: Chart) -> None:
    ledger = HashedLogs()
    ledger.served = logs_as_served()
    service = FinanceReports(ledger, chart, clock=lambda: AS_OF)
    dates = sorted(parse_instant(str(log["date"]), UTC) for log in ledger.served)
    whole = service.reconcile(dates[-1]).check("log_chain")
    assert whole.status == "pass" and whole.detail.startswith(f"{len(dates)} log(s)")
    before_last = service.reconcile(dates[-1] - timedelta(microseconds=1)).check("log_chain")
    assert before_last.detail.startswith(f"{len(dates) - 1} log(s)"), "a log written after the as-of instant is not read"
    ledger.served[-1]["data"]["transaction"]["metadata"]["note"] = "altered"
    assert service.reconcile(dates[-1]).check("log_chain").status == "fail"
    assert service.reconcile(dates[-1] - timedelta(microseconds=1)).check("log_chain").status == "pass"


def test_the_demo_programme_reconciles() -> None:
    """Every transaction the programme's own services write passes every check (the metadata table included)."""

    from support.programme import programme

    from loyalty_accounts.demo import run_demo

    ledger = FakeLedger()
    program = programme(ledger)
    run_demo(program)
    # After the demo's last step, and after the void (dated when it is made); the buckets due by
    # then swept, as the programme's nightly expiry would (else overdue_expiry names them). A sweep
    # is dated to the whole second: the next one after the void, so that it takes what the void
    # returned to bob's bucket (20261129) too.
    when = (max(max(tx.timestamp for tx in ledger.txs), datetime.now(UTC)) + timedelta(seconds=1)).replace(microsecond=0)
    program.expire(when)
    service = FinanceReports(ledger, program.chart, clock=lambda: when, rules=program.rules)
    result = service.reconcile()
    assert {c.name: c.status for c in result.checks if c.status != "pass"} == {"log_chain": "not_verified"}, result.checks
    voids = [tx for tx in ledger.txs if tx.metadata.get("operation") == "void"]
    assert len(voids) == 1 and not any(tx.reverted for tx in ledger.txs)
    assert service.liability().ties
    assert service.activity(None).ties


class _AccountsAt:
    """The ledger with every accounts listing made at one instant, and a record of the pits asked for."""

    def __init__(self, ledger: FakeLedger, pit: datetime | None) -> None:
        self._ledger, self._pit = ledger, pit
        self.asked: list[datetime | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def accounts(self, address_filter: str, *, pit: datetime | None = None) -> Any:
        self.asked.append(pit)
        return self._ledger.accounts(address_filter, pit=self._pit or pit)


def test_reconcile_lists_customers_in_the_current_state_only_when_nothing_is_dated_later(full: FakeBooks) -> None:
    quick = _AccountsAt(full.fake, None)
    at_pit = _AccountsAt(full.fake, AS_OF)
    result = FinanceReports(quick, full.chart, clock=lambda: AS_OF).reconcile()  # type: ignore[arg-type]
    assert quick.asked[0] is None
    assert result.checks == FinanceReports(at_pit, full.chart, clock=lambda: AS_OF).reconcile().checks  # type: ignore[arg-type]
    past = at("2026-04-02T00:00:00")  # earns and a refund are dated after it
    FinanceReports(quick, full.chart, clock=lambda: AS_OF).reconcile(past)  # type: ignore[arg-type]
    assert quick.asked[-1] == past
