"""Oracle: every rendered plan runs through Formance's own Numscript interpreter.

The ``numscript`` command of github.com/formancehq/numscript v0.0.24 (the
interpreter the ledger embeds) executes a script against given variables and
balances and prints the postings, or fails with "Not enough funds". Each test
feeds it a plan exactly as the ledger would receive it, with realistic
balances, and compares the postings one by one; every outcome is also checked
for conservation (each asset's balances change by a total of zero) and for
overdrafts (only accounts the chart says may go negative end negative).

The binary is built once per machine into the project's cache
(``~/.cache/loyalty-accounts/tools/numscript-v0.0.24``) with ``go install``
from the Go module proxy. Without Go these tests fail, never skip: they are the
only check of the templates against a real Numscript engine that runs without
a ledger server.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import pytest
import yaml
from support.interpreter import InterpreterUnavailable, interpreter_binary

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import (
    AdjustCommand,
    BucketBalance,
    DatedBucket,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    EarnRecord,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    ExpireCommand,
    HoldCommand,
    PendingBalance,
    Timeline,
    RedeemCommand,
    RefundCommand,
    ReleaseCommand,
    TransferCommand,
    adjust,
    capture,
    convert,
    earn,
    engage,
    exchange_in,
    exchange_out,
    expire,
    hold,
    redeem,
    refund,
    release,
    transfer,
)
from loyalty_accounts.rules import EarnBreakdown, Order, Rules, load_rules, quote
from loyalty_accounts.types import Posting, TransactionPlan
from loyalty_accounts.vocabulary.amounts import Money

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)
C = "customers:c42"


@pytest.fixture(scope="session")
def numscript_cli() -> Path:
    """The Formance numscript CLI, built into the project's cache on first use."""

    try:
        return interpreter_binary()
    except InterpreterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


def test_without_go_the_oracle_fails_with_instructions(tmp_path: Path) -> None:
    with pytest.raises(InterpreterUnavailable, match="(?s)Go was not found on PATH.*go install github.com/formancehq/numscript"):
        interpreter_binary(tmp_path / "empty", go=None)


@pytest.fixture(scope="module")
def chart() -> Chart:
    return load_chart(ROOT / "chart_of_accounts.yaml")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(ROOT / "numscript")


@pytest.fixture(scope="module")
def rules(chart: Chart) -> Rules:
    return load_rules(ROOT / "rules.yaml", chart=chart)


def chart_variant(**policies: Any) -> Chart:
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"].update(policies)
    return Chart.from_yaml(yaml.safe_dump(data), source="variant.yaml")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    postings: tuple[Posting, ...]
    error: str


@pytest.fixture
def execute(numscript_cli: Path, tmp_path: Path, chart: Chart):
    """Run a plan on the interpreter with balances {address: {asset: n}}; check the invariants."""

    counter = iter(range(1_000))

    def run(plan: TransactionPlan, balances: Mapping[str, Mapping[str, int]], *, on: Chart = chart) -> Outcome:
        n = next(counter)
        script = tmp_path / f"{plan.template}-{n}.num"
        inputs = tmp_path / f"{plan.template}-{n}.json"
        script.write_text(plan.script)
        inputs.write_text(json.dumps({"variables": dict(plan.vars), "balances": balances}))
        proc = subprocess.run(
            [str(numscript_cli), "run", str(script), "--inputs", str(inputs), "-o", "json"],
            capture_output=True, text=True, timeout=60,
        )
        if proc.returncode != 0:
            return Outcome(False, (), (proc.stdout + proc.stderr).strip())
        postings = tuple(Posting(**p) for p in json.loads(proc.stdout)["postings"])
        check_invariants(on, balances, postings)
        return Outcome(True, postings, "")

    return run


