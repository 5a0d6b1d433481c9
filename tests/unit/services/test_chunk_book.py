"""ChunkBook answers the single earn's reads exactly as the ledger does."""

from __future__ import annotations

from datetime import timedelta

from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme

from loyalty_accounts.services.chunk_book import ChunkBook, address_matches


def test_address_filters() -> None:
    assert address_matches("customers:c1:qualifying:20260101", "customers:c1:qualifying:")
    assert address_matches("customers:c1:sequence", "customers:c1:...")
    assert not address_matches("customers:c10:sequence", "customers:c1:...")
    assert not address_matches("customers:c1:qualifying:20260101:x", "customers:c1:qualifying:")


def test_reads_from_the_book_equal_the_ledgers() -> None:
    ledger = FakeLedger()
    program = programme(ledger)
    for day in (0, 2, 5, 9):
        program.earn(earn("c1", f"o{day}", f"{1000 + day}.00", at=T0 + timedelta(days=day)))
    program.earn(earn("c2", "x1", "50.00", at=T0 + timedelta(days=3)))
    chart = program.chart
    since = T0 + timedelta(days=4)
    book = ChunkBook(ledger, chart, ["c1", "c2"], since=since)

    requests = ledger.posts  # reads below must not post; and the held ones must equal the ledger's answers
    for end in (since - timedelta(microseconds=1), since + timedelta(days=2), T0 + timedelta(days=20)):
        mine = {r.account: r.balance for r in book.volumes(chart.qualifying_filter("c1"), end=end) if r.asset == chart.qualifying_asset}
        theirs = {r.account: r.balance for r in ledger.volumes(chart.qualifying_filter("c1"), end=end) if r.asset == chart.qualifying_asset}
        assert {a: b for a, b in mine.items() if b} == {a: b for a, b in theirs.items() if b}
    start = since + timedelta(days=1)
    assert [t.id for t in book.transactions(account=chart.customer_filter("c1"), start=start)] == [
        t.id for t in ledger.transactions(account=chart.customer_filter("c1"), start=start)
    ]
    wanted = {"operation": "earn", "customer": "c1"}
    assert [t.id for t in book.transactions(metadata=wanted, start=T0, end=T0 + timedelta(days=6))] == [
        t.id for t in ledger.transactions(metadata=wanted, start=T0, end=T0 + timedelta(days=6))
    ]
    assert list(book.accounts(chart.customer_filter("c2"))) == list(ledger.accounts(chart.customer_filter("c2")))
    # Campaign usage is an account of the customer's: the book holds it (no listing of earns).
    usage = chart.campaign_usage_filter("c1")
    assert list(book.accounts(usage)) == list(ledger.accounts(usage))
    assert book.account(chart.sequence("c1")) == ledger.account(chart.sequence("c1"))
    # Before what the book holds: the ledger answers.
    early = T0 + timedelta(days=1)
    assert [t.id for t in book.transactions(account=chart.customer_filter("c1"), start=early)] == [
        t.id for t in ledger.transactions(account=chart.customer_filter("c1"), start=early)
    ]
    assert ledger.posts == requests
