"""Partner statement: worked examples to the cent (rounding lines included), other movements, the tie, the reads.

Skyway's terms in the repository's chart: out 3 PTS and 0.0125 USD per mile,
in 2 PTS and 0.0080 USD per mile; settlement amounts rounded half_even to
the cent. Amounts on the settlement account are in cents (USD/2); negative
means we owe the partner.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, chart_with, earn, programme

from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import ExchangeInCommand, ExchangeOutCommand
from loyalty_accounts.operations.exchange import settlement_amount
from loyalty_accounts.reports import FinanceReports, partner_statement
from loyalty_accounts.reports.partner_statement import read_partner_statement
from loyalty_accounts.types import PostedTransaction, Posting

UTC = timezone.utc
SETTLEMENT = "partners:skyway:settlement"
COST, REVENUE = "program:exchange:cost", "program:exchange:revenue"
START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)


def day(n: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, n, hour, tzinfo=UTC)


def exchange(tx_id: int, direction: str, miles: int, cents: int, when: datetime, *, price: str | None = None, **meta: str) -> PostedTransaction:
    """An exchange as the plans write it, reduced to its settlement leg and its metadata."""

    out = direction == "out"
    metadata = {
        "operation": f"exchange_{direction}",
        "customer": "c1",
        "exchange_id": f"x-{tx_id}",
        "partner": "skyway",
        "points": str(miles * (3 if out else 2)),
        "partner_points": str(miles),
        "partner_asset": "SKYMILES",
        "settlement": str(Decimal(cents).scaleb(-2)),
        "currency": "USD",
        **meta,
    }
    if price is not None:
        metadata["price_per_partner_point"] = price
    leg = Posting(source=SETTLEMENT, destination=COST, amount=cents, asset="USD/2") if out else Posting(
        source=REVENUE, destination=SETTLEMENT, amount=cents, asset="USD/2"
    )
    return PostedTransaction(id=tx_id, timestamp=when, postings=(leg,), metadata=metadata, reference=f"exchange_{direction}:x-{tx_id}")


def statement(transactions: list[PostedTransaction], *, opening: int, closing: int, chart: Any = None, **kwargs: Any):
    return partner_statement(
        chart=chart or load_chart(),
        partner="skyway",
        start=START,
        end=END,
        opening=opening,
        closing=closing,
        transactions=transactions,
        **kwargs,
    )


def test_the_charts_half_even_rounding_of_small_exchanges() -> None:
    chart = load_chart()
    out, inbound = Decimal("0.0125"), Decimal("0.0080")
    # 1 mile out: 0.0125 is below the half cent, every rule but ceiling gives 0.01.
    assert settlement_amount(chart, 1, out) == Decimal("0.01")
    # 2 miles: 0.025, exactly half a cent over 0.02: half_even keeps the even 0.02 (half_up would give 0.03).
    assert settlement_amount(chart, 2, out) == Decimal("0.02")
    # 6 miles: 0.075, half a cent over 0.07: half_even goes to the even 0.08.
    assert settlement_amount(chart, 6, out) == Decimal("0.08")
    # 1 mile in: 0.008 rounds up to 0.01.
    assert settlement_amount(chart, 1, inbound) == Decimal("0.01")
    assert settlement_amount(chart_with(settlement_rounding="half_up"), 2, out) == Decimal("0.03")


def test_one_mile_settles_a_cent_with_a_rounding_line() -> None:
    one = statement([exchange(11, "out", 1, 1, day(2), price="0.0125")], opening=0, closing=-1)
    (line,) = one.lines
    assert line.exchange is not None
    assert (line.exchange.rate, line.exchange.exact, line.exchange.settled) == (Decimal("0.0125"), Decimal("0.0125"), Decimal("0.01"))
    assert line.exchange.rounding == Decimal("-0.0025")
    assert (line.movement, line.balance) == (Decimal("-0.01"), Decimal("-0.01"))
    assert one.ties and one.ok and (one.position, one.net_amount) == ("payable", Decimal("0.01"))


def test_the_worked_month() -> None:
    """Opening -1.00; three out, two in, a payment posted by hand, a revert of the 2-mile exchange.

    movements: -0.01 -0.02 -0.08 +0.01 +0.04 +0.50 +0.02 = +0.46; closing -1.00 + 0.46 = -0.54.
    out: 9 miles, exact 0.0125 + 0.0250 + 0.0750 = 0.1125, settled 0.11, rounding -0.0025 - 0.0050 + 0.0050 = -0.0025.
    in: 6 miles, exact 0.0080 + 0.0400 = 0.0480, settled 0.05, rounding +0.0020.
    """

    payment = PostedTransaction(
        id=16, timestamp=day(20), reference="pay-1", postings=(Posting(source="world", destination=SETTLEMENT, amount=50, asset="USD/2"),)
    )
    revert = PostedTransaction(
        id=17,
        timestamp=day(25),
        postings=(Posting(source=COST, destination=SETTLEMENT, amount=2, asset="USD/2"),),
        metadata={"com.formance.spec/state/reverts": "12"},
    )
    txs = [
        exchange(11, "out", 1, 1, day(2), price="0.0125"),
        exchange(12, "out", 2, 2, day(3), price="0.0125"),
        exchange(13, "out", 6, 8, day(4), price="0.0125"),
        exchange(14, "in", 1, 1, day(5), price="0.0080"),
        exchange(15, "in", 5, 4, day(6), price="0.0080"),
        payment,
        revert,
    ]
    s = statement(list(reversed(txs)), opening=-100, closing=-54)  # any order: lines are by date
    assert [(l.transaction_id, l.kind, l.operation, l.business_key, l.movement, l.balance) for l in s.lines] == [
        (11, "exchange", "exchange_out", "x-11", Decimal("-0.01"), Decimal("-1.01")),
        (12, "exchange", "exchange_out", "x-12", Decimal("-0.02"), Decimal("-1.03")),
        (13, "exchange", "exchange_out", "x-13", Decimal("-0.08"), Decimal("-1.11")),
        (14, "exchange", "exchange_in", "x-14", Decimal("0.01"), Decimal("-1.10")),
        (15, "exchange", "exchange_in", "x-15", Decimal("0.04"), Decimal("-1.06")),
        (16, "other", "(none)", "pay-1", Decimal("0.50"), Decimal("-0.56")),
        (17, "revert", "revert of exchange_out", "#12 x-12", Decimal("0.02"), Decimal("-0.54")),
    ]
    assert [l.exchange.rounding for l in s.lines if l.exchange] == [
        Decimal("-0.0025"), Decimal("-0.0050"), Decimal("0.0050"), Decimal("0.0020"), Decimal("0.0000")
    ]
    assert s.lines[1].reverted_by == 17 and s.lines[0].reverted_by is None and s.lines[6].reverts == 12
    out, inbound = s.totals("out"), s.totals("in")
    assert (out.exchanges, out.points, out.partner_points) == (3, 27, 9)
    assert (out.exact, out.settled, out.rounding, out.movement) == (Decimal("0.1125"), Decimal("0.11"), Decimal("-0.0025"), Decimal("-0.11"))
    assert (inbound.exchanges, inbound.points, inbound.partner_points) == (2, 12, 6)
    assert (inbound.exact, inbound.settled, inbound.rounding, inbound.movement) == (Decimal("0.048"), Decimal("0.05"), Decimal("0.002"), Decimal("0.05"))
    assert s.other_movements == Decimal("0.52")
    assert s.rounding_on_balance == Decimal("0.0045")  # 0.0020 - (-0.0025): in the programme's favour
    assert (s.opening, s.closing, s.ledger_closing, s.difference) == (Decimal("-1.00"), Decimal("-0.54"), Decimal("-0.54"), 0)
    assert s.ties and s.ok and (s.position, s.net_amount) == ("payable", Decimal("0.54"))


def test_a_closing_the_movements_do_not_explain_is_a_difference() -> None:
    s = statement([exchange(11, "in", 100, 80, day(2), price="0.0080")], opening=0, closing=90)
    assert (s.closing, s.ledger_closing, s.difference) == (Decimal("0.80"), Decimal("0.90"), Decimal("0.10"))
    assert not s.ties and not s.ok
    assert (s.position, s.net_amount) == ("receivable", Decimal("0.90"))


def test_the_rate_an_exchange_recorded_wins_over_the_charts_and_an_unrecorded_one_is_checked_against_it() -> None:
    # Recorded at 0.0100 (older terms): 40 miles settle 0.40 exactly, on terms although the chart now says 0.0125.
    older = exchange(11, "out", 40, 40, day(2), price="0.0100")
    # None recorded: the chart's 0.0125 × 40 = 0.50, but 0.40 was settled: off terms, shown, not ok.
    unrecorded = exchange(12, "out", 40, 40, day(3))
    s = statement([older, unrecorded], opening=0, closing=-80)
    first, second = (line.exchange for line in s.lines)
    assert first is not None and second is not None
    assert (first.rate, first.rate_recorded, first.exact, first.rounding, first.on_terms) == (
        Decimal("0.0100"), True, Decimal("0.4000"), Decimal("0.0000"), True
    )
    assert (second.rate, second.rate_recorded, second.expected, second.rounding, second.on_terms) == (
        Decimal("0.0125"), False, Decimal("0.50"), Decimal("-0.1000"), False
    )
    assert s.ties and not s.ok and [line.transaction_id for line in s.off_terms] == [12]


def test_the_charts_rounding_rule_decides_what_is_on_terms() -> None:
    one_mile = [exchange(11, "out", 1, 1, day(2), price="0.0125")]
    assert statement(one_mile, opening=0, closing=-1).ok
    ceiling = statement(one_mile, opening=0, closing=-1, chart=chart_with(settlement_rounding="ceiling"))
    assert ceiling.lines[0].exchange is not None and ceiling.lines[0].exchange.expected == Decimal("0.02")
    assert ceiling.ties and not ceiling.ok


def test_other_partners_exchanges_and_unreadable_metadata_are_other_movements() -> None:
    foreign = exchange(11, "out", 4, 5, day(2), price="0.0125")
    foreign = foreign.model_copy(update={"metadata": {**foreign.metadata, "partner": "railco"}})
    garbled = exchange(12, "in", 10, 8, day(3), price="0.0080")
    garbled = garbled.model_copy(update={"metadata": {**garbled.metadata, "partner_points": "ten"}})
    untouched = PostedTransaction(
        id=13, timestamp=day(4), postings=(Posting(source="world", destination=COST, amount=7, asset="USD/2"),), metadata={"operation": "x"}
    )
    s = statement([foreign, garbled, untouched], opening=0, closing=3)
    assert [(l.transaction_id, l.kind, l.operation, l.movement) for l in s.lines] == [
        (11, "other", "exchange_out", Decimal("-0.05")),
        (12, "other", "exchange_in", Decimal("0.08")),
    ]
    assert s.other_movements == Decimal("0.03") and s.ties and s.totals("out").exchanges == 0


def test_a_revert_of_an_exchange_before_the_window_names_it() -> None:
    original = exchange(5, "in", 100, 80, datetime(2026, 2, 1, tzinfo=UTC), price="0.0080")
    revert = PostedTransaction(
        id=20,
        timestamp=day(10),
        postings=(Posting(source=SETTLEMENT, destination=REVENUE, amount=80, asset="USD/2"),),
        metadata={"com.formance.spec/state/reverts": "5"},
    )
    s = statement([revert], opening=80, closing=0, originals={5: original})
    (line,) = s.lines
    assert (line.kind, line.operation, line.business_key, line.movement) == ("revert", "revert of exchange_in", "#5 x-5", Decimal("-0.80"))
    assert s.ties and s.position == "settled" and s.net_amount == 0


class Untouchable:
    """A ledger port that must not be read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ledger was read: {name}")