def check_invariants(chart: Chart, before: Mapping[str, Mapping[str, int]], postings: tuple[Posting, ...]) -> None:
    """Positive postings between chart accounts, balanced per asset, no forbidden overdraft."""

    after: dict[tuple[str, str], int] = defaultdict(int)
    for address, assets in before.items():
        for asset, amount in assets.items():
            after[(address, asset)] = amount
    moved_out: dict[str, int] = defaultdict(int)
    moved_in: dict[str, int] = defaultdict(int)
    for p in postings:
        assert p.amount > 0, f"zero posting {p}"
        assert chart.parse(p.source) is not None, f"{p.source} is not in the chart"
        assert chart.parse(p.destination) is not None, f"{p.destination} is not in the chart"
        moved_out[p.asset] += p.amount
        moved_in[p.asset] += p.amount
        after[(p.source, p.asset)] -= p.amount
        after[(p.destination, p.asset)] += p.amount
    assert moved_out == moved_in
    for asset in moved_out:
        total_before = sum(v.get(asset, 0) for v in before.values())
        assert sum(v for (_, a), v in after.items() if a == asset) == total_before, f"{asset} not conserved"
    touched = {p.source for p in postings} | {p.destination for p in postings}
    for (address, asset), amount in after.items():
        if amount < 0 and address in touched:
            assert chart.kind_of(address).may_go_negative, f"{address} went to {amount} {asset}"


def P(source: str, destination: str, amount: int, asset: str = "PTS") -> Posting:
    return Posting(source=source, destination=destination, amount=amount, asset=asset)


def bal(**by_expiry: int) -> list[BucketBalance]:
    out = []
    for key, points in by_expiry.items():
        expiry = None if key == "noexpiry" else date(int(key[1:5]), int(key[5:7]), int(key[7:9]))
        out.append(BucketBalance(expiry=expiry, points=points))
    return out


def ledger(**by_expiry: int) -> dict[str, dict[str, int]]:
    """The same buckets as the ledger holds them."""

    return {f"{C}:points:{k.lstrip('d')}": {"PTS": v} for k, v in by_expiry.items()}


USD = Money(amount=Decimal("125.90"), currency="USD")
EARN = EarnCommand(customer="c42", order_id="o-1", amount=USD, ordered_at=AT)


def priced(rules: Rules, command: EarnCommand, tier: str = "member") -> EarnBreakdown:
    """What the repository rules price the order at (125.90 USD, no category: general ×1 in store → 125)."""

    category, channel = rules.order_fields(command.category, command.channel)
    order = Order(customer=command.customer, order_id=command.order_id, amount=command.amount.amount,
                  currency=command.amount.currency, category=category, channel=channel, ordered_at=command.ordered_at)
    return quote(rules, order, tier=tier, campaign_usage={})


QUALIFY_125 = P("program:tiers:qualifying", f"{C}:qualifying:20260601", 125, "QPTS")


# -- earn and release -------------------------------------------------------------


def test_earn_repays_the_clawback_debt_then_fills_pending(chart, catalogue, rules, execute):
    plan = earn.plan(EARN, chart, catalogue, breakdown=priced(rules, EARN), clawback_balance=-30)
    out = execute(plan, {f"{C}:clawback": {"PTS": -30}})
    assert out.postings == (
        P("program:points:issued:7", f"{C}:clawback", 30),
        P("program:points:issued:7", f"{C}:pending:20260615:20270601", 95),
        QUALIFY_125,
    )


def test_earn_larger_debt_takes_every_point(chart, catalogue, rules, execute):
    plan = earn.plan(EARN, chart, catalogue, breakdown=priced(rules, EARN), clawback_balance=-500)
    out = execute(plan, {f"{C}:clawback": {"PTS": -500}})
    # the debt takes every point, but the purchase still qualifies in full
    assert out.postings == (P("program:points:issued:7", f"{C}:clawback", 125), QUALIFY_125)


def test_earn_without_window_or_debt_goes_to_the_bucket(catalogue, rules, execute):
    chart = chart_variant(pending_days=0)
    plan = earn.plan(EARN, chart, catalogue, breakdown=priced(rules, EARN))
    out = execute(plan, {}, on=chart)
    assert out.postings == (P("program:points:issued:7", f"{C}:points:20270601", 125), QUALIFY_125)


