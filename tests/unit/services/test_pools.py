"""Partner pools on the in-memory ledger: contributions, draws, the pool's position and the partner statements.

Every expectation is worked out by hand from the commands (pool travel: skyway share 3, cityrail share 1,
0.0090 USD a point, half_even to the cent). The same story runs on the real server in
tests/integration/test_pools.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, days, programme, story_clock, trial_balance_holds

from loyalty_accounts.errors import DuplicateOperation, InsufficientPoints, InvalidCommand
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports


def contribute(program: LoyaltyProgram, partner: str, key: str, points: int, day: int = 0) -> None:
    program.execute(PoolContributeCommand(pool="travel", partner=partner, contribution_id=key, points=points, at=T0 + days(day)))


def test_draws_are_charged_by_shares_and_every_figure_is_a_balance(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    contribute(program, "skyway", "c-1", 3000)
    contribute(program, "cityrail", "c-2", 1001)  # 9.009 → 9.01
    earned = program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=10, at=T0 + days(1)))
    program.execute(PoolEarnCommand(customer="m2", pool="travel", earn_id="e-2", points=7, at=T0 + days(1)))
    program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="r-1", points=10, at=T0 + days(2)))
    assert earned.points == 10 and earned.transactions[0].metadata["charges"] == "cityrail=2,skyway=8"
    # m1 earned 10 and redeemed them; m2 keeps 7
    assert program.balance("m1").spendable == 0 and program.balance("m2").spendable == 7

    position = FinanceReports(ledger, program.chart).pool("travel")
    city, sky = position.members
    # skyway: 8 + 5 awarded, 8 redeemed; cityrail: 2 + 2 awarded, 2 redeemed
    assert (sky.contributed, sky.funds, sky.awarded, sky.redeemed, sky.paid) == (3000, 2979, 13, 8, Decimal("27.00"))
    assert (city.contributed, city.funds, city.awarded, city.redeemed, city.paid) == (1001, 995, 4, 2, Decimal("9.01"))
    assert position.balanced and position.total("funds") == 3974 and position.total("drawn") == 27
    assert position.declared_share("skyway") == Decimal("0.75") and position.funds_share("cityrail") == Decimal("0.250377")
    trial_balance_holds(ledger)


def test_the_partner_statements_tie_to_the_pool(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    contribute(program, "skyway", "c-1", 300)
    contribute(program, "cityrail", "c-2", 100)
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=10, at=T0 + days(1)))
    reports = FinanceReports(ledger, program.chart)
    position = reports.pool("travel")
    statements = {p: reports.partner_statement(p) for p in ("skyway", "cityrail")}
    for partner, statement in statements.items():
        (figures,) = statement.pools
        member = position.member(partner)
        assert (figures.contributed, figures.funds, figures.awarded, figures.redeemed, figures.paid) == (
            member.contributed, member.funds, member.awarded, member.redeemed, member.paid
        )
        (line,) = statement.lines
        assert (line.kind, line.operation, line.pool, line.pool_points) == ("pool", "pool_contribute", "travel", member.contributed)
        assert statement.pool_movements == member.paid == statement.ledger_closing and statement.ok
    assert sum(s.pools[0].funds for s in statements.values()) == position.total("funds") == 390
    assert sum(s.pools[0].pool_funds == 390 for s in statements.values()) == 2


def test_a_draw_the_pool_cannot_cover_is_refused_and_posts_nothing(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    contribute(program, "skyway", "c-1", 30)
    contribute(program, "cityrail", "c-2", 1000)
    posts = ledger.posts
    # 40 × 3/4 = 30 from skyway (it has 30), 10 from cityrail: fits; 44 → 33 from skyway: refused
    with pytest.raises(InsufficientPoints, match="charges skyway 33 points"):
        program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=44, at=T0 + days(1)))
    with pytest.raises(InsufficientPoints, match="holds 1030 points; the draw needs 1031"):
        program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-2", points=1031, at=T0 + days(1)))
    assert ledger.posts == posts
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-3", points=40, at=T0 + days(1)))
    assert FinanceReports(ledger, program.chart).pool("travel").member("skyway").funds == 0


def test_a_contribution_run_again_is_a_replay_and_another_with_its_key_is_refused(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    command = PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=300, at=T0)
    first = program.execute(command)
    again = program.execute(command.model_copy(update={"at": T0 + days(1)}))
    assert (first.replayed, again.replayed) == (False, True) and again.transactions[0].id == first.transactions[0].id
    with pytest.raises(DuplicateOperation):
        program.execute(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=301, at=T0))
    assert FinanceReports(ledger, program.chart).pool("travel").member("skyway").contributed == 300


def test_an_undeclared_pool_or_a_partner_outside_it_is_bad_input(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    posts = ledger.posts
    with pytest.raises(InvalidCommand, match="unknown pool 'nowhere'"):
        program.execute(PoolEarnCommand(customer="m1", pool="nowhere", earn_id="e-1", points=1, at=T0))
    with pytest.raises(InvalidCommand, match="not a member of pool 'travel'"):
        program.execute(PoolContributeCommand(pool="travel", partner="railco", contribution_id="c", points=300, at=T0))
    assert ledger.posts == posts


def test_a_pool_redemption_is_held_to_the_catalogue_reward_it_names(ledger: FakeLedger) -> None:
    """A catalogue SKU in a pool redemption: a physical one would be handed out without taking its stock,
    another at any price; both are bad input and post nothing. A label the catalogue does not list is free."""

    program = programme(ledger, clock=story_clock, pending_days=0)
    contribute(program, "skyway", "c-1", 6000)
    contribute(program, "cityrail", "c-2", 2000)
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=3000, at=T0 + days(1)))
    posts = ledger.posts
    with pytest.raises(InvalidCommand, match="MUG-BLUE is physical and a pool redemption takes no stock"):
        program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="r-1", points=1000, reward="MUG-BLUE", at=T0 + days(2)))
    with pytest.raises(InvalidCommand, match="CASH-25 costs 2500 points, not 50"):
        program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="r-2", points=50, reward="CASH-25", at=T0 + days(2)))
    assert ledger.posts == posts
    redeemed = program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="r-3", points=2500, reward="CASH-25", at=T0 + days(2)))
    labelled = program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="r-4", points=50, reward="lounge", at=T0 + days(2)))
    assert (redeemed.points, labelled.points) == (2500, 50)
    assert program.balance("m1").spendable == 450
    # the catalogue reward is recorded as a catalogue redemption records it: its SKU and its type; the label alone
    (posted,), (free,) = redeemed.transactions, labelled.transactions
    assert (posted.metadata["reward"], posted.metadata["reward_type"]) == ("CASH-25", "cashback")
    assert free.metadata["reward"] == "lounge" and "reward_type" not in free.metadata
