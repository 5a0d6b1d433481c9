"""Partner pools on the real Formance Ledger: the pool's balances tie to the partners' statements,
concurrent draws never overdraw it, a retried contribution posts once, bad input posts nothing.

Pool travel (chart_of_accounts.yaml): skyway share 3, cityrail share 1, 0.0090 USD a point, half_even.
History of the tie test, worked by hand::

    c-1  skyway   contributes 3000 points  pays 27.00
    c-2  cityrail contributes 1000 points  pays  9.00 (--amount 9.00, through the command line)
    e-1  m1 earns 10 from the pool        skyway 8, cityrail 2 (7.5/2.5: the tie to the larger share)
    e-2  m2 earns  7 from the pool        skyway 5, cityrail 2 (5.25/1.75: the larger remainder)
    r-1  m1 redeems 10 against the pool   skyway 8, cityrail 2

    skyway:   contributed 3000 = funds 2979 + awarded 13 + redeemed 8; paid 27.00
    cityrail: contributed 1000 = funds  994 + awarded  4 + redeemed 2; paid  9.00
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from support.finance_books import MOVE
from support.interleave import CommitBeforeHistory
from support.programme import STORY_NOW, T0, days, programme, story_clock
from typer.testing import CliRunner

from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.errors import InsufficientPoints, LoyaltyError
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.types import TransactionPlan

from .test_exactly_once import LoseFirstTransactionResponse
from .test_limits_under_concurrency import at_once

pytestmark = pytest.mark.integration
ROLES = ("contributed", "funds", "awarded", "redeemed")


def cli(ledger_url: str, ledger_name: str, *args: str) -> object:
    return CliRunner().invoke(loyalty_app, ["--ledger-url", ledger_url, "--ledger", ledger_name, *args])


def balance(client: LedgerClient, address: str, asset: str) -> int:
    """One account's balance, read on its own (the aggregate over exactly that address)."""

    return client.aggregate_balances(address).get(asset, 0)


def test_the_pool_s_balances_tie_to_the_partners_statements(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=3000, at=T0))
    result = cli(ledger_url, ledger_name, "pool", "contribute", "--pool", "travel", "--partner", "cityrail",
                 "--contribution", "c-2", "--amount", "9.00", "--at", T0.isoformat(), "-f", "json")
    assert result.exit_code == 0, result.output
    earned = program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=10, at=T0 + days(1)))
    program.execute(PoolEarnCommand(customer="m2", pool="travel", earn_id="e-2", points=7, at=T0 + days(1)))
    program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="r-1", points=10, at=T0 + days(2)))
    assert earned.transactions[0].metadata["charges"] == "cityrail=2,skyway=8"
    assert program.balance("m1").spendable == 0 and program.balance("m2").spendable == 7

    chart = program.chart
    expected = {"skyway": (3000, 2979, 13, 8), "cityrail": (1000, 994, 4, 2)}
    # The ledger's own balances, account by account, are the hand count.
    for partner, figures in expected.items():
        got = tuple(balance(client, chart.pool_account("travel", partner, role), "PTS") for role in ROLES)
        assert got == (-figures[0], *figures[1:])
    reports = FinanceReports(client, chart, clock=story_clock)  # as of the story's now: m2's 7 points not yet due
    position = reports.pool("travel")
    statements = {p: reports.partner_statement(p) for p in expected}
    for partner, statement in statements.items():
        (figures,) = statement.pools
        assert (figures.contributed, figures.funds, figures.awarded, figures.redeemed) == expected[partner]
        member = position.member(partner)
        assert (member.contributed, member.funds, member.awarded, member.redeemed) == expected[partner]
        paid = -balance(client, chart.pool_account("travel", partner, "paid"), "USD/2")
        assert figures.paid == member.paid == Decimal(paid).scaleb(-2)
        # the contribution is on the settlement account, and the statement ties to it
        assert statement.pool_movements == figures.paid == statement.ledger_closing and statement.ok
        assert balance(client, chart.partner_account(partner, "settlement"), "USD/2") == paid
    assert (statements["skyway"].pools[0].paid, statements["cityrail"].pools[0].paid) == (Decimal("27.00"), Decimal("9.00"))
    # In total: the partners' statement figures sum to the pool's balances on the ledger.
    for i, role in enumerate(ROLES):
        pool_total = client.aggregate_balances(chart.kind_filter(f"pool_{role}", pool="travel")).get("PTS", 0)
        assert sum(s.pools[0].model_dump()[role] for s in statements.values()) == abs(pool_total) == int(position.total(role))
    assert position.total("funds") == 3973 and all(s.pools[0].pool_funds == 3973 for s in statements.values())
    assert client.aggregate_balances(chart.pool_filter("travel")).get("PTS", 0) == 0  # the pool's accounts sum to zero
    # The books still hold: the roll-forward ties (pool earns are issued points) and every reconciliation check passes.
    assert reports.activity(None).ties
    reconciliation = reports.reconcile()
    assert reconciliation.ok, [c for c in reconciliation.checks if c.status != "pass"]

    shown = cli(ledger_url, ledger_name, "pool", "show", "--pool", "travel", "-f", "json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert {row["partner"]: row["funds"] for row in doc["members"]} == {"cityrail": 994, "skyway": 2979}
    assert doc["totals"]["paid"] == "36.00" and doc["balanced"] is True
    statement = cli(ledger_url, ledger_name, "partner", "statement", "--partner", "skyway", "-f", "json")
    assert statement.exit_code == 0, statement.output
    assert json.loads(statement.stdout)["pools"][0]["funds"] == 2979


def test_concurrent_draws_cannot_overdraw_the_pool(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=30, at=T0))
    program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-2", points=10, at=T0))
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as other:
        second = LoyaltyProgram(other, program.chart, program.catalogue, rules=program.rules)
        # 14 draws of 4 points (3 from skyway, 1 from cityrail) race for a pool of 40: exactly 10 fit.
        calls = [
            (lambda n=n, p=(program if n % 2 else second): p.execute(
                PoolEarnCommand(customer=f"m{n}", pool="travel", earn_id=f"e-{n}", points=4, at=T0 + days(1))
            ))
            for n in range(14)
        ]
        results = at_once(calls)
    refused = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(refused) == 4 and all(isinstance(r, InsufficientPoints) for r in refused), refused
    chart = program.chart
    assert balance(client, chart.pool_account("travel", "skyway", "funds"), "PTS") == 0
    assert balance(client, chart.pool_account("travel", "cityrail", "funds"), "PTS") == 0
    assert balance(client, chart.pool_account("travel", "skyway", "awarded"), "PTS") == 30
    assert client.aggregate_balances(chart.customer_filter()).get("PTS", 0) == 40
    # never below zero on the way: the lowest balance of each funds account after every draw
    for partner in ("skyway", "cityrail"):
        funds = chart.pool_account("travel", partner, "funds")
        running, lowest = 0, 0
        for tx in sorted(client.transactions(account=funds), key=lambda t: t.id):
            running += sum(p.amount for p in tx.postings if p.destination == funds) - sum(p.amount for p in tx.postings if p.source == funds)
            lowest = min(lowest, running)
        assert lowest == 0 and running == 0