def test_a_campaign_priced_earn_posts_the_breakdowns_points(chart, catalogue, rules, execute):
    # groceries in store on Saturday 2026-10-24 10:00 Paris, gold: 697 (the worked example in rules/pricing.py)
    saturday = EarnCommand(customer="c42", order_id="o-2", amount=Money(amount=Decimal("120.35"), currency="EUR"),
                           ordered_at=datetime(2026, 10, 24, 8, tzinfo=timezone.utc), category="groceries", channel="store")
    plan = earn.plan(saturday, chart, catalogue, breakdown=priced(rules, saturday, tier="gold"))
    out = execute(plan, {})
    assert out.postings == (
        P("program:points:issued:7", f"{C}:pending:20261107:20271024", 697),
        P("program:tiers:qualifying", f"{C}:qualifying:20261024", 697, "QPTS"),
    )


# -- engagement ---------------------------------------------------------------------


def engage_plan(chart: Chart, catalogue: Catalogue, rules: Rules, event: str, key: str, debt: int = 0) -> TransactionPlan:
    return engage.plan(EngageCommand(customer="c42", event=event, key=key, at=AT), chart, catalogue,
                       rule=rules.engagement[event], rules_version=rules.version, clawback_balance=-debt)


def test_engage_issues_points_and_counts_the_award(chart, catalogue, rules, execute):
    plan = engage_plan(chart, catalogue, rules, "referral_completed", "ref-1", debt=300)
    out = execute(plan, {f"{C}:clawback": {"PTS": -300}})
    assert out.postings == (
        P("program:points:issued:7", f"{C}:clawback", 300),
        P("program:points:issued:7", f"{C}:points:20270601", 700),
        P(f"{C}:engagement:referral_completed", "program:engagement:referral_completed", 1, "AWARDS"),
        P(f"{C}:engagement:referral_completed:20260601", "program:engagement:referral_completed", 1, "AWARDS"),
    )


def test_the_once_per_customer_counter_refuses_a_second_award(chart, catalogue, rules, execute):
    plan = engage_plan(chart, catalogue, rules, "sign_up", "s-2")
    assert execute(plan, {}).ok
    refused = execute(plan, {f"{C}:engagement:sign_up": {"AWARDS": -1}})
    assert not refused.ok and "Not enough funds" in refused.error and refused.postings == ()


def test_the_per_day_counter_allows_exactly_the_days_limit(chart, catalogue, rules, execute):
    # review_written: at most 2 a day; the lifetime counter is not kept (no per-customer limit)
    plan = engage_plan(chart, catalogue, rules, "review_written", "rv-3")
    day = f"{C}:engagement:review_written:20260601"
    assert execute(plan, {day: {"AWARDS": -1}}).ok
    assert not execute(plan, {day: {"AWARDS": -2}}).ok
    # another day's counter does not count
    assert execute(plan, {f"{C}:engagement:review_written:20260531": {"AWARDS": -2}}).ok


def test_both_limits_must_hold(chart, catalogue, rules, execute):
    plan = engage_plan(chart, catalogue, rules, "referral_completed", "ref-21")
    ever, today = f"{C}:engagement:referral_completed", f"{C}:engagement:referral_completed:20260601"
    assert not execute(plan, {ever: {"AWARDS": -20}, today: {"AWARDS": 0}}).ok
    assert not execute(plan, {ever: {"AWARDS": -5}, today: {"AWARDS": -3}}).ok
    assert execute(plan, {ever: {"AWARDS": -19}, today: {"AWARDS": -2}}).ok


def test_release_moves_exactly_what_the_pending_account_holds_from_the_run_on(chart, catalogue, execute):
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    pending = [PendingBalance(release=date(2026, 6, 1), expiry=date(2027, 5, 18), timeline=Timeline(since=since, current=95))]
    (plan,) = release.plan(ReleaseCommand(customer="c42", as_of=AT), chart, catalogue, pending)
    # a late order added 5 more since the balances were read: those wait for a later run
    out = execute(plan, {f"{C}:pending:20260601:20270518": {"PTS": 100}})
    assert out.postings == (P(f"{C}:pending:20260601:20270518", f"{C}:points:20270518", 95),)
    # the account no longer holds them: the post fails rather than overdraw it
    assert not execute(plan, {f"{C}:pending:20260601:20270518": {"PTS": 90}}).ok


