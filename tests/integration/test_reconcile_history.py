"""Reconcile over the whole history on the real server: histories that break an invariant, posted round the programme's rules.

Each broken history is posted with the operations' own plans given stale or
no reads (what a race or a back-dated command used to produce), or with a
hand-written script carrying an operation's metadata, straight through the
ledger adapter: nothing in the programme stops them, which is the point. The
server decides the effective order and the balances; reconcile must fail
naming the check, in the Python API and in ``loyalty reconcile`` (exit 1).
A history made through the programme itself reconciles.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest
from support.finance_books import MOVE, Books, at, priced, server_books, usd
from support.programme import programme
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import (
    BucketBalance,
    EarnCommand,
    EarnRecord,
    EngageCommand,
    RedeemCommand,
    RefundCommand,
    earn,
    engage,
    redeem,
    refund,
)
from loyalty_accounts.operations.earn import order_of
from loyalty_accounts.reports import FinanceReports, Reconciliation
from loyalty_accounts.rules import Rules, load_rules, quote
from loyalty_accounts.types import TransactionPlan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOW = at("2026-12-15T00:00:00")


@pytest.fixture
def books(ledger_url: str, ledger_name: str) -> Iterator[Books]:
    with server_books(ledger_url, ledger_name) as b:
        yield b


def rules_of(b: Books) -> Rules:
    return load_rules(ROOT / "rules.yaml", chart=b.chart)


def reconcile(b: Books, as_of: str | None = None) -> Reconciliation:
    service = FinanceReports(b.ledger, b.chart, clock=lambda: NOW, rules=rules_of(b))
    return service.reconcile(at(as_of) if as_of else None)


def failing(result: Reconciliation) -> set[str]:
    return {c.name for c in result.checks if c.status == "fail"}


def cli_reconcile(url: str, ledger: str, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    """``loyalty reconcile`` as of NOW, the "now" :func:`reconcile` reads at (not the day the suite runs on)."""
    run = CliRunner().invoke(cli, ["--ledger-url", url, "--ledger", ledger, "reconcile", "--as-of", NOW.isoformat(), "--json", *extra])
    return run.exit_code, json.loads(run.stdout)


def test_a_back_dated_redeem_fails_reconcile_now_and_as_of_its_date(books: Books, ledger_url: str, ledger_name: str) -> None:
    # Issue 10: 100 earned 03-01 (released 03-16), a redeem of 60 dated 02-01 spends them before they existed.
    books.earn("c1", "o-1", "100.00", "2026-03-01T10:00:00")
    books.release("c1", "2026-03-16T02:00:00")
    # planned as the programme did before issue 10: on today's buckets, then dated in February
    command = RedeemCommand(customer="c1", redemption_id="r-1", points=60, at=at("2026-02-01T10:00:00"))
    books.post(redeem.plan(command, books.chart, books.catalogue, books.buckets("c1", "2026-04-01T00:00:00")))
    now = reconcile(books)
    assert failing(now) == {"negative_at_any_instant"}, now.checks
    check = now.check("negative_at_any_instant")
    assert check.count == 1
    (line,) = check.offending
    redeem_id = books.ledger.find_by_reference("redeem:r-1").id  # type: ignore[union-attr]
    assert line == (
        f"customers:c1:points:20270301 PTS: -60 at 2026-02-01T10:00:00Z (#{redeem_id}); "
        f"lowest -60 at 2026-02-01T10:00:00Z (#{redeem_id})"
    )
    # As of 02-10 the liability ties (-60 on the negative line) and reconcile fails: they cannot disagree.
    service = FinanceReports(books.ledger, books.chart, clock=lambda: NOW)
    liability = service.liability(at("2026-02-10T00:00:00"))
    assert liability.ties and liability.total_points == -60
    past = reconcile(books, "2026-02-10T00:00:00")
    assert past.check("liability_ties").status == "pass"
    assert failing(past) == {"negative_balances", "negative_at_any_instant"}
    # The command line fails too, naming the check and its count.
    code, body = cli_reconcile(ledger_url, ledger_name)
    assert code == 1 and body["ok"] is False
    checks = {c["check"]: c for c in body["checks"]}
    assert checks["negative_at_any_instant"]["status"] == "fail" and checks["negative_at_any_instant"]["count"] == 1
    assert checks["negative_at_any_instant"]["offending"] == [line]


def test_a_debt_repaid_twice_leaves_the_clawback_account_positive(books: Books) -> None:
    # c4 owes 50 (o-6 refunded after its points were spent); two earns of 30 each, both planned on
    # the debt of 50 (as two concurrent earns read it): 30 + 30 repaid, the account ends at +10.
    books.earn("c4", "o-6", "50.00", "2026-02-01T10:00:00")
    books.release("c4", "2026-02-16T02:00:00")
    books.redeem("c4", "r-2", 50, "2026-02-20T10:00:00")
    books.refund("c4", "o-6", "rf-1", "50.00", "2026-03-02T10:00:00")
    assert books.ledger.aggregate_balances(books.chart.clawback("c4"))["PTS"] == -50
    for order, when in (("o-7", "2026-03-05T10:00:00"), ("o-8", "2026-03-05T10:00:01")):
        command = EarnCommand(customer="c4", order_id=order, amount=usd("30.00"), ordered_at=at(when))
        books.post(earn.plan(command, books.chart, books.catalogue, breakdown=priced("30.00"), clawback_balance=-50))
    assert books.ledger.aggregate_balances(books.chart.clawback("c4"))["PTS"] == 10
    result = reconcile(books)
    assert "clawback_never_positive" in failing(result), result.checks
    second = books.ledger.find_by_reference("earn:o-8").id  # type: ignore[union-attr]
    assert result.check("clawback_never_positive").offending == (
        f"customers:c4:clawback PTS: +10 at 2026-03-05T10:00:01Z (#{second}); highest +10 at 2026-03-05T10:00:01Z (#{second})",
    )
    # Before the second earn the history was clean.
    assert reconcile(books, "2026-03-05T10:00:00").ok


def award_without_counters(b: Books, rules: Rules, key: str, when: str) -> None:
    """A sign_up award carrying engage's metadata, posted by a script that moves no counter (bypassing the limit)."""

    command = EngageCommand(customer="c1", event="sign_up", key=key, at=at(when))
    real = engage.plan(command, b.chart, b.catalogue, rule=rules.engagement["sign_up"], rules_version=rules.version)
    expiry = b.chart.expiry_for(b.chart.local_date(command.at))
    plan = TransactionPlan(
        operation="engage",
        template="engage",
        script=MOVE,
        vars={"amount": "PTS 500", "from": b.chart.issued_shard("c1"), "to": b.chart.bucket("c1", expiry)},
        reference=real.reference,
        command_hash=real.command_hash,
        metadata=real.metadata,
        timestamp=real.timestamp,
    )
    b.post(plan)


