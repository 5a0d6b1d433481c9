"""The journal: the chart's GL mapping, entries worked by hand, deterministic text, and both checkers passing on it."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from support.fake_ledger import FakeLedger
from support.gl_tools import bean_check, hledger_check
from support.programme import programme
from support.report_books import ROOT

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.demo import run_demo
from loyalty_accounts.errors import ChartError, InvalidCommand
from loyalty_accounts.operations import OPERATIONS
from loyalty_accounts.reports import FinanceReports, Journal, render_journal
from loyalty_accounts.reports.journal import journal
from loyalty_accounts.types import AccountState, PostedTransaction, Posting, Volume

UTC = timezone.utc
CHART_TEXT = (ROOT / "chart_of_accounts.yaml").read_text()
CONTRACT = ("Liabilities:Loyalty:ContractLiability:Current", "Liabilities:Loyalty:ContractLiability:NonCurrent")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def tx(tx_id: int, when: str, operation: str, reference: str, *postings: tuple[str, str, int, str], **meta: str) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        reference=reference,
        timestamp=at(when),
        postings=tuple(Posting(source=s, destination=d, amount=a, asset=asset) for s, d, a, asset in postings),
        metadata={"operation": operation, **meta},
    )


def held(address: str, asset: str, balance: int) -> AccountState:
    volume = Volume(input=balance, output=0) if balance >= 0 else Volume(input=0, output=-balance)
    return AccountState(address=address, volumes={asset: volume})


@pytest.fixture(scope="module")
def chart() -> Chart:
    return load_chart(ROOT / "chart_of_accounts.yaml")


def small(chart: Chart) -> Journal:
    """January 2026, by hand (1 PTS = 0.01 USD; a 1-mile exchange costs 0.0125 → 1 cent as posted):

    opening: c1 holds 500 points in bucket 20261201 (current), 300 in noexpiry (non-current) → -8.00 USD,
             against the opening equity (the 8.00 of earlier goods revenue is closed into it)
    01-05 earn 1000 → pending 20270105 (current: expires within 365 days of 01-31)      Dr Goods 10.00
    01-20 redeem 250 from 20261201                                                      Cr Redemption 2.50
    01-25 exchange_out 300 PTS for 100 miles, settlement 125 cents owed to the partner  Dr Cost 1.25, Cr Payables 1.25
    01-28 convert 200 points into 2.00 of store credit                                  Cr StoreCredit 2.00
    closing: current 500 - 250 - 200 + 1000 = 1050 → -10.50; non-current 300 - 300 = 0; store credit -2.00
    """

    opening = [held("customers:c1:points:20261201", "PTS", 500), held("customers:c1:points:noexpiry", "PTS", 300),
               held("program:points:issued:0", "PTS", -800)]
    txs = [
        tx(7, "2026-01-20T09:00:00", "redeem", "redeem:r-1", ("customers:c1:points:20261201", "program:points:redeemed", 250, "PTS")),
        tx(5, "2026-01-05T10:00:00", "earn", "earn:o-1",
           ("program:points:issued:3", "customers:c1:pending:20260119:20270105", 1000, "PTS"),
           ("program:tiers:qualifying", "customers:c1:qualifying:20260105", 1000, "QPTS")),
        tx(8, "2026-01-25T12:00:00", "exchange_out", "exchange:x-1",
           ("customers:c1:points:noexpiry", "partners:skyway:exchanged", 300, "PTS"),
           ("partners:skyway:issued", "partners:skyway:delivered", 100, "SKYMILES"),
           ("partners:skyway:settlement", "program:exchange:cost", 125, "USD/2")),
        tx(9, "2026-01-28T08:00:00", "convert", "convert:v-1",
           ("customers:c1:points:20261201", "program:points:converted", 200, "PTS"),
           ("program:credit:issued", "customers:c1:credit", 200, "USD/2")),
    ]
    closing = [held("customers:c1:points:20261201", "PTS", 50), held("customers:c1:pending:20260119:20270105", "PTS", 1000),
               held("customers:c1:credit", "USD/2", 200)]
    return journal(chart=chart, start=at("2025-12-31T23:59:59.999999"), end=at("2026-01-31T23:59:59.999999"),
                   opening=opening, transactions=txs, closing=closing)


HLEDGER_ENTRIES = """\
2026-01-01 * opening | balances at 2025-12-31T23:59:59.999999+00:00
    Equity:Loyalty:OpeningBalances                              8.00 USD
    Liabilities:Loyalty:ContractLiability:Current              -5.00 USD
    Liabilities:Loyalty:ContractLiability:NonCurrent           -3.00 USD