# -- spending ---------------------------------------------------------------------


def test_redeem_70_over_50_and_40_takes_50_then_20(chart, catalogue, execute):
    plan = redeem.plan(RedeemCommand(customer="c42", redemption_id="r-5", points=70, at=AT), chart, catalogue,
                       bal(d20260930=50, noexpiry=40))
    out = execute(plan, ledger(d20260930=50, noexpiry=40))
    assert out.postings == (
        P(f"{C}:points:20260930", "program:points:redeemed", 50),
        P(f"{C}:points:noexpiry", "program:points:redeemed", 20),
    )


def test_redeem_takes_from_each_bucket_exactly_what_the_plan_took(chart, catalogue, execute):
    plan = redeem.plan(RedeemCommand(customer="c42", redemption_id="r-5", points=70, at=AT), chart, catalogue,
                       bal(d20260930=50, noexpiry=40))
    # the first bucket holds 65 today, but only 50 from the redemption's instant on (what the plan read)
    out = execute(plan, ledger(d20260930=65, noexpiry=40))
    assert out.postings == (
        P(f"{C}:points:20260930", "program:points:redeemed", 50),
        P(f"{C}:points:noexpiry", "program:points:redeemed", 20),
    )


def test_a_concurrent_spend_makes_the_redeem_fail_not_overdraw(chart, catalogue, execute):
    plan = redeem.plan(RedeemCommand(customer="c42", redemption_id="r-5", points=70, at=AT), chart, catalogue,
                       bal(d20260930=50, noexpiry=40))
    out = execute(plan, ledger(d20260930=50, noexpiry=10))
    assert not out.ok
    assert "Not enough funds" in out.error


def test_hold_then_partial_capture(chart, catalogue, execute):
    held = hold.plan(HoldCommand(customer="c42", hold_id="h-9", points=70, at=AT), chart, catalogue,
                     bal(d20260930=50, d20270331=40))
    out = execute(held, ledger(d20260930=50, d20270331=40))
    assert out.postings == (
        P(f"{C}:points:20260930", f"{C}:holds:h-9", 50),
        P(f"{C}:points:20270331", f"{C}:holds:h-9", 20),
    )
    cap = capture.plan(CaptureCommand(customer="c42", hold_id="h-9", points=55, at=AT + timedelta(minutes=5)),
                       chart, catalogue, out.postings)
    out = execute(cap, {f"{C}:holds:h-9": {"PTS": 70}})
    assert out.postings == (
        P(f"{C}:holds:h-9", "program:points:redeemed", 55),
        P(f"{C}:holds:h-9", f"{C}:points:20270331", 15),
    )


def test_capture_returning_to_two_buckets(chart, catalogue, execute):
    legs = (P(f"{C}:points:20260930", f"{C}:holds:h-9", 50), P(f"{C}:points:20270331", f"{C}:holds:h-9", 20))
    cap = capture.plan(CaptureCommand(customer="c42", hold_id="h-9", points=10, at=AT), chart, catalogue, legs)
    out = execute(cap, {f"{C}:holds:h-9": {"PTS": 70}})
    assert out.postings == (
        P(f"{C}:holds:h-9", "program:points:redeemed", 10),
        P(f"{C}:holds:h-9", f"{C}:points:20270331", 20),
        P(f"{C}:holds:h-9", f"{C}:points:20260930", 40),
    )


def test_capture_of_a_voided_hold_fails(chart, catalogue, execute):
    legs = (P(f"{C}:points:20260930", f"{C}:holds:h-9", 70),)
    cap = capture.plan(CaptureCommand(customer="c42", hold_id="h-9", points=70, at=AT), chart, catalogue, legs)
    assert not execute(cap, {f"{C}:holds:h-9": {"PTS": 0}}).ok


