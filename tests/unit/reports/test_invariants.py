"""Invariants over the whole history: synthetic histories that break each one and ones that do not, then through reconcile."""

from __future__ import annotations

from datetime import datetime

from support.finance_books import at
from support.report_books import AS_OF, FakeBooks, acct, reports

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import RedeemCommand, redeem
from loyalty_accounts.reports import liability_statement
from loyalty_accounts.reports.check import SHOWN
from loyalty_accounts.reports.invariants import (
    Moment,
    balance_ranges,
    check_clawback_never_positive,
    check_liability_ties,
    check_never_negative,
    effective_order,
)
from loyalty_accounts.types import PostedTransaction, Posting

ISSUED = "program:points:issued:3"
BUCKET = "customers:c1:points:20270301"
REDEEMED = "program:points:redeemed"
CLAWBACK = "customers:c4:clawback"


def move(tx_id: int, when: str, *legs: tuple[str, str, int], asset: str = "PTS") -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=at(when),
        postings=tuple(Posting(source=s, destination=d, amount=a, asset=asset) for s, d, a in legs),
    )


# An earn of 100 on 03-01, then (posted later, id 2) a redeem of 60 dated 02-01: the bucket is -60 in February.
BACK_DATED = [
    move(1, "2026-03-01T10:00:00", (ISSUED, BUCKET, 100)),
    move(2, "2026-02-01T10:00:00", (BUCKET, REDEEMED, 60)),
]
# The same two, the redeem dated after the earn: never below zero.
IN_ORDER = [
    move(1, "2026-03-01T10:00:00", (ISSUED, BUCKET, 100)),
    move(2, "2026-03-02T10:00:00", (BUCKET, REDEEMED, 60)),
]


def test_effective_order_is_by_timestamp_then_id() -> None:
    same_instant = [move(7, "2026-03-01T10:00:00"), move(3, "2026-03-01T10:00:00"), move(9, "2026-01-01T00:00:00")]
    assert [tx.id for tx in effective_order(same_instant)] == [9, 3, 7]


def test_the_walk_sees_a_back_dated_redeem_leave_the_bucket_negative() -> None:
    bucket = balance_ranges(BACK_DATED)[(BUCKET, "PTS")]
    assert bucket.closing == 40
    assert bucket.first_below == Moment(at=at("2026-02-01T10:00:00"), tx=2, value=-60)
    assert bucket.lowest == bucket.first_below
    assert bucket.highest == Moment(at=at("2026-03-01T10:00:00"), tx=1, value=40)
    assert bucket.first_above == bucket.highest
    in_order = balance_ranges(IN_ORDER)[(BUCKET, "PTS")]
    assert (in_order.closing, in_order.first_below, in_order.lowest.value, in_order.highest.value) == (40, None, 40, 100)
    # The issuance shard is negative by design from its first move.
    assert balance_ranges(IN_ORDER)[(ISSUED, "PTS")].lowest.value == -100


def test_legs_of_one_transaction_count_once_by_their_sum() -> None:
    # Out of the bucket and back within one transaction: the balance never stood at -5.
    txs = [move(1, "2026-03-01T10:00:00", (BUCKET, REDEEMED, 5), (REDEEMED, BUCKET, 5))]
    bucket = balance_ranges(txs)[(BUCKET, "PTS")]
    assert (bucket.closing, bucket.first_below, bucket.lowest.value) == (0, None, 0)


def test_never_negative_fails_on_the_back_dated_redeem(chart: Chart) -> None:
    result = check_never_negative(chart=chart, ranges=balance_ranges(BACK_DATED), transactions=2)
    assert result.status == "fail" and result.count == 1
    assert result.offending == (
        "customers:c1:points:20270301 PTS: -60 at 2026-02-01T10:00:00Z (#2); lowest -60 at 2026-02-01T10:00:00Z (#2)",
    )
    assert "2 transaction(s) walked" in result.detail
    passed = check_never_negative(chart=chart, ranges=balance_ranges(IN_ORDER), transactions=2)
    assert passed.status == "pass" and passed.offending == () and passed.violations == 0


def test_never_negative_judges_by_chart_kind_and_every_asset(chart: Chart) -> None:
    txs = [
        move(1, "2026-01-01T00:00:00", ("customers:c4:points:20270101", CLAWBACK, 30)),  # clawback may be negative
        move(2, "2026-01-02T00:00:00", ("customers:c2:credit", "program:credit:issued", 150), asset="USD/2"),
        move(3, "2026-01-03T00:00:00", ("customers:c3:qualifying:20260103", "program:tiers:qualifying", 100), asset="QPTS"),
        move(4, "2026-01-04T00:00:00", ("stray:account", "world", 5)),  # outside the chart: not judged here
        move(5, "2026-01-05T00:00:00", (REDEEMED, "world", 1)),  # a programme account that may not go negative
    ]
    result = check_never_negative(chart=chart, ranges=balance_ranges(txs), transactions=len(txs))
    assert [line.split(" ")[0] for line in result.offending] == [
        "customers:c4:points:20270101",  # -30 on 01-01
        "customers:c2:credit",  # -150 USD/2 on 01-02
        "customers:c3:qualifying:20260103",  # -100 QPTS on 01-03
        "program:points:redeemed",  # -1 on 01-05
    ], result.offending
    assert result.count == 4
    assert "customers:c2:credit USD/2: -150 at 2026-01-02T00:00:00Z (#2)" in result.offending[1]
    assert "1 account(s) outside the chart not judged" in result.detail
    assert not any(CLAWBACK in line for line in result.offending)


