"""The reward catalogue on the real server: stock kept on the ledger, taken in the redemption's own transaction.

The acceptance test of issue 16 item 1: twenty members each able to pay redeem
a physical reward with three units in stock, all at once, each through its own
programme and ledger client; exactly three redemptions post and the stock is
0, read from the ledger's balances and transactions; the other seventeen are
refused as out of stock and posted nothing. Then restocks are exactly once,
bad input is one line, exit 2 and nothing posted, and the catalogue commands
read the stock from the ledger.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from support.finance_books import MOVE
from support.interleave import CommitBeforeHistory
from support.programme import STORY_NOW, T0, programme, redeem_all_at_once, story_clock, usd
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.errors import InsufficientPoints, InvalidCommand, OutOfStock
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import EarnCommand, RedeemCommand
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.services.results import OperationResult
from loyalty_accounts.types import TransactionPlan

runner = CliRunner()
MUG = "MUG-BLUE"
"""rules.yaml: a product (80 points per 1.00) worth 12.50, physical: 1000 points."""
MUG_PRICE = 1000
RACERS = 20
IN_STOCK = 3


def units(client: LedgerClient, address: str) -> int:
    return client.account(address).balance("UNITS")


def member(program: LoyaltyProgram, customer: str, amount: str = "1500.00") -> None:
    """A member with ``amount`` USD of orders, spendable at once (the chart's pending window is 0 here)."""

    program.earn(EarnCommand(customer=customer, order_id=f"o-{customer}", amount=usd(amount), ordered_at=T0))


def redemptions(client: LedgerClient) -> list:  # type: ignore[type-arg]
    return list(client.transactions(metadata={"operation": "redeem"}))


def test_twenty_concurrent_redemptions_of_three_in_stock_give_three(client: LedgerClient, clients: list[LedgerClient]) -> None:
    setup = programme(client, clock=story_clock, pending_days=0)
    customers = [f"m{n:02d}" for n in range(RACERS)]
    for customer in customers:
        member(setup, customer)
    setup.restock(RestockCommand(reward=MUG, units=IN_STOCK, restock_id="rs-1", at=T0))
    assert units(client, "catalogue:MUG-BLUE:stock") == IN_STOCK
    # each racer its own programme and client: nothing in this process makes them take turns
    programs = [programme(c, clock=story_clock, pending_days=0) for c in clients[:RACERS]]
    at = setup.executor.clock()
    commands = [RedeemCommand(customer=customers[n], redemption_id=f"r-{n}", reward=MUG, at=at) for n in range(RACERS)]
    results = redeem_all_at_once(programs, commands)

    won = {customers[n] for n, r in enumerate(results) if isinstance(r, OperationResult)}
    refused = [r for r in results if not isinstance(r, OperationResult)]
    assert len(won) == IN_STOCK, results
    assert len(refused) == RACERS - IN_STOCK and all(isinstance(r, OutOfStock) for r in refused), refused
    assert all("out of stock" in r.message for r in refused)
    # the ledger: stock 0, three units delivered, three redemption transactions each taking one unit and the price
    assert units(client, "catalogue:MUG-BLUE:stock") == 0
    assert units(client, "catalogue:MUG-BLUE:delivered") == IN_STOCK
    assert units(client, "catalogue:MUG-BLUE:restocked") == -IN_STOCK
    posted = redemptions(client)
    assert {tx.metadata["customer"] for tx in posted} == won and len(posted) == IN_STOCK
    for tx in posted:
        assert (tx.metadata["reward"], tx.metadata["reward_type"], tx.metadata["points"]) == (MUG, "product", str(MUG_PRICE))
        stock_legs = [(p.source, p.destination, p.amount) for p in tx.postings if p.asset == "UNITS"]
        assert stock_legs == [("catalogue:MUG-BLUE:stock", "catalogue:MUG-BLUE:delivered", 1)]
        assert sum(p.amount for p in tx.postings if p.asset == "PTS" and p.destination == "program:points:redeemed") == MUG_PRICE
    assert client.account("program:points:redeemed").balance("PTS") == IN_STOCK * MUG_PRICE
    for customer in customers:
        expected = 1500 - (MUG_PRICE if customer in won else 0)
        assert setup.balance(customer).spendable == expected, customer


def test_a_catalogue_reward_is_priced_by_the_catalogue_and_redeem_points_still_works(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    member(program, "c1", "6000.00")
    cash = program.redeem(RedeemCommand(customer="c1", redemption_id="r-cash", reward="CASH-25", at=T0))
    assert cash.points == 2500 and not cash.replayed
    tx = cash.transactions[0]
    assert (tx.metadata["reward"], tx.metadata["reward_type"]) == ("CASH-25", "cashback")
    assert not [p for p in tx.postings if p.asset == "UNITS"]  # not physical: no stock moves
    # the same command again is a replay; the price stated and matching is accepted
    assert program.redeem(RedeemCommand(customer="c1", redemption_id="r-cash", reward="CASH-25", at=T0)).replayed
    gift = program.redeem(RedeemCommand(customer="c1", redemption_id="r-gift", reward="GIFT-25", points=2250, at=T0))
    assert gift.transactions[0].metadata["reward_type"] == "gift_card"
    # a price that is not the catalogue's is refused before anything is posted
    with pytest.raises(InvalidCommand, match="costs 2250 points, not 2000"):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r-cheap", reward="GIFT-25", points=2000, at=T0))
    # redeem --points with a free label, as before the catalogue
    plain = program.redeem(RedeemCommand(customer="c1", redemption_id="r-plain", points=100, reward="mug", at=T0))
    assert plain.points == 100 and "reward_type" not in plain.transactions[0].metadata
    assert program.balance("c1").spendable == 6000 - 2500 - 2250 - 100
    assert len(redemptions(client)) == 3


def test_out_of_stock_and_insufficient_points_are_different_refusals(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    member(program, "rich", "5000.00")
    member(program, "poor", "50.00")
    with pytest.raises(OutOfStock, match="HEADPHONES is out of stock"):
        program.redeem(RedeemCommand(customer="rich", redemption_id="r-1", reward="HEADPHONES", at=T0))
    program.restock(RestockCommand(reward=MUG, units=1, restock_id="rs-1", at=T0))
    with pytest.raises(InsufficientPoints):
        program.redeem(RedeemCommand(customer="poor", redemption_id="r-2", reward=MUG, at=T0))
    assert redemptions(client) == [] and units(client, "catalogue:MUG-BLUE:stock") == 1
    program.redeem(RedeemCommand(customer="rich", redemption_id="r-3", reward=MUG, at=T0))
    with pytest.raises(OutOfStock):
        program.redeem(RedeemCommand(customer="rich", redemption_id="r-4", reward=MUG, at=T0))
    assert program.balance("rich").spendable == 5000 - MUG_PRICE and program.balance("poor").spendable == 50


def test_a_back_dated_redemption_cannot_take_a_unit_restocked_after_its_instant(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    member(program, "c1")
    program.restock(RestockCommand(reward=MUG, units=1, restock_id="rs-1", at=T0.replace(day=20)))
    with pytest.raises(OutOfStock):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r-early", reward=MUG, at=T0.replace(day=15)))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-later", reward=MUG, at=T0.replace(day=21)))
    assert units(client, "catalogue:MUG-BLUE:stock") == 0


def lowest_by_instant(client: LedgerClient, address: str, asset: str) -> int:
    """The lowest balance ``address`` has in ``asset`` at any instant, from its transactions in date order."""

    moves: dict[object, int] = {}
    for tx in client.transactions(account=address):
        for p in tx.postings:
            if p.asset == asset:
                moves[tx.timestamp] = moves.get(tx.timestamp, 0) + (p.amount if p.destination == address else 0) - (
                    p.amount if p.source == address else 0
                )
    running, lowest = 0, 0
    for instant in sorted(moves):  # type: ignore[type-var]
        running += moves[instant]
        lowest = min(lowest, running)
    return lowest


def test_concurrent_back_dated_redemptions_take_only_the_units_in_stock_at_their_instant(
    client: LedgerClient, clients: list[LedgerClient]
) -> None:
    """One unit in stock at T, twenty restocked after it: ten racers redeeming at T get one unit between them.

    Each plan reads the stock's lowest balance from T on (1), but the ledger checks only the current
    balance (21) when it posts: without the reward's operation counter, several racers took the one unit
    and the stock was below zero at T (a tester saw 4 of 10 posted, the stock at -3).
    """

    setup = programme(client, clock=story_clock, pending_days=0)
    racers = [f"b{n:02d}" for n in range(10)]
    for customer in racers:
        member(setup, customer)
    at = T0.replace(day=15)
    setup.restock(RestockCommand(reward=MUG, units=1, restock_id="rs-before", at=T0.replace(day=12)))
    setup.restock(RestockCommand(reward=MUG, units=20, restock_id="rs-after", at=T0.replace(day=20)))
    programs = [programme(c, clock=story_clock, pending_days=0) for c in clients[: len(racers)]]
    commands = [RedeemCommand(customer=customer, redemption_id=f"rb-{customer}", reward=MUG, at=at) for customer in racers]
    results = redeem_all_at_once(programs, commands)

    won = [r for r in results if isinstance(r, OperationResult)]
    assert len(won) == 1, results
    assert all(isinstance(r, OutOfStock) for r in results if not isinstance(r, OperationResult)), results
    assert lowest_by_instant(client, "catalogue:MUG-BLUE:stock", "UNITS") == 0
    assert units(client, "catalogue:MUG-BLUE:stock") == 20 and units(client, "catalogue:MUG-BLUE:delivered") == 1
    # the counter: two restocks and one take
    assert client.account("catalogue:MUG-BLUE:sequence").balance("CTL") == -3


def test_back_dated_redemptions_of_a_reward_stocked_before_counters_open_its_counter_and_take_only_its_stock(
    client: LedgerClient, clients: list[LedgerClient]
) -> None:
    """A reward restocked on a ledger from before counters: its stock has units, its counter has no balance
    row, which the ledger would not lock (two first posts on it would both read 0 and both pass). One unit
    at T, twenty received after it, both posted directly without the counter leg; ten racers redeem at T.
    The first take opens the counter (once), then each take counts on it: exactly one unit is taken, and
    the stock is never below zero at any instant."""

    setup = programme(client, clock=story_clock, pending_days=0)
    racers = [f"l{n:02d}" for n in range(10)]
    for customer in racers:
        member(setup, customer)
    chart = setup.chart
    stock, counter = chart.stock(MUG), chart.stock_sequence(MUG)
    for restock_id, received, day in (("legacy-1", 1, 12), ("legacy-2", 20, 20)):
        client.post(
            TransactionPlan(
                operation="manual",
                template="none",
                script=MOVE,
                vars={"amount": f"UNITS {received}", "from": chart.restocked(MUG), "to": stock},
                reference=restock_id,
                command_hash="manual",
                timestamp=T0.replace(day=day),
            ),
            schema_version=setup.schema_version,
        )
    assert units(client, stock) == 21 and not list(client.accounts(counter))
    programs = [programme(c, clock=story_clock, pending_days=0) for c in clients[: len(racers)]]
    at = T0.replace(day=15)
    commands = [RedeemCommand(customer=customer, redemption_id=f"rl-{customer}", reward=MUG, at=at) for customer in racers]
    results = redeem_all_at_once(programs, commands)

    won = [r for r in results if isinstance(r, OperationResult)]
    assert len(won) == 1, results
    assert all(isinstance(r, OutOfStock) for r in results if not isinstance(r, OperationResult)), results
    assert lowest_by_instant(client, stock, "UNITS") == 0
    assert units(client, stock) == 20 and units(client, chart.delivered(MUG)) == 1
    assert len(list(client.transactions(metadata={"operation": "open_control", "account": counter}))) == 1
    # opened (no count), then the one take
    assert client.account(counter).balance("CTL") == -1


def test_a_redemption_whose_stock_was_read_while_a_restock_committed_is_planned_again_not_out_of_stock(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    """One unit in stock from day 12; c1 redeems it dated day 15. Between the redemption's read of the stock's
    balance and its read of the stock's history, a restock of 5 dated now commits (another client): the
    history has it, the balance does not, and the stock read at day 15 comes out 5 short. Only the reward's
    counter moved (c1's own did not): the redemption is planned again from fresh reads and takes the unit."""

    setup = programme(client, clock=story_clock, pending_days=0)
    member(setup, "c1")
    setup.restock(RestockCommand(reward=MUG, units=1, restock_id="rs-1", at=T0.replace(day=12)))
    now = setup.executor.clock()

    def restock() -> object:
        return setup.restock(RestockCommand(reward=MUG, units=5, restock_id="rs-2", at=now))

    stock = setup.chart.stock(MUG)
    with CommitBeforeHistory(LedgerConnection(url=ledger_url, ledger=ledger_name), stock, restock) as racer:
        program = LoyaltyProgram(racer, setup.chart, setup.catalogue, rules=setup.rules)
        program.redeem(RedeemCommand(customer="c1", redemption_id="r-1", reward=MUG, at=T0.replace(day=15)))
        assert racer.interleaved
    assert len(redemptions(client)) == 1
    assert units(client, stock) == 5 and units(client, "catalogue:MUG-BLUE:delivered") == 1
    assert lowest_by_instant(client, stock, "UNITS") == 0
    # two restocks and the take
    assert client.account("catalogue:MUG-BLUE:sequence").balance("CTL") == -3


def _invoke(ledger_url: str, ledger_name: str, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["-q", "--ledger-url", ledger_url, "--ledger", ledger_name, *args], env=env)


def test_a_retried_restock_posts_once(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    programme(client, clock=story_clock, pending_days=0)
    args = ("catalogue", "restock", "--reward", "TOTE-BAG", "--units", "5", "--restock-id", "rs-77", "-f", "json")
    first = _invoke(ledger_url, ledger_name, *args)
    again = _invoke(ledger_url, ledger_name, *args)
    assert first.exit_code == 0 and again.exit_code == 0, (first.output, again.output)
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    assert (one["replayed"], two["replayed"]) == (False, True) and one["transactions"] == two["transactions"]
    restocks = list(client.transactions(metadata={"operation": "restock"}))
    assert len(restocks) == 1 and restocks[0].reference == "restock:rs-77"
    assert units(client, "catalogue:TOTE-BAG:stock") == 5
    # the same restock id for other units is another operation: refused, nothing posted
    other = _invoke(ledger_url, ledger_name, "catalogue", "restock", "--reward", "TOTE-BAG", "--units", "6", "--restock-id", "rs-77")
    assert other.exit_code == 1 and "already used" in other.stderr
    assert units(client, "catalogue:TOTE-BAG:stock") == 5


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("catalogue", "restock", "--reward", "NOPE-1", "--units", "2", "--restock-id", "rs-1"), "'NOPE-1' is not in the catalogue"),
        (("catalogue", "restock", "--reward", "CASH-25", "--units", "2", "--restock-id", "rs-1"), "CASH-25 is not physical"),
        (("catalogue", "restock", "--reward", MUG, "--units", "0", "--restock-id", "rs-1"), "--units must be a whole number"),
        (("catalogue", "restock", "--reward", MUG, "--units", "-3", "--restock-id", "rs-1"), "--units must be a whole number"),
        (("catalogue", "restock", "--reward", MUG, "--units", "2.5", "--restock-id", "rs-1"), "--units must be a whole number"),
        (("catalogue", "restock", "--reward", MUG, "--units", "lots", "--restock-id", "rs-1"), "--units must be a whole number"),
        (("catalogue", "restock", "--reward", "bad sku", "--units", "1", "--restock-id", "rs-1"), "reward"),
        (("catalogue", "show", "NOPE-1"), "'NOPE-1' is not in the catalogue"),
        (("redeem", "-c", "c1", "--redemption", "r-1", "--reward", "NOPE-1"), "'NOPE-1' is not in the catalogue"),
        (("redeem", "-c", "c1", "--redemption", "r-1"), "give --points, or --reward SKU"),
        (("redeem", "-c", "c1", "--redemption", "r-1", "--reward", MUG, "-p", "5"), f"costs {MUG_PRICE} points, not 5"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_posts_nothing(
    client: LedgerClient, ledger_url: str, ledger_name: str, args: tuple[str, ...], said: str
) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    member(program, "c1")
    program.restock(RestockCommand(reward=MUG, units=2, restock_id="rs-0", at=T0))
    before = len(list(client.transactions()))
    result = _invoke(ledger_url, ledger_name, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], result.stderr
    assert len(list(client.transactions())) == before
    assert units(client, "catalogue:MUG-BLUE:stock") == 2


def test_catalogue_list_and_show_read_the_stock_from_the_ledger(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    member(program, "c1")
    program.restock(RestockCommand(reward=MUG, units=4, restock_id="rs-1", at=T0))
    # dated and reconciled at fixed instants: c1's points (earned at T0) are spendable then on whatever day this runs
    on = (T0 + timedelta(days=1)).isoformat()
    redeemed = _invoke(ledger_url, ledger_name, "redeem", "-c", "c1", "--redemption", "r-1", "--reward", MUG, "--at", on, "-f", "json")
    assert redeemed.exit_code == 0, redeemed.output
    assert json.loads(redeemed.stdout)["points"] == MUG_PRICE
    listed = _invoke(ledger_url, ledger_name, "catalogue", "list", "-f", "json")
    assert listed.exit_code == 0, listed.output
    rows = {row["sku"]: row for row in json.loads(listed.stdout)}
    assert (rows[MUG]["in_stock"], rows[MUG]["received"], rows[MUG]["delivered"]) == (3, 4, 1)
    assert (rows["HEADPHONES"]["in_stock"], rows["HEADPHONES"]["received"]) == (0, 0)
    assert rows["CASH-25"]["in_stock"] is None and rows["CASH-25"]["points"] == 2500
    shown = _invoke(ledger_url, ledger_name, "catalogue", "show", MUG, "-f", "json")
    assert json.loads(shown.stdout) == rows[MUG]
    csv_out = _invoke(ledger_url, ledger_name, "catalogue", "list", "-f", "csv")
    header, *lines = csv_out.stdout.strip().splitlines()
    assert header.split(",")[:4] == ["sku", "reward_type", "name", "points"] and len(lines) == len(rows)
    table = _invoke(ledger_url, ledger_name, "catalogue", "show", MUG)
    assert table.exit_code == 0 and "in_stock" in table.stdout and "Blue enamel mug" in table.stdout
    wide = _invoke(ledger_url, ledger_name, "catalogue", "list", env={"COLUMNS": "250"})
    header = next(line for line in wide.stdout.splitlines() if "sku" in line)
    assert wide.exit_code == 0 and all(c in header for c in ("in_stock", "reserved", "received", "delivered")), wide.stdout
    mug_row = next(line for line in wide.stdout.splitlines() if MUG in line)
    assert mug_row.split()[-4:] == ["3", "0", "4", "1"], wide.stdout  # in stock, reserved, received, delivered
    # the books with stock on them still reconcile (trial balance per asset, metadata, roll-forward)
    checked = _invoke(ledger_url, ledger_name, "reconcile", "--as-of", STORY_NOW.isoformat(), "-f", "json")
    assert checked.exit_code == 0, checked.output


def test_a_retry_with_or_without_the_reward_s_price_is_the_same_redemption(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    member(program, "c1")
    on = ("--at", (T0 + timedelta(days=1)).isoformat())  # c1's points are spendable then, whatever day this runs
    program.restock(RestockCommand(reward=MUG, units=2, restock_id="rs-1", at=T0))
    first = _invoke(ledger_url, ledger_name, "redeem", "-c", "c1", "--redemption", "PI-1", "-p", str(MUG_PRICE), "--reward", MUG, *on, "-f", "json")
    again = _invoke(ledger_url, ledger_name, "redeem", "-c", "c1", "--redemption", "PI-1", "--reward", MUG, *on, "-f", "json")
    assert (first.exit_code, again.exit_code) == (0, 0), (first.output, again.output)
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    assert (one["replayed"], two["replayed"]) == (False, True) and one["transactions"] == two["transactions"]
    other = _invoke(ledger_url, ledger_name, "redeem", "-c", "c1", "--redemption", "PI-1", "-p", str(MUG_PRICE + 1), "--reward", MUG, *on)
    assert other.exit_code != 0 and "PI-1" in other.stderr and len(other.stderr.strip().splitlines()) == 1, other.output
    assert units(client, "catalogue:MUG-BLUE:stock") == 1 and len(list(client.transactions(metadata={"operation": "redeem"}))) == 1
