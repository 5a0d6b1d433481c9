"""Campaign usage as a balance of its own account, on the real server.

Each earn credits ``customers:{c}:campaigns:{id}`` (campaign asset) by what
every capped campaign charged it; the next earn reads those balances with the
guard (one listing, or none on the warm path) instead of listing the
customer's earlier earns. The cap stays exact under concurrency (the guard's
sequence leg), whatever the order earns are posted in, and on the import path.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.programme import chart_with, programme, usd

from loyalty_accounts.errors import LoyaltyError
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.rules import EarnBreakdown
from loyalty_accounts.testing.bench_wire import Recorder
from loyalty_accounts.testing.book import Entry, Leg
from loyalty_accounts.testing.model import Post, Programme

pytestmark = pytest.mark.integration

UTC = timezone.utc
BLACK_FRIDAY = datetime(2026, 11, 28, 12, tzinfo=UTC)
"""Inside bf-2026 (electronics x3, at most 2000 an order, 6000 per customer) and app-week-2026-11 (app: +150, 450)."""
BF, APP = "bf-2026", "app-week-2026-11"


def order(customer: str, order_id: str, amount: str, at: datetime, **fields: str) -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order_id, amount=usd(amount), ordered_at=at, **fields)


def usage(client: LedgerClient, customer: str, campaign: str) -> int:
    chart = chart_with(pending_days=0)
    return client.account(chart.campaign_usage(customer, campaign)).balance(chart.campaign_asset)


def charged(client: LedgerClient, customer: str, campaign: str) -> int:
    """What the customer's earns' breakdowns charged the campaign (what the cap was counted from before)."""

    return sum(
        EarnBreakdown.from_metadata(tx.metadata).campaign_charges().get(campaign, 0)
        for tx in client.transactions(metadata={"operation": "earn", "customer": customer})
    )


def test_usage_accounts_are_credited_exactly_what_each_capped_campaign_charged(client: LedgerClient) -> None:
    program = programme(client, pending_days=0)
    # Two capped campaigns on one order: electronics in the app on Black Friday.
    program.earn(order("c1", "o1", "800.00", BLACK_FRIDAY, category="electronics", channel="app"))
    program.earn(order("c1", "o2", "100.00", BLACK_FRIDAY + timedelta(hours=1), category="electronics", channel="app"))
    program.earn(order("c1", "o3", "50.00", BLACK_FRIDAY + timedelta(hours=2), category="books", channel="web"))
    chart = program.chart
    assert usage(client, "c1", BF) == charged(client, "c1", BF) > 0
    assert usage(client, "c1", APP) == charged(client, "c1", APP) == 300
    for campaign in (BF, APP):
        assert client.account(chart.campaign_charged(campaign)).balance(chart.campaign_asset) == -usage(client, "c1", campaign)
    # An order no capped campaign charged moves no usage account.
    books = client.find_by_reference("earn:o3")
    assert books is not None and not [p for p in books.postings if p.asset == chart.campaign_asset]


def test_an_earn_in_a_capped_campaign_is_one_request_on_the_warm_path(client: LedgerClient) -> None:
    program = programme(client, pending_days=0)
    program.earn(order("c1", "o1", "100.00", BLACK_FRIDAY, category="electronics"))
    with Recorder() as requests:
        requests.reset()
        program.earn(order("c1", "o2", "100.00", BLACK_FRIDAY + timedelta(hours=1), category="electronics", channel="app"))
        assert [s.method for s in requests.sent] == ["POST"]
        # Another process knows nothing: one listing of accounts (guard and usage together) and the post.
        other = programme(client, pending_days=0)
        requests.reset()
        other.earn(order("c1", "o3", "100.00", BLACK_FRIDAY + timedelta(hours=2), category="electronics", channel="app"))
        assert [s.method for s in requests.sent] == ["GET", "POST"]
        assert not [s for s in requests.sent if "/transactions" in s.path and s.method == "GET"]
    assert usage(client, "c1", BF) == charged(client, "c1", BF) > 0 and usage(client, "c1", APP) == 300


def test_the_cap_holds_when_earns_of_one_customer_race_from_separate_programmes(client: LedgerClient) -> None:
    """Four programmes (their own executors: nothing shared but the ledger) earn at once, twice each."""

    import threading
    from concurrent.futures import ThreadPoolExecutor

    programs = [programme(client, pending_days=0) for _ in range(4)]
    barrier = threading.Barrier(len(programs))

    def run(n: int) -> list[int]:
        barrier.wait()
        at = BLACK_FRIDAY + timedelta(minutes=n)
        return [
            programs[n].earn(order("c1", f"o{n}-{k}", "1000.00", at + timedelta(seconds=k), category="electronics")).points
            for k in range(2)
        ]

    with ThreadPoolExecutor(max_workers=len(programs)) as pool:
        points = [p for got in pool.map(run, range(len(programs))) for p in got]
    assert len(points) == 8
    assert usage(client, "c1", BF) == charged(client, "c1", BF) == 6000


def _earn_in_a_process(url: str, ledger: str, n: int, barrier: "multiprocessing.synchronize.Barrier") -> None:
    with LedgerClient(LedgerConnection(url=url, ledger=ledger)) as c:
        program = programme(c, pending_days=0)
        barrier.wait()
        for k in range(2):
            at = BLACK_FRIDAY + timedelta(minutes=n, seconds=k)
            program.earn(order("c1", f"p{n}-{k}", "10.00", at, channel="app"))


def test_the_cap_holds_when_earns_race_from_separate_processes(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    programme(client, pending_days=0)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    workers = [context.Process(target=_earn_in_a_process, args=(ledger_url, ledger_name, n, barrier)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    # Six app orders, a 150 bonus each until the 450 cap: three got it, whatever the interleaving.
    assert usage(client, "c1", APP) == charged(client, "c1", APP) == 450


def test_back_dated_earns_find_the_budget_used_later_in_the_campaign(client: LedgerClient) -> None:
    program = programme(client, pending_days=0)
    late = BLACK_FRIDAY + timedelta(days=1)
    for k in range(3):
        program.earn(order("c1", f"late-{k}", "1000.00", late + timedelta(minutes=k), category="electronics"))
    assert usage(client, "c1", BF) == 6000
    # Orders placed earlier in the campaign, posted afterwards: the cap is a budget over the campaign's life.
    early = program.earn(order("c1", "early", "1000.00", BLACK_FRIDAY - timedelta(days=1), category="electronics"))
    tx = client.find_by_reference("earn:early")
    assert tx is not None and EarnBreakdown.from_metadata(tx.metadata).campaign_charges().get(BF) == 0
    assert early.points == 1000
    assert usage(client, "c1", BF) == charged(client, "c1", BF) == 6000


def test_an_import_respects_the_caps_without_listing_earns(client: LedgerClient, tmp_path: Path) -> None:
    program = programme(client, pending_days=0)
    stamps = [(BLACK_FRIDAY + timedelta(minutes=i)).isoformat().replace("+00:00", "Z") for i in range(5)]
    rows = [f"c{i % 2},o{i},1500.00,USD,{stamps[i]},electronics,app" for i in range(5)]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(["customer,order_id,amount,currency,ordered_at,category,channel", *rows]) + "\n")
    with Recorder() as requests:
        summary = program.import_orders(path, chunk_size=2)
        sent = list(requests.sent)
    assert summary.posted == 5
    # No listing of earns by their metadata (what the usage was summed from before).
    assert not [s for s in sent if b"metadata[operation]" in s.content + s.query]
    assert usage(client, "c0", BF) == charged(client, "c0", BF) == 6000
    assert usage(client, "c1", BF) == charged(client, "c1", BF) == 4000
    assert usage(client, "c0", APP) == 450 and usage(client, "c1", APP) == 300


def test_the_oracle_agrees_with_the_server_on_capped_earns(client: LedgerClient) -> None:
    program = programme(client, pending_days=0)
    model = Programme(chart=program.chart, rules=program.rules)  # type: ignore[arg-type]
    commands = [
        order("c1", "a", "900.00", BLACK_FRIDAY, category="electronics", channel="app"),
        order("c1", "b", "700.00", BLACK_FRIDAY + timedelta(hours=3), category="fashion", channel="app"),
        order("c1", "c", "650.00", BLACK_FRIDAY - timedelta(hours=20), category="home", channel="app"),  # back-dated
        order("c1", "d", "20.00", BLACK_FRIDAY + timedelta(hours=4), channel="app"),
        order("c2", "e", "300.00", BLACK_FRIDAY, category="electronics"),
    ]
    for command in commands:
        decision = model.decide(command, datetime.now(UTC))
        assert isinstance(decision, Post), decision
        try:
            program.earn(command)
        except LoyaltyError as exc:  # pragma: no cover - the model says it posts
            pytest.fail(f"{command.order_id}: {exc}")
        tx = client.find_by_reference(command.reference())
        assert tx is not None
        entry = Entry(tx.id, tx.timestamp, tuple(Leg(p.source, p.destination, p.asset, p.amount) for p in tx.postings),
                      dict(tx.metadata), tx.reference)
        assert decision.check(entry) == [], command.order_id
        model.apply(entry, command)
    assert {k: v for k, v in model.usage.items() if k[1] in (BF, APP)} == {
        (customer, campaign): usage(client, customer, campaign) for customer, campaign in model.usage if campaign in (BF, APP)
    }


# -- ledgers with earns from before usage accounts: the catch-up -------------------------------------------------

UNCAPPED_APP_WEEK = ("    bonus: 150\n    cap_per_customer: 450\n  - id: winter-travel\n", "    bonus: 150\n  - id: winter-travel\n")
AFTER_APP_WEEK = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_the_catch_up_credits_earlier_charges_once_even_when_runs_race(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    import json
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from support.programme import rules_text
    from typer.testing import CliRunner

    from loyalty_accounts.cli import app as cli
    from loyalty_accounts.reports import FinanceReports

    app_week = datetime(2026, 11, 24, 10, tzinfo=UTC)  # app-week-2026-11: +150 an app order, at most 450 a customer
    clock = lambda: AFTER_APP_WEEK  # noqa: E731
    before = programme(client, rules=rules_text(UNCAPPED_APP_WEEK), clock=clock, pending_days=0)
    for customer in ("c1", "c2"):
        for i in range(2 if customer == "c1" else 1):  # charged while the campaign was not capped: nothing credited
            before.earn(order(customer, f"{customer}-o{i}", "10.00", app_week + timedelta(minutes=i), channel="app"))
    programs = [programme(client, clock=clock, pending_days=0) for _ in range(3)]
    chart = programs[0].chart
    assert not list(client.accounts(chart.campaign_usage_filter(None)))
    reports = FinanceReports(client, chart, clock=clock, rules=programs[0].rules)
    assert reports.reconcile().check("campaign_caps").status == "fail"  # the breakdowns charged what no account holds

    barrier = threading.Barrier(len(programs))

    def run(n: int) -> int:
        barrier.wait()
        return programs[n].catch_up_usage().posted

    with ThreadPoolExecutor(max_workers=len(programs)) as pool:
        posted = list(pool.map(run, range(len(programs))))
    # One transaction per customer and campaign, whichever run posted it; the others found nothing short.
    assert sum(posted) == 2, posted
    assert usage(client, "c1", APP) == charged(client, "c1", APP) == 300
    assert usage(client, "c2", APP) == charged(client, "c2", APP) == 150
    catch_ups = list(client.transactions(metadata={"operation": "usage_catch_up"}))
    assert sorted((tx.metadata["customer"], tx.metadata["charged"], tx.metadata["held"]) for tx in catch_ups) == [
        ("c1", "300", "0"),
        ("c2", "150", "0"),
    ]
    assert reports.reconcile().check("campaign_caps").status == "pass"
    # The CLI runs it again: nothing is short, nothing is posted.
    run_cli = CliRunner().invoke(cli, ["--ledger-url", ledger_url, "--ledger", ledger_name, "catch-up-usage", "-f", "json"])
    assert run_cli.exit_code == 0, run_cli.output
    assert json.loads(run_cli.stdout)["posted"] == 0
    # The cap now counts the earlier orders: c1 has 150 left, then none.
    later = programs[0]
    assert later.earn(order("c1", "c1-o2", "10.00", app_week + timedelta(minutes=5), channel="app")).points == 160
    assert later.earn(order("c1", "c1-o3", "10.00", app_week + timedelta(minutes=6), channel="app")).points == 10
    assert usage(client, "c1", APP) == 450