def test_never_negative_lists_the_first_few_and_counts_them_all(chart: Chart) -> None:
    txs = [move(i, f"2026-01-{i:02d}T00:00:00", (f"customers:c{i}:points:20270101", ISSUED, 1)) for i in range(1, 9)]
    result = check_never_negative(chart=chart, ranges=balance_ranges(txs), transactions=len(txs))
    assert result.count == 8 == result.violations
    assert len(result.offending) == SHOWN
    assert [line.split(" ")[0] for line in result.offending] == [f"customers:c{i}:points:20270101" for i in range(1, SHOWN + 1)]


def test_the_walk_must_end_at_the_ledgers_balances(chart: Chart) -> None:
    ranges = balance_ranges(IN_ORDER)
    agreeing = check_never_negative(chart=chart, ranges=ranges, transactions=2, accounts=[acct(BUCKET, 40)])
    assert agreeing.status == "pass" and "1 customer account(s) tied" in agreeing.detail
    result = check_never_negative(chart=chart, ranges=ranges, transactions=2, accounts=[acct(BUCKET, 35), acct("customers:c9:points:noexpiry", 2)])
    assert result.status == "fail"
    assert result.offending == (
        "customers:c1:points:20270301 PTS: the ledger reads 35, the walk of its transactions ends at 40",
        "customers:c9:points:noexpiry PTS: the ledger reads 2, the walk of its transactions ends at 0",
    )


def test_clawback_never_positive(chart: Chart) -> None:
    debt = move(1, "2026-03-02T10:00:00", (CLAWBACK, ISSUED, 50))
    # Two earns each repaying the whole debt of 50 (each planned as if it were the only one): +50 stranded.
    twice = [debt, move(2, "2026-03-05T10:00:00", (ISSUED, CLAWBACK, 50)), move(3, "2026-03-05T10:00:01", (ISSUED, CLAWBACK, 50))]
    result = check_clawback_never_positive(chart=chart, ranges=balance_ranges(twice))
    assert result.status == "fail" and result.count == 1
    assert result.offending == (
        "customers:c4:clawback PTS: +50 at 2026-03-05T10:00:01Z (#3); highest +50 at 2026-03-05T10:00:01Z (#3)",
    )
    once = check_clawback_never_positive(chart=chart, ranges=balance_ranges(twice[:2]))
    assert once.status == "pass" and "1 clawback account(s) walked" in once.detail
    # A bucket above zero is not a clawback account's business.
    assert check_clawback_never_positive(chart=chart, ranges=balance_ranges(IN_ORDER)).status == "pass"


def test_liability_ties_check(chart: Chart) -> None:
    accounts = [acct(BUCKET, 40), acct(CLAWBACK, -30)]
    by_kind = {"customer_points": 40, "customer_clawback": -30}
    tied = liability_statement(as_of=AS_OF, chart=chart, by_kind=by_kind, ledger_total=10, accounts=accounts)
    result = check_liability_ties(tied)
    assert tied.ties and result.status == "pass"
    assert result.detail == "liability by state 10, ledger aggregate over the customers 10, customer accounts listed 10 PTS"
    # The aggregate over the customers sees 60 more than the accounts listed one by one (a listing that missed one).
    broken = liability_statement(as_of=AS_OF, chart=chart, by_kind=by_kind, ledger_total=70, accounts=accounts)
    result = check_liability_ties(broken)
    assert not broken.ties and result.status == "fail"
    assert result.offending == ("liability 10 vs aggregate 70 vs listed 10 at 2026-05-01T00:00:00Z",)


def back_dated_redeem(chart: Chart, catalogue: Catalogue) -> FakeBooks:
    """Issue 10's example: 100 points earned 03-01 (released 03-16), 60 of them redeemed in a transaction dated 02-01."""

    books = FakeBooks(chart, catalogue)
    books.earn("c1", "o-1", "100.00", "2026-03-01T10:00:00")
    books.release("c1", "2026-03-16T02:00:00")
    # planned as the programme did before issue 10: on today's buckets, then dated in February
    command = RedeemCommand(customer="c1", redemption_id="r-1", points=60, at=at("2026-02-01T10:00:00"))
    books.post(redeem.plan(command, chart, catalogue, books.buckets("c1", "2026-04-01T00:00:00")))
    return books


def test_reconcile_now_fails_on_a_back_dated_redeem(chart: Chart, catalogue: Catalogue) -> None:
    books = back_dated_redeem(chart, catalogue)
    service = reports(books)
    now = service.reconcile()
    assert not now.ok
    # Today every balance is fine: only the walk over the history sees February.
    assert now.check("negative_balances").status == "pass"
    check = now.check("negative_at_any_instant")
    assert check.status == "fail" and check.count == 1
    assert check.offending[0].startswith("customers:c1:points:20270301 PTS: -60 at 2026-02-01T10:00:00Z")
    # As of 02-10 the liability ties and reconcile says why it is wrong: they agree.
    when = at("2026-02-10T00:00:00")
    assert service.liability(when).ties
    past = service.reconcile(when)
    assert past.check("liability_ties").status == "pass"
    assert {c.name for c in past.checks if c.status == "fail"} == {"negative_balances", "negative_at_any_instant"}


def test_reconcile_before_the_back_dated_redeem_passes(chart: Chart, catalogue: Catalogue) -> None:
    books = back_dated_redeem(chart, catalogue)
    # As of the last day of January nothing of this story had happened yet.
    assert reports(books).reconcile(datetime.fromisoformat("2026-01-31T00:00:00+00:00")).ok