2026-01-05 * earn | earn:o-1  ; ledger-tx:5, timestamp:2026-01-05T10:00:00+00:00
    Income:Sales:Goods                                         10.00 USD
    Liabilities:Loyalty:ContractLiability:Current             -10.00 USD

2026-01-20 * redeem | redeem:r-1  ; ledger-tx:7, timestamp:2026-01-20T09:00:00+00:00
    Income:Loyalty:Redemption                                  -2.50 USD
    Liabilities:Loyalty:ContractLiability:Current               2.50 USD

2026-01-25 * exchange_out | exchange:x-1  ; ledger-tx:8, timestamp:2026-01-25T12:00:00+00:00
    Expenses:Loyalty:PartnerExchange                            1.25 USD
    Income:Loyalty:PartnerExchange                             -3.00 USD
    Liabilities:Loyalty:ContractLiability:NonCurrent            3.00 USD
    Liabilities:Loyalty:PartnerPayables                        -1.25 USD

2026-01-28 * convert | convert:v-1  ; ledger-tx:9, timestamp:2026-01-28T08:00:00+00:00
    Liabilities:Loyalty:ContractLiability:Current               2.00 USD
    Liabilities:Loyalty:StoreCredit                            -2.00 USD

2026-01-31 * closing | balances at 2026-01-31T23:59:59.999999+00:00
    Liabilities:Loyalty:ContractLiability:Current                  0 USD = -10.50 USD
    Liabilities:Loyalty:ContractLiability:NonCurrent               0 USD = 0.00 USD
    Liabilities:Loyalty:StoreCredit                                0 USD = -2.00 USD