def test_an_engagement_award_beyond_its_limit_fails(books: Books) -> None:
    rules = rules_of(books)
    award_without_counters(books, rules, "s-1", "2026-06-01T10:00:00")
    assert reconcile(books).ok  # one sign_up: within the limit of 1 per customer
    award_without_counters(books, rules, "s-2", "2026-06-02T10:00:00")
    result = reconcile(books)
    assert failing(result) == {"engagement_limits"}, result.checks
    second = books.ledger.find_by_reference("engage:sign_up:c1:s-2").id  # type: ignore[union-attr]
    assert result.check("engagement_limits").offending == (
        f"customers c1 sign_up: 2 awards, at most 1 per customer; award 2 at 2026-06-02T10:00:00Z (#{second})",
    )


def test_a_campaign_charging_beyond_its_cap_fails(books: Books) -> None:
    # Four 10.00 USD app orders during app-week-2026-11 (bonus 150, at most 450 per customer), each priced as
    # if the campaign had charged nothing yet (four concurrent earns): 600 bonus points.
    rules = rules_of(books)
    for i in range(4):
        when = f"2026-11-24T10:0{i}:00"
        command = EarnCommand(customer="c1", order_id=f"o-{i}", amount=usd("10.00"), ordered_at=at(when), channel="app", category="general")
        breakdown = quote(rules, order_of(command, rules), tier=rules.base_tier.name, campaign_usage={})
        capped = earn.capped_campaigns(rules, order_of(command, rules))  # each earn credits its usage account
        books.post(earn.plan(command, books.chart, books.catalogue, breakdown=breakdown, capped=capped))
    result = reconcile(books, "2026-11-30T00:00:00")  # their points are pending until 12-08
    assert failing(result) == {"campaign_caps"}, result.checks
    fourth = books.ledger.find_by_reference("earn:o-3").id  # type: ignore[union-attr]
    assert result.check("campaign_caps").offending == (
        f"customers c1 campaign app-week-2026-11: 600 points charged, cap 450 per customer; passed at 2026-11-24T10:03:00Z (#{fourth})",
    )
    assert reconcile(books, "2026-11-24T10:02:30").ok  # three orders: 450, the cap exactly