def test_a_retried_contribution_posts_once(ledger_url: str, ledger_name: str) -> None:
    transport = LoseFirstTransactionResponse()
    connection = LedgerConnection(url=ledger_url, ledger=ledger_name, backoff_initial_s=0.01)
    with LedgerClient(connection, transport=transport) as lossy, LedgerClient(connection) as plain:
        program = programme(lossy, pending_days=0)
        command = PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=3000, at=T0)
        first = program.execute(command)
        assert transport.lost == 2 and first.replayed is False  # the lost answer, then its retry
        again = cli(ledger_url, ledger_name, "pool", "contribute", "--pool", "travel", "--partner", "skyway",
                    "--contribution", "c-1", "-p", "3000", "-f", "json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["replayed"] is True
        other = cli(ledger_url, ledger_name, "pool", "contribute", "--pool", "travel", "--partner", "skyway",
                    "--contribution", "c-1", "-p", "3001")
        assert other.exit_code == 1 and "already used by transaction" in other.stderr
        assert len(list(plain.transactions(metadata={"operation": "pool_contribute"}))) == 1
        assert plain.aggregate_balances(program.chart.pool_account("travel", "skyway", "funds")).get("PTS") == 3000
        assert plain.aggregate_balances("partners:skyway:settlement").get("USD/2") == 2700
        trial = plain.aggregate_balances("")
        assert all(v == 0 for v in trial.values()), trial


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["contribute", "--pool", "nowhere", "--partner", "skyway", "--contribution", "c", "-p", "5"], 2, "unknown pool 'nowhere'"),
        (["contribute", "--pool", "travel", "--partner", "railco", "--contribution", "c", "-p", "5"], 2, "not a member of pool 'travel'"),
        (["contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c", "--amount", "10.00"], 2, "buys 1111.1"),
        (["earn", "-c", "m1", "--pool", "travel", "--earn", "e", "-p", "0"], 2, "points: Input should be greater than 0"),
        (["earn", "-c", "m1", "--pool", "travel", "--earn", "e", "-p", "41"], 1, "pool travel holds 40 points; the draw needs 41"),
        (["redeem", "-c", "m1", "--pool", "travel", "--redemption", "r", "-p", "4"], 1, "customer m1"),
    ],
)
def test_bad_input_is_one_line_a_non_zero_exit_and_posts_nothing(
    client: LedgerClient, ledger_url: str, ledger_name: str, args: list[str], code: int, message: str
) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=30, at=T0))
    program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-2", points=10, at=T0))
    before = len(list(client.transactions()))
    result = cli(ledger_url, ledger_name, "pool", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert len(list(client.transactions())) == before


def draws_at_once(program: LoyaltyProgram, ledger_url: str, ledger_name: str, *, points: int, at: datetime) -> list[object]:
    """Ten members m0..m9 each earn ``points`` from pool travel dated ``at``, all released together, each through
    its own programme and client (nothing in this process makes them take turns): what each returned or raised."""

    def draw(n: int) -> object:
        with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as own:
            racer = LoyaltyProgram(own, program.chart, program.catalogue, rules=program.rules)
            return racer.execute(PoolEarnCommand(customer=f"m{n}", pool="travel", earn_id=f"e-{n}", points=points, at=at))

    return at_once([lambda n=n: draw(n) for n in range(10)])


def test_back_dated_concurrent_draws_take_only_the_funds_at_their_instant(ledger_url: str, ledger_name: str) -> None:
    """The tester's race: 3 + 1 points contributed before T, 300 + 100 after it; ten processes each draw
    4 points (skyway 3, cityrail 1) dated T, each with its own client. The ledger's overdraft check sees
    the current funds (400), so only the pool's counter can keep the draws to what the funds held at T:
    exactly one draw posts, and no funds account is ever negative at any instant."""

    t = T0 + days(1)
    now = STORY_NOW  # after T; the drawn points (expiring T + 1 day + 365 days) are not yet due then
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as client:
        program = programme(client, clock=story_clock, pending_days=0)
        program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=3, at=T0))
        program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-2", points=1, at=T0))
        program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-3", points=300, at=now))
        program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-4", points=100, at=now))

        results = draws_at_once(program, ledger_url, ledger_name, points=4, at=t)
        refused = [r for r in results if isinstance(r, LoyaltyError)]
        assert len(refused) == 9 and all(isinstance(r, InsufficientPoints) for r in refused), refused
        chart = program.chart
        assert len(list(client.transactions(metadata={"operation": "pool_earn"}))) == 1
        assert client.aggregate_balances(chart.customer_filter()).get("PTS", 0) == 4
        for partner, left in (("skyway", 300), ("cityrail", 100)):
            funds = chart.pool_account("travel", partner, "funds")
            assert balance(client, funds, "PTS") == left
            # the running balance in effective-date order (the ledger's timestamps), never below zero
            running, lowest = 0, 0
            for tx in sorted(client.transactions(account=funds), key=lambda tx: (tx.timestamp, tx.id)):
                running += sum(p.amount for p in tx.postings if p.destination == funds)
                running -= sum(p.amount for p in tx.postings if p.source == funds)
                lowest = min(lowest, running)
            assert lowest == 0 and running == left
        # one contribution and draw each on the pool's counter: 4 contributions + 1 draw
        assert balance(client, chart.pool_sequence("travel"), chart.control_asset) == -5
        reconciliation = FinanceReports(client, chart, clock=story_clock).reconcile()
        assert reconciliation.ok, [c for c in reconciliation.checks if c.status != "pass"]