"""


def test_a_month_worked_by_hand(chart: Chart) -> None:
    j = small(chart)
    lines = {(e.transaction_ids, l.account): l.amount for e in j.entries for l in e.lines}
    assert lines == {
        ((5,), "Income:Sales:Goods"): Decimal("10.00"),
        ((5,), "Liabilities:Loyalty:ContractLiability:Current"): Decimal("-10.00"),
        ((7,), "Liabilities:Loyalty:ContractLiability:Current"): Decimal("2.50"),
        ((7,), "Income:Loyalty:Redemption"): Decimal("-2.50"),
        ((8,), "Liabilities:Loyalty:ContractLiability:NonCurrent"): Decimal("3.00"),
        ((8,), "Income:Loyalty:PartnerExchange"): Decimal("-3.00"),
        ((8,), "Expenses:Loyalty:PartnerExchange"): Decimal("1.25"),
        ((8,), "Liabilities:Loyalty:PartnerPayables"): Decimal("-1.25"),
        ((9,), "Liabilities:Loyalty:ContractLiability:Current"): Decimal("2.00"),
        ((9,), "Liabilities:Loyalty:StoreCredit"): Decimal("-2.00"),
    }  # convert: the points' 2.00 credit and the credit's 2.00 debit on Redemption net to nothing
    assert [e.transaction_ids for e in j.entries] == [(5,), (7,), (8,), (9,)]
    assert {l.account: l.amount for l in j.opening} == {
        "Liabilities:Loyalty:ContractLiability:Current": Decimal("-5.00"),
        "Liabilities:Loyalty:ContractLiability:NonCurrent": Decimal("-3.00"),
        # Earlier income is closed: it opens inside the opening equity, not in Income:Sales:Goods.
        "Equity:Loyalty:OpeningBalances": Decimal("8.00"),
    }
    assert {l.account: l.amount for l in j.closing} == {
        "Liabilities:Loyalty:ContractLiability:Current": Decimal("-10.50"),
        "Liabilities:Loyalty:ContractLiability:NonCurrent": Decimal("0.00"),
        "Liabilities:Loyalty:StoreCredit": Decimal("-2.00"),
    }
    assert all(j.balance(l.account) == l.amount for l in j.closing)


def test_the_month_as_hledger_text_exactly(chart: Chart) -> None:
    text = render_journal(small(chart), "hledger")
    assert text.endswith(HLEDGER_ENTRIES)
    assert "account Liabilities:Loyalty:PartnerPayables\n" in text and "commodity 1000.00 USD\n" in text


def test_the_month_in_beancount_links_each_entry_and_asserts_on_the_next_day(chart: Chart) -> None:
    text = render_journal(small(chart), "beancount")
    assert '2026-01-25 * "exchange_out" "exchange:x-1" ^ledger-tx-8\n  ledger_tx: "8"\n' in text
    assert [line.split() for line in text.splitlines()[-3:]] == [
        ["2026-02-01", "balance", "Liabilities:Loyalty:ContractLiability:Current", "-10.50", "~", "0", "USD"],
        ["2026-02-01", "balance", "Liabilities:Loyalty:ContractLiability:NonCurrent", "0.00", "~", "0", "USD"],
        ["2026-02-01", "balance", "Liabilities:Loyalty:StoreCredit", "-2.00", "~", "0", "USD"],
    ]


def test_the_month_as_csv(chart: Chart) -> None:
    rows = render_journal(small(chart), "csv").splitlines()
    assert rows[0] == "row,date,timestamp,ledger_tx,operation,reference,account,amount,currency"
    assert "entry,2026-01-05,2026-01-05T10:00:00+00:00,5,earn,earn:o-1,Income:Sales:Goods,10.00,USD" in rows
    assert rows[-1] == "balance,2026-01-31,2026-01-31T23:59:59.999999+00:00,,,,Liabilities:Loyalty:StoreCredit,-2.00,USD"


def test_the_checkers_pass_the_month_and_catch_a_wrong_assertion(chart: Chart, tmp_path: Path) -> None:
    j = small(chart)
    good_bean, good_hl = tmp_path / "good.beancount", tmp_path / "good.journal"
    good_bean.write_text(render_journal(j, "beancount"))
    good_hl.write_text(render_journal(j, "hledger"))
    assert bean_check(good_bean).returncode == 0
    assert hledger_check(good_hl).returncode == 0
    wrong = j.model_copy(update={"closing": (j.closing[0].model_copy(update={"amount": Decimal("-10.49")}), *j.closing[1:])})
    bad_bean, bad_hl = tmp_path / "bad.beancount", tmp_path / "bad.journal"
    bad_bean.write_text(render_journal(wrong, "beancount"))
    bad_hl.write_text(render_journal(wrong, "hledger"))
    assert bean_check(bad_bean).returncode != 0
    assert hledger_check(bad_hl).returncode != 0


def test_same_input_same_bytes_whatever_the_order_read(chart: Chart) -> None:
    j = small(chart)
    shuffled = list(j.entries)
    ledger = FakeLedger()
    program = programme(ledger)
    run_demo(program)
    first, last = min(t.timestamp for t in ledger.txs) - timedelta(days=1), max(t.timestamp for t in ledger.txs)
    reports = FinanceReports(ledger, program.chart)
    texts = {fmt: render_journal(reports.journal(first, last), fmt) for fmt in ("beancount", "hledger", "csv")}
    again = {fmt: render_journal(reports.journal(first, last), fmt) for fmt in ("beancount", "hledger", "csv")}
    assert texts == again
    txs = list(ledger.transactions(start=first, end=last + timedelta(microseconds=1)))
    random.Random(7).shuffle(txs)
    mixed = journal(chart=program.chart, start=first, end=last, opening=[], transactions=txs,
                    closing=list(ledger.accounts("customers:...", pit=last)))
    assert mixed.entries == reports.journal(first, last).entries
    assert shuffled == list(j.entries)


def test_the_demo_year_passes_both_checkers_and_ties_to_the_liability(tmp_path: Path) -> None:
    ledger = FakeLedger()
    program = programme(ledger)
    run_demo(program)
    stamps = sorted(t.timestamp for t in ledger.txs)
    reports = FinanceReports(ledger, program.chart)
    middle = stamps[len(stamps) // 2]
    for start, end in ((stamps[0] - timedelta(days=1), stamps[-1]), (middle, stamps[-1]), (stamps[0] - timedelta(days=1), middle)):
        j = reports.journal(start, end)
        (tmp_path / "j.beancount").write_text(render_journal(j, "beancount"))
        (tmp_path / "j.journal").write_text(render_journal(j, "hledger"))
        checked = bean_check(tmp_path / "j.beancount"), hledger_check(tmp_path / "j.journal")
        assert [c.returncode for c in checked] == [0, 0], [c.stdout + c.stderr for c in checked]
        contract = sum((l.amount for l in j.closing if l.account in CONTRACT), Decimal(0))
        assert contract == -reports.liability(end).total_value


def test_a_posting_across_gl_sides_is_refused(chart: Chart) -> None:
    crossing = tx(3, "2026-01-10T00:00:00", "adjust", "adjust:a-1", ("partners:skyway:settlement", "customers:c1:credit", 5, "USD/2"))
    with pytest.raises(InvalidCommand, match="crosses GL sides"):
        journal(chart=chart, start=at("2026-01-01T00:00:00"), end=at("2026-02-01T00:00:00"), opening=[], transactions=[crossing], closing=[])


def test_every_override_names_a_registered_operation(chart: Chart) -> None:
    assert chart.spec.general_ledger is not None
    assert set(chart.spec.general_ledger.operations) <= set(OPERATIONS)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('    points_expired: {account: "Income:Loyalty:Breakage"}\n', "", "account kind 'points_expired' holds points or money: map it"),
        ('customer_hold: {account: "Liabilities:Loyalty:ContractLiability:Current"}',
         'customer_hold: {account: "Liabilities:Loyalty:ContractLiability:Current", non_current: "Liabilities:X"}',
         "only kinds with an {expiry} segment"),
        ('      partner_settlement: "Liabilities:Loyalty:PartnerPayables"', '      partner_nowhere: "Liabilities:Loyalty:PartnerPayables"',
         "'partner_nowhere' is not a mapped account kind"),
        ('point_value: "0.01"', 'point_value: "0.005"', "finer than USD/2"),
        ('points_redeemed: {account: "Income:Loyalty:Redemption"}', 'points_redeemed: {account: "income:redemption"}', "general_ledger"),
    ],
)
def test_the_chart_loader_refuses_a_bad_general_ledger_section(old: str, new: str, message: str) -> None:
    assert old in CHART_TEXT
    with pytest.raises(ChartError) as caught:
        Chart.from_yaml(CHART_TEXT.replace(old, new), source="chart.yaml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value).strip() or "general_ledger" in str(caught.value)


def test_a_chart_without_the_section_cannot_write_a_journal(chart: Chart) -> None:
    bare = Chart.from_yaml(CHART_TEXT[: CHART_TEXT.index("general_ledger:")], source="bare.yaml")
    with pytest.raises(InvalidCommand, match="no general_ledger section"):
        journal(chart=bare, start=at("2026-01-01T00:00:00"), end=at("2026-02-01T00:00:00"), opening=[], transactions=[], closing=[])