def test_expire_moves_exactly_what_the_bucket_holds_from_the_run_on(chart, catalogue, execute):
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    held = [DatedBucket(expiry=date(2026, 9, 30), timeline=Timeline(since=since, current=12)),
            DatedBucket(expiry=date(2027, 3, 31), timeline=Timeline(since=since, current=40))]
    (plan,) = expire.plan(ExpireCommand(customer="c42", as_of=datetime(2026, 9, 30, 3, tzinfo=timezone.utc)),
                          chart, catalogue, held)
    # one more point came back after the read: it waits for a later run
    out = execute(plan, ledger(d20260930=13, d20270331=40))
    assert out.postings == (P(f"{C}:points:20260930", "program:points:expired", 12),)
    assert not execute(plan, ledger(d20260930=11, d20270331=40)).ok


def test_transfer_keeps_each_expiry(chart, catalogue, execute):
    plan = transfer.plan(TransferCommand(customer="c42", to_customer="c77", transfer_id="t-3", points=70, at=AT),
                         chart, catalogue, bal(d20260930=50, d20270331=40))
    out = execute(plan, ledger(d20260930=50, d20270331=40))
    assert out.postings == (
        P(f"{C}:points:20260930", "customers:c77:points:20260930", 50),
        P(f"{C}:points:20270331", "customers:c77:points:20270331", 20),
    )
    assert not execute(plan, ledger(d20260930=45, d20270331=40)).ok


# -- partners and credit ------------------------------------------------------------


def test_exchange_out_three_legs(chart, catalogue, execute):
    plan = exchange_out.plan(
        ExchangeOutCommand(customer="c42", exchange_id="x-1", partner="skyway", partner_points=40, at=AT),
        chart, catalogue, bal(d20260930=100, d20270331=200),
    )
    out = execute(plan, ledger(d20260930=100, d20270331=200))
    assert out.postings == (
        P(f"{C}:points:20260930", "partners:skyway:exchanged", 100),
        P(f"{C}:points:20270331", "partners:skyway:exchanged", 20),
        P("partners:skyway:issued", "partners:skyway:delivered", 40, "SKYMILES"),
        P("partners:skyway:settlement", "program:exchange:cost", 50, "USD/2"),
    )


def test_exchange_out_is_all_or_nothing(chart, catalogue, execute):
    plan = exchange_out.plan(
        ExchangeOutCommand(customer="c42", exchange_id="x-1", partner="skyway", partner_points=40, at=AT),
        chart, catalogue, bal(d20270331=200),
    )
    out = execute(plan, ledger(d20270331=100))
    assert not out.ok and out.postings == ()


def test_exchange_in_three_legs(chart, catalogue, execute):
    plan = exchange_in.plan(
        ExchangeInCommand(customer="c42", exchange_id="x-2", partner="skyway", partner_points=100, at=AT),
        chart, catalogue,
    )
    out = execute(plan, {})
    assert out.postings == (
        P("partners:skyway:issued", "partners:skyway:received", 100, "SKYMILES"),
        P("program:points:issued:7", f"{C}:points:20270601", 200),
        P("program:exchange:revenue", "partners:skyway:settlement", 80, "USD/2"),
    )


def test_convert_points_out_credit_in(chart, catalogue, execute):
    plan = convert.plan(ConvertCommand(customer="c42", conversion_id="cv-1", points=500, at=AT), chart, catalogue,
                        bal(d20260930=300, d20270331=400))
    out = execute(plan, ledger(d20260930=300, d20270331=400))
    assert out.postings == (
        P(f"{C}:points:20260930", "program:points:converted", 300),
        P(f"{C}:points:20270331", "program:points:converted", 200),
        P("program:credit:issued", f"{C}:credit", 500, "USD/2"),
    )
    failed = execute(plan, ledger(d20260930=300, d20270331=100))
    assert not failed.ok and failed.postings == ()


# -- refunds and adjustments ----------------------------------------------------------


def earn_record(release_on: date | None, qualifying_on: date | None = None) -> EarnRecord:
    return EarnRecord(customer="c42", order_id="o-1", amount=USD, points=125, ordered_at=AT,
                      release_on=release_on, expires_on=date(2027, 6, 1), qualifying_on=qualifying_on)