def test_a_pool_funded_before_counters_has_its_counter_opened_by_the_first_draw(client: LedgerClient) -> None:
    """Funds moved in without the counter leg (a contribution posted before pools had counters): the
    counter has no balance row for the ledger to lock, so the draw opens it first, then counts on it."""

    program = programme(client, clock=story_clock, pending_days=0)
    chart = program.chart
    for partner, points in (("skyway", 30), ("cityrail", 10)):
        client.post(
            TransactionPlan(
                operation="manual",
                template="none",
                script=MOVE,
                vars={
                    "amount": f"PTS {points}",
                    "from": chart.pool_account("travel", partner, "contributed"),
                    "to": chart.pool_account("travel", partner, "funds"),
                },
                reference=f"legacy-{partner}",
                command_hash="manual",
                timestamp=T0,
            ),
            schema_version=program.schema_version,
        )
    counter = chart.pool_sequence("travel")
    assert balance(client, counter, chart.control_asset) == 0
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=4, at=T0 + days(1)))
    program.execute(PoolEarnCommand(customer="m2", pool="travel", earn_id="e-2", points=4, at=T0 + days(1)))
    assert len(list(client.transactions(metadata={"operation": "open_control", "account": counter}))) == 1
    assert balance(client, counter, chart.control_asset) == -2
    assert balance(client, chart.pool_account("travel", "skyway", "funds"), "PTS") == 24


