"""``import_orders`` / ``loyalty import`` on the real server: validation, exactly once, resume, same prices as ``earn``."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from support.programme import programme, usd

from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.services.order_file import read_orders

pytestmark = pytest.mark.integration

HEADER = "customer,order_id,amount,currency,ordered_at,category,channel"
# Black Friday 2026 (capped per customer) and the app week overlap here; big orders cross the silver threshold.
START = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)
CATEGORIES = ("electronics", "books", "fashion", "groceries", "gift_cards")
CHANNELS = ("app", "web", "store")


def order_lines(count: int, customers: int, *, tag: str) -> list[str]:
    """``count`` orders spread over ``customers``, several per customer, dated one after another."""

    lines = []
    for i in range(count):
        amount = f"{(i * 733) % 2900 + 5}.{i % 100:02d}"
        at = (START + timedelta(minutes=7 * i)).isoformat().replace("+00:00", "Z")
        category, channel = CATEGORIES[i % len(CATEGORIES)], CHANNELS[i % len(CHANNELS)]
        lines.append(f"{tag}c{i % customers},{tag}o{i},{amount},USD,{at},{category},{channel}")
    return lines


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def earns(program: LoyaltyProgram) -> dict[str, int]:
    """order id → points of every earn transaction on the ledger."""

    found = program.ledger.transactions(metadata={"operation": "earn"})
    return {tx.metadata["order_id"]: int(tx.metadata["points"]) for tx in found}


@pytest.fixture
def program(client: LedgerClient) -> LoyaltyProgram:
    return programme(client)


@pytest.fixture
def second(ledger_url: str) -> Iterator[LoyaltyProgram]:
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=f"t{uuid.uuid4().hex[:12]}")) as other:
        yield programme(other)
        assert all(v == 0 for v in other.aggregate_balances("").values())


def test_invalid_rows_are_named_and_nothing_is_posted_then_the_fixed_file_posts_once(
    program: LoyaltyProgram, tmp_path: Path
) -> None:
    good = order_lines(24, 6, tag="v")
    broken = list(good)
    broken[3] = broken[3].replace(",USD,", ",XXX,")  # line 5: a currency the chart does not accept
    broken[10] = broken[10].replace("vo10,", "vo2,")  # line 12: order id of line 4 again
    broken[17] = broken[17].split(",", 1)[0] + ",vo17,12.5.0,USD,2026-11-28T10:00:00Z,,"  # line 19: not an amount
    path = write(tmp_path / "orders.csv", broken)

    stopped = program.import_orders(path)

    assert [line for line, _ in stopped.invalid] == [5, 12, 19]
    assert "XXX" in stopped.invalid[0][1] and "line 4" in stopped.invalid[1][1] and "amount" in stopped.invalid[2][1]
    assert stopped.posted == stopped.replayed == stopped.refused == 0
    assert earns(program) == {}

    write(path, good)
    first = program.import_orders(path, chunk_size=4)
    assert (first.posted + first.nothing, first.replayed, first.refused, first.invalid) == (24, 0, 0, ())
    posted = earns(program)
    assert len(posted) == first.posted and sum(posted.values()) == first.points
    by_customer: dict[str, int] = defaultdict(int)
    for row in read_orders(path, program.chart.timezone):
        assert row.command is not None
        by_customer[row.command.customer] += posted.get(row.command.order_id, 0)
    for customer, points in by_customer.items():
        balance = program.balance(customer)
        assert balance.total + balance.clawback == points, customer

    again = program.import_orders(path, chunk_size=4)
    assert (again.posted, again.replayed, again.nothing, again.points) == (0, first.posted, first.nothing, 0)
    assert earns(program) == posted


def test_a_run_stopped_after_some_chunks_resumes_with_the_rest(program: LoyaltyProgram, tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", order_lines(20, 10, tag="r"))

    class Stop(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done >= 8:
            raise Stop

    with pytest.raises(Stop):
        program.import_orders(path, chunk_size=4, progress=stop_after_two)
    halfway = earns(program)
    assert 0 < len(halfway) < 20

    resumed = program.import_orders(path, chunk_size=4)
    assert resumed.replayed == len(halfway)
    assert resumed.posted + resumed.nothing == 20 - len(halfway)
    everything = earns(program)
    assert len(everything) == resumed.posted + resumed.replayed
    assert {order: everything[order] for order in halfway} == halfway


def test_imported_orders_earn_what_earning_them_one_by_one_earns(
    program: LoyaltyProgram, second: LoyaltyProgram, tmp_path: Path
) -> None:
    """Tiers and per-customer campaign caps move across the file's rows exactly as with single earns."""

    lines = order_lines(36, 4, tag="d")
    path = write(tmp_path / "orders.csv", lines)
    program.import_orders(path, chunk_size=3)

    commands: list[EarnCommand] = []
    for row in read_orders(path, second.chart.timezone):
        assert row.command is not None
        commands.append(row.command)
        second.earn(row.command)

    imported = {tx.metadata["order_id"]: tx.metadata for tx in program.ledger.transactions(metadata={"operation": "earn"})}
    single = {tx.metadata["order_id"]: tx.metadata for tx in second.ledger.transactions(metadata={"operation": "earn"})}
    assert imported.keys() == single.keys() and len(imported) > 25
    for order, meta in single.items():
        # Points, breakdown (tier, campaigns and their caps), tier after, repaid debt, sequence number: all of it.
        assert imported[order] == meta, order
    assert {m.get("tier_after") for m in single.values()} >= {"member", "silver"}
    for customer in {c.customer for c in commands}:
        assert program.balance(customer) == second.balance(customer)