def refund_cmd(amount: str = "125.90", refund_id: str = "rf-1") -> RefundCommand:
    return RefundCommand(customer="c42", order_id="o-1", refund_id=refund_id,
                         amount=Money(amount=Decimal(amount), currency="USD"), at=AT + timedelta(days=30))


def test_full_refund_takes_pending_then_buckets_then_claws_back(chart, catalogue, execute):
    plan = refund.plan(refund_cmd(), chart, catalogue, earn=earn_record(date(2026, 6, 15)), previous_refunds=[],
                       buckets=bal(d20270601=40, d20261231=10), pending=20)
    out = execute(plan, {f"{C}:pending:20260615:20270601": {"PTS": 20}, **ledger(d20270601=40, d20261231=10)})
    expected = (
        P(f"{C}:pending:20260615:20270601", "program:points:issued:7", 20),
        P(f"{C}:points:20261231", "program:points:issued:7", 10),
        P(f"{C}:points:20270601", "program:points:issued:7", 40),
        P(f"{C}:clawback", "program:points:issued:7", 55),
    )
    assert out.postings == expected
    # accounts holding more today than they can give from the refund's instant on give only that
    out = execute(plan, {f"{C}:pending:20260615:20270601": {"PTS": 35}, **ledger(d20270601=90, d20261231=10)})
    assert out.postings == expected


def test_refund_with_points_still_there_needs_no_shortfall(chart, catalogue, execute):
    plan = refund.plan(refund_cmd("50.00"), chart, catalogue, earn=earn_record(None), previous_refunds=[],
                       buckets=bal(d20270601=125))
    out = execute(plan, ledger(d20270601=125))
    assert out.postings == (P(f"{C}:points:20270601", "program:points:issued:7", 49),)


def test_refund_returns_the_same_share_of_qualifying_points(chart, catalogue, execute):
    plan = refund.plan(refund_cmd("50.00"), chart, catalogue, earn=earn_record(None, date(2026, 6, 1)),
                       previous_refunds=[], buckets=bal(d20270601=125))
    out = execute(plan, {**ledger(d20270601=125), f"{C}:qualifying:20260601": {"QPTS": 125}})
    assert out.postings == (
        P(f"{C}:points:20270601", "program:points:issued:7", 49),
        P(f"{C}:qualifying:20260601", "program:tiers:qualifying", 49, "QPTS"),
    )


def test_refund_under_write_off(catalogue, execute):
    chart = chart_variant(refund_shortfall="write_off")
    plan = refund.plan(refund_cmd(), chart, catalogue, earn=earn_record(None), previous_refunds=[], buckets=[])
    out = execute(plan, {}, on=chart)
    assert out.postings == (P("program:points:written_off", "program:points:issued:7", 125),)


def test_adjust_credit_and_debit(chart, catalogue, execute):
    credit = adjust.plan(
        AdjustCommand(customer="c42", adjustment_id="a-1", direction="credit", points=50, reason="goodwill", at=AT),
        chart, catalogue,
    )
    assert execute(credit, {}).postings == (P("program:points:adjustments", f"{C}:points:20270601", 50),)
    debit = adjust.plan(
        AdjustCommand(customer="c42", adjustment_id="a-2", direction="debit", points=30, reason="goodwill", at=AT),
        chart, catalogue, bal(d20260930=10, d20270601=50),
    )
    assert execute(debit, ledger(d20260930=10, d20270601=50)).postings == (
        P(f"{C}:points:20260930", "program:points:adjustments", 10),
        P(f"{C}:points:20270601", "program:points:adjustments", 20),
    )


def test_a_long_fifo_list_runs(chart, catalogue, execute):
    many = {f"d2026{m:02d}28": 3 for m in range(7, 13)} | {f"d2027{m:02d}28": 3 for m in range(1, 13)}
    plan = redeem.plan(RedeemCommand(customer="c42", redemption_id="r-9", points=50, at=AT), chart, catalogue,
                       bal(**many))
    out = execute(plan, ledger(**many))
    assert [p.amount for p in out.postings] == [3] * 16 + [2]
    assert [p.source for p in out.postings] == [f"{C}:points:{k[1:]}" for k in sorted(many)][:17]