def test_a_pool_redemption_of_a_catalogue_reward_records_it_as_a_catalogue_redemption_does(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    """`pool redeem --reward GIFT-25` and `redeem --reward GIFT-25` write the same reward metadata (the SKU and
    its type, gift_card); a label the catalogue does not list writes the label only. The reconciliation's
    metadata check passes on what was posted."""

    program = programme(client, clock=story_clock, pending_days=0)
    program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=6000, at=T0))
    program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-2", points=2000, at=T0))
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=5000, at=T0 + days(1)))
    for args in (
        ["pool", "redeem", "-c", "m1", "--pool", "travel", "--redemption", "pr-1", "-p", "2250", "--reward", "GIFT-25"],
        ["pool", "redeem", "-c", "m1", "--pool", "travel", "--redemption", "pr-2", "-p", "50", "--reward", "lounge"],
        ["redeem", "-c", "m1", "--redemption", "r-1", "--reward", "GIFT-25"],
    ):
        # dated in the story (m1's points, earned at T + 1 day, are spendable then whatever day this runs)
        result = cli(ledger_url, ledger_name, *args, "--at", (T0 + days(2)).isoformat(), "-f", "json")
        assert result.exit_code == 0, result.output
    pooled, labelled, plain = (client.find_by_reference(ref) for ref in ("pool_redeem:pr-1", "pool_redeem:pr-2", "redeem:r-1"))
    assert pooled is not None and labelled is not None and plain is not None
    rewards = lambda tx: {k: v for k, v in tx.metadata.items() if k.startswith("reward")}  # noqa: E731
    assert rewards(pooled) == rewards(plain) == {"reward": "GIFT-25", "reward_type": "gift_card"}
    assert rewards(labelled) == {"reward": "lounge"}
    # the pool's partners paid for the catalogue reward: 2250 charged 1688 to skyway, 562 to cityrail (3:1, the tie to the larger share)
    assert pooled.metadata["charges"] == "cityrail=562,skyway=1688"
    assert program.balance("m1").spendable == 5000 - 2250 - 50 - 2250
    reconciliation = FinanceReports(client, program.chart, clock=story_clock).reconcile()
    assert reconciliation.ok, [c for c in reconciliation.checks if c.status != "pass"]


def test_ten_concurrent_draws_on_a_pool_holding_enough_for_all_all_post(ledger_url: str, ledger_name: str) -> None:
    """Ten members draw 4 points each from a pool holding 400, all at once, each through its own client:
    the pool's counter refuses every racer but one at each post, and each is planned again until it posts.
    All ten post, the funds end 40 lower, and the counter counts 2 contributions and 10 draws."""

    t = T0 + days(1)
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as client:
        program = programme(client, clock=story_clock, pending_days=0)
        program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=300, at=T0))
        program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-2", points=100, at=T0))

        results = draws_at_once(program, ledger_url, ledger_name, points=4, at=t)
        assert not [r for r in results if isinstance(r, LoyaltyError)], results
        chart = program.chart
        assert len(list(client.transactions(metadata={"operation": "pool_earn"}))) == 10
        assert balance(client, chart.pool_account("travel", "skyway", "funds"), "PTS") == 270
        assert balance(client, chart.pool_account("travel", "cityrail", "funds"), "PTS") == 90
        assert balance(client, chart.pool_sequence("travel"), chart.control_asset) == -12


def test_a_draw_whose_funds_were_read_while_a_contribution_committed_is_planned_again_not_refused(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    """The pool holds 3 + 1 points; m1 draws 4 dated T + 1 day. Between the draw's read of the funds'
    balances and its read of their history, skyway's contribution of 300 dated now commits (another client):
    the history has it, the balances do not, and the funds read at T + 1 day come out 300 short. Only the pool's
    counter moved (m1's own did not): the draw is planned again from fresh reads and posts, it is not refused."""

    program = programme(client, pending_days=0)
    chart = program.chart
    program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=3, at=T0))
    program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-2", points=1, at=T0))
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def contribute() -> object:
        return program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-3", points=300, at=now))

    funds = chart.kind_filter("pool_funds", pool="travel")
    with CommitBeforeHistory(LedgerConnection(url=ledger_url, ledger=ledger_name), funds, contribute) as racer:
        drawer = LoyaltyProgram(racer, chart, program.catalogue, rules=program.rules)
        drawer.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=4, at=T0 + days(1)))
        assert racer.interleaved
    assert len(list(client.transactions(metadata={"operation": "pool_earn"}))) == 1
    assert balance(client, chart.pool_account("travel", "skyway", "funds"), "PTS") == 300
    assert balance(client, chart.pool_account("travel", "cityrail", "funds"), "PTS") == 0
    # three contributions and the draw
    assert balance(client, chart.pool_sequence("travel"), chart.control_asset) == -4