def test_references_taken_between_the_chunk_lookup_and_its_bulk_post(
    ledger_url: str, ledger_name: str, client: LedgerClient, tmp_path: Path
) -> None:
    """The bulk post does not look the references up again: one another process takes meanwhile is
    settled by the server's refusal of that element (a replay of the same order, a refusal of another)."""

    other = programme(client)
    raced: list[str] = []

    class Raced(LedgerClient):
        def find_by_references(self, references):  # type: ignore[no-untyped-def]
            found = super().find_by_references(references)
            if not raced:
                raced.append("once")
                at = START + timedelta(minutes=2)
                other.earn(EarnCommand(customer="rc2", order_id="ro2", amount=usd("30.00"), ordered_at=at))  # the same order
                other.earn(EarnCommand(customer="rc9", order_id="ro3", amount=usd("77.00"), ordered_at=at))  # another one
            return found

    with Raced(LedgerConnection(url=ledger_url, ledger=ledger_name)) as raced_client:
        importing = programme(raced_client)
        at = (START + timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
        path = write(tmp_path / "orders.csv", [f"rc1,ro1,30.00,USD,{at},,", f"rc2,ro2,30.00,USD,{at},,", f"rc3,ro3,30.00,USD,{at},,"])
        summary = importing.import_orders(path)

    assert raced == ["once"]
    assert (summary.posted, summary.replayed, summary.refused) == (1, 1, 1)
    assert summary.refusals[0][0] == "ro3" and "ro3" in summary.refusals[0][1]
    assert other.balance("rc3").total == 0 and other.balance("rc1").total == summary.points > 0
    assert sorted(earns(other)) == ["ro1", "ro2", "ro3"]


def test_two_processes_importing_one_file_at_once_post_every_order_once(
    ledger_url: str, ledger_name: str, client: LedgerClient, second: LoyaltyProgram, tmp_path: Path
) -> None:
    """Each process looks references up, reads and posts on its own; whichever posts an order first,
    the other answers it as a replay, and every customer ends where earning the file one by one ends."""

    import threading

    path = write(tmp_path / "orders.csv", order_lines(240, 12, tag="w"))
    summaries = []

    def run() -> None:
        with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as own:
            summaries.append(programme(own).import_orders(path, chunk_size=7))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(summaries) == 2 and all(s.refused == 0 for s in summaries)
    assert [s.posted + s.replayed + s.nothing for s in summaries] == [240, 240]
    assert sum(s.posted for s in summaries) == len(earns(programme(client)))
    earned = list(programme(client).ledger.transactions(metadata={"operation": "earn"}))
    assert len({tx.reference for tx in earned}) == len(earned)
    for row in read_orders(path, second.chart.timezone):
        assert row.command is not None
        second.earn(row.command)
    assert earns(programme(client)) == earns(second)
    for customer in {f"wc{i}" for i in range(12)}:
        assert programme(client).balance(customer) == second.balance(customer), customer
