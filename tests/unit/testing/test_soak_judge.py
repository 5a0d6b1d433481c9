"""The soak judge on hand-made histories: each violation kind is found, and allowed answers pass."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from support.programme import chart_with, rules_text

from loyalty_accounts.chart import Chart
from loyalty_accounts.operations import AdjustCommand, RedeemCommand
from loyalty_accounts.rules import Rules, parse_rules
from loyalty_accounts.testing.book import Entry, Leg, net_of
from loyalty_accounts.testing.judge import Outcome, Posted, judge
from loyalty_accounts.testing.workload import Op, generate

T = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
EXPIRY = date(2027, 11, 1)


@pytest.fixture
def setup() -> tuple[Chart, Rules]:
    chart = chart_with()
    return chart, parse_rules(rules_text(), source="rules.yaml", chart=chart)


def posted(id: int, at: datetime, command: AdjustCommand | RedeemCommand, *legs: Leg) -> Posted:
    meta = {"operation": command.operation, "command_hash": command.fingerprint(), "customer": command.customer}
    return Posted(Entry(id, at, legs, meta, command.reference()), T + timedelta(seconds=id))  # inserted in id order


def balances(history: list[Posted]) -> dict[tuple[str, str], int]:
    total: dict[tuple[str, str], int] = {}
    for p in history:
        for key, amount in net_of(p.entry.legs).items():
            total[key] = total.get(key, 0) + amount
    return total


def test_a_history_the_model_allows_has_no_violation_and_a_spend_before_its_points_has_two(setup: tuple[Chart, Rules]) -> None:
    chart, rules = setup
    credit = AdjustCommand(customer="c1", adjustment_id="a1", direction="credit", points=100, reason="goodwill",
                           at=T - timedelta(hours=3))
    redeem = RedeemCommand(customer="c1", redemption_id="r1", points=60, at=T - timedelta(hours=2))
    refused = RedeemCommand(customer="c1", redemption_id="r2", points=50, at=T - timedelta(hours=1))
    ops = [Op(0, "adjust", credit), Op(1, "redeem", redeem), Op(2, "redeem", refused)]
    history = [
        posted(1, credit.at, credit, Leg(chart.adjustments(), chart.bucket("c1", EXPIRY), "PTS", 100)),
        posted(2, redeem.at, redeem, Leg(chart.bucket("c1", EXPIRY), chart.redeemed(), "PTS", 60)),
    ]
    start = T + timedelta(seconds=3)
    outcomes = {
        0: Outcome("posted", T, T + timedelta(seconds=1), tx_ids=(1,)),
        1: Outcome("posted", T, T + timedelta(seconds=2), tx_ids=(2,)),
        2: Outcome("refused", start, start + timedelta(seconds=1), error="funds"),
    }
    verdict = judge(ops, outcomes, history, chart=chart, rules=rules, ledger_balances=balances(history))
    assert verdict.violations == []
    assert verdict.outcomes == {"posted": 2, "refused:funds": 1}

    # The same redeem dated before the credit: posted against points it could not see, bucket negative meanwhile.
    early = redeem.model_copy(update={"at": T - timedelta(hours=4)})
    history[1] = posted(2, early.at, early, Leg(chart.bucket("c1", EXPIRY), chart.redeemed(), "PTS", 60))
    ops[1] = Op(1, "redeem", early)
    # And a refusal of 30 points while 40 were spendable all through the call.
    ops[2] = Op(2, "redeem", refused.model_copy(update={"points": 30}))
    verdict = judge(ops, outcomes, history, chart=chart, rules=rules, ledger_balances=balances(history))
    counts = verdict.counts()
    assert counts["posted_refused"] == 1 and counts["negative"] == 1 and counts["bad_answer"] == 1
    assert verdict.first_failing_op == 1


def test_balances_that_differ_from_the_history_are_reported(setup: tuple[Chart, Rules]) -> None:
    chart, rules = setup
    credit = AdjustCommand(customer="c1", adjustment_id="a1", direction="credit", points=100, reason="goodwill", at=T)
    history = [posted(1, T, credit, Leg(chart.adjustments(), chart.bucket("c1", EXPIRY), "PTS", 100))]
    wrong = {**balances(history), (chart.bucket("c1", EXPIRY), "PTS"): 99}
    outcomes = {0: Outcome("posted", T, T, tx_ids=(1,))}
    verdict = judge([Op(0, "adjust", credit)], outcomes, history, chart=chart, rules=rules, ledger_balances=wrong)
    assert verdict.counts()["balance_mismatch"] == 1 and verdict.counts()["trial_balance"] == 0


def test_the_workload_is_seeded_and_varied() -> None:
    base = datetime(2026, 11, 30, tzinfo=timezone.utc)
    ops = generate(3, 400, base=base)
    assert [op.describe() for op in ops] == [op.describe() for op in generate(3, 400, base=base)]
    assert [op.describe() for op in ops] != [op.describe() for op in generate(4, 400, base=base)]
    kinds = {op.kind for op in ops}
    assert {"earn", "engage", "redeem", "hold", "capture", "void", "transfer", "refund", "adjust", "convert",
            "exchange_in", "exchange_out", "release", "expire"} <= kinds
    assert any("repeat of" in op.note for op in ops) and any("conflicts with" in op.note for op in ops)
    conflicts = [op for op in ops if "conflicts with" in op.note]
    assert all(op.fingerprint != ops[int(op.note.split("#")[1])].fingerprint for op in conflicts)
    assert all(op.reference == ops[int(op.note.split("#")[1])].reference for op in conflicts)