def refund_blind(b: Books, refund_id: str, amount: str, when: str) -> None:
    """A refund of order o-1 planned as if it were the order's first (as two concurrent refunds read it)."""

    original = b.ledger.find_by_reference("earn:o-1")
    assert original is not None
    record = EarnRecord.from_metadata(original.metadata)
    # Planned at the order's instant at the earliest (the plan refuses an earlier refund), then dated as given.
    planned_at = max(at(when), record.ordered_at)
    command = RefundCommand(customer="c1", order_id="o-1", refund_id=refund_id, amount=usd(amount), at=planned_at)
    buckets = [BucketBalance(expiry=date(2027, 3, 1), points=0)]
    plan = refund.plan(command, b.chart, b.catalogue, earn=record, previous_refunds=[], buckets=buckets)
    assert plan is not None
    b.post(plan.model_copy(update={"timestamp": at(when)}))


def test_refunds_beyond_the_order_amount_fail(books: Books) -> None:
    books.earn("c1", "o-1", "100.00", "2026-03-01T10:00:00")
    refund_blind(books, "rf-1", "50.50", "2026-03-05T10:00:00")
    refund_blind(books, "rf-2", "50.50", "2026-03-05T10:00:01")
    result = reconcile(books)
    assert "order_refunds" in failing(result), result.checks
    assert result.check("order_refunds").offending == ("order o-1 of customers c1: 101.00 USD refunded of 100.00 USD",)
    assert reconcile(books, "2026-03-05T10:00:00").check("order_refunds").status == "pass"


def test_a_refund_dated_before_its_order_fails(books: Books) -> None:
    books.earn("c1", "o-1", "100.00", "2026-03-01T10:00:00")
    refund_blind(books, "rf-1", "100.00", "2026-02-20T10:00:00")
    result = reconcile(books)
    broken = failing(result)
    assert {"refunds_after_orders", "negative_at_any_instant"} <= broken, result.checks
    refund_id = books.ledger.find_by_reference("refund:rf-1").id  # type: ignore[union-attr]
    earn_id = books.ledger.find_by_reference("earn:o-1").id  # type: ignore[union-attr]
    assert result.check("refunds_after_orders").offending == (
        f"refund rf-1 (#{refund_id}) at 2026-02-20T10:00:00Z is dated before order o-1 (earn #{earn_id} at 2026-03-01T10:00:00Z)",
    )
    # Between the refund and the order, the order's qualifying points were negative (the points
    # themselves came from the clawback account, which this blind plan read as the only source).
    negative = [line.split(" ")[0] for line in result.check("negative_at_any_instant").offending]
    assert negative == ["customers:c1:qualifying:20260301"]


def test_a_history_made_by_the_programme_reconciles(ledger_url: str, ledger_name: str) -> None:
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as client:
        program = programme(client, clock=lambda: NOW, pending_days=0)
        for i in range(4):  # the fourth app order finds the campaign's 450 used up
            program.earn(EarnCommand(customer="c1", order_id=f"o-{i}", amount=usd("10.00"),
                                     ordered_at=at(f"2026-11-24T10:0{i}:00"), channel="app", category="general"))
        program.engage("c1", "sign_up", "s-1", at("2026-11-24T11:00:00"))
        program.engage("c1", "app_login", "l-1", at("2026-11-24T11:00:00"))
        program.redeem(RedeemCommand(customer="c1", redemption_id="r-1", points=600, at=at("2026-11-25T10:00:00")))
        program.refund(RefundCommand(customer="c1", order_id="o-0", refund_id="rf-1", amount=usd("6.00"), at=at("2026-11-26T10:00:00")))
        program.refund(RefundCommand(customer="c1", order_id="o-0", refund_id="rf-2", amount=usd("4.00"), at=at("2026-11-26T11:00:00")))
        service = FinanceReports(client, program.chart, clock=lambda: NOW, rules=program.rules)
        result = service.reconcile()
        assert result.ok, [c for c in result.checks if c.status != "pass"]
        assert {c.status for c in result.checks} == {"pass"}
        assert result.check("engagement_limits").detail.startswith("2 award(s) counted")
        assert result.check("order_refunds").detail == "2 refund(s) of 1 order(s) summed against 4 earned order(s)"
        assert "1 customer-campaign usage(s)" in result.check("campaign_caps").detail
        code, body = cli_reconcile(ledger_url, ledger_name)
        assert code == 0 and body["ok"] is True, body