def test_an_unknown_partner_is_refused_before_anything_is_read() -> None:
    with pytest.raises(InvalidCommand, match=r"unknown partner 'railco' \(declared: cityrail, skyway\)"):
        read_partner_statement(Untouchable(), load_chart(), "railco", None, None, clock=lambda: END)  # type: ignore[arg-type]


def test_a_reversed_window_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="must start before it ends"):
        read_partner_statement(Untouchable(), load_chart(), "skyway", END, START, clock=lambda: END)  # type: ignore[arg-type]


def test_the_service_on_posted_exchanges_ties_to_the_account_at_both_ends() -> None:
    """Exchanges posted by the programme (one back-dated into the window, one before it), a revert, the window in between."""

    ledger = FakeLedger(clock=lambda: T0 + timedelta(days=60))
    program = programme(ledger, pending_days=0, clock=lambda: T0 + timedelta(days=60))
    program.earn(earn("c1", "o-1", "500.00"))
    posted = {}
    for key, miles, direction, days in (("a", 40, "out", 1), ("b", 1, "out", 10), ("c", 1, "in", 12), ("d", 2, "out", 20), ("e", 100, "in", 40)):
        command_type = ExchangeOutCommand if direction == "out" else ExchangeInCommand
        command = command_type(customer="c1", exchange_id=key, partner="skyway", partner_points=miles, at=T0 + timedelta(days=days))
        posted[key] = (program.exchange_out if direction == "out" else program.exchange_in)(command).transactions[0]
    # Posted last, dated in the window (back-dated): 6 miles out settle 0.08 (0.075, half_even).
    late = ExchangeOutCommand(customer="c1", exchange_id="f", partner="skyway", partner_points=6, at=T0 + timedelta(days=15))
    posted["f"] = program.exchange_out(late).transactions[0]
    reversal = ledger.revert(posted["c"].id, schema_version=program.schema_version)  # dated now: T0 + 60 days
    start, end = T0 + timedelta(days=5), T0 + timedelta(days=30)
    s = FinanceReports(ledger, program.chart).partner_statement("skyway", start, end)
    assert [line.business_key for line in s.lines] == ["b", "c", "f", "d"]
    # opening: a, 40 miles out = -0.50; b -0.01, c +0.01, f -0.08, d -0.02: closing -0.60.
    assert (s.opening, s.closing) == (Decimal("-0.50"), Decimal("-0.60"))
    assert s.ledger_closing == Decimal(ledger.aggregate_balances(SETTLEMENT, pit=end)["USD/2"]).scaleb(-2) == Decimal("-0.60")
    assert s.opening == Decimal(ledger.aggregate_balances(SETTLEMENT, pit=start)["USD/2"]).scaleb(-2)
    assert s.ties and s.ok and s.rounding_on_balance == Decimal("0.0045")  # in +0.0020 less out (-0.0025 - 0.0050 + 0.0050)
    assert all(line.exchange and line.exchange.rate_recorded for line in s.lines)
    # The revert (dated after the window) is in the next one, as a revert of c.
    after = FinanceReports(ledger, program.chart).partner_statement("skyway", end, T0 + timedelta(days=60))
    assert [(line.kind, line.business_key, line.movement) for line in after.lines] == [
        ("exchange", "e", Decimal("0.80")),
        ("revert", f"#{posted['c'].id} c", Decimal("-0.01")),
    ]
    assert after.lines[1].transaction_id == reversal.id and after.ties and after.closing == Decimal("0.19")
    assert after.position == "receivable" and after.net_amount == Decimal("0.19")
