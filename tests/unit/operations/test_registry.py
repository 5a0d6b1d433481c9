"""Every operation's templates exist, each plan supplies exactly the vars its template declares,
and writes exactly the metadata its registry entry says."""

from __future__ import annotations

import pkgutil
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from importlib import import_module, invalidate_caches
from pathlib import Path
from typing import Iterator

import pytest
from opsupport import AT, buckets, d, dated_buckets, priced, steady

from loyalty_accounts.operations import pool_contribute, pool_earn, pool_redeem
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool import PoolFunds
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts import operations
from loyalty_accounts.operations import (
    OPERATIONS,
    RESERVED_METADATA,
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    EarnRecord,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    ExpireCommand,
    HoldCommand,
    OpenCounterCommand,
    Operation,
    PendingBalance,
    RedeemCommand,
    RefundCommand,
    ReleaseCommand,
    TransferCommand,
    adjust,
    capture,
    convert,
    discover_operations,
    earn,
    engage,
    exchange_in,
    exchange_out,
    expire,
    hold,
    open_control,
    open_counter,
    period_close,
    redeem,
    refund,
    release,
)
from loyalty_accounts.operations import transfer as transfer_op
from loyalty_accounts.operations import void as void_op
from loyalty_accounts.operations import VoidCommand
from loyalty_accounts.operations.guard import EXECUTOR_TEMPLATES
from loyalty_accounts.operations.period_close import PeriodCloseCommand
from loyalty_accounts.operations import revenue_estimate
from loyalty_accounts.operations.revenue_estimate import Estimates, RevenueEstimateCommand
from loyalty_accounts.operations import UsageCatchUpCommand, usage_catch_up
from loyalty_accounts.operations.usage_catch_up import UsageShortfall
from loyalty_accounts.operations import restock
from loyalty_accounts.operations.redeem import RedeemState
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.operations.stock import RewardPick
from loyalty_accounts.rules import Reward
from loyalty_accounts.operations import review as review_op
from loyalty_accounts.operations.redeem_review import Redeeming, Verdict
from loyalty_accounts.operations.review import Held, ReviewCommand
from loyalty_accounts.types import Posting, TransactionPlan
from loyalty_accounts.vocabulary.amounts import Money

MANY = buckets(d20260930=5, d20261231=5, d20270331=5, d20270601=500, noexpiry=500)
MANY_DATED = dated_buckets(d20260930=5, d20261231=5, d20270331=5, d20270601=500)


def sample_plans(chart, catalogue, rules) -> list[TransactionPlan]:
    """At least one plan of every operation and template, several with lists of length > 1."""

    usd = Money(amount=Decimal("125.90"), currency="USD")
    earn_cmd = EarnCommand(customer="c42", order_id="o-1", amount=usd, ordered_at=AT)
    earned = earn.plan(earn_cmd, chart, catalogue, breakdown=priced(rules, earn_cmd), clawback_balance=-3)
    assert earned is not None
    refunded = refund.plan(
        RefundCommand(customer="c42", order_id="o-1", refund_id="rf-1", amount=usd, at=AT),
        chart, catalogue, earn=EarnRecord.from_metadata(earned.metadata), previous_refunds=[], buckets=MANY, pending=2,
    )
    assert refunded is not None
    hold_postings = [
        Posting(source="customers:c42:points:20260930", destination="customers:c42:holds:h-9", amount=5, asset="PTS"),
        Posting(source="customers:c42:points:20261231", destination="customers:c42:holds:h-9", amount=5, asset="PTS"),
    ]
    plans = [
        # a redemption held for review and its decisions first: the last plan of a template is the one
        # test_lists_of_several_elements_are_exercised looks at
        redeem.route(
            RedeemCommand(customer="c42", redemption_id="r-2", points=12, at=AT), chart, catalogue,
            Redeeming(buckets=tuple(MANY), verdict=Verdict(reasons=("velocity_points",), deadline=AT + timedelta(hours=72))),
        ),
        *(
            review_op.plan(
                ReviewCommand(customer="c42", redemption_id="r-2", decision=decision, operator="ops-7", reason="suspected_fraud", at=AT),
                chart, catalogue,
                Held(
                    hold_id="rv-r-2",
                    postings=tuple(p.model_copy(update={"destination": "customers:c42:holds:rv-r-2"}) for p in hold_postings),
                    placed_at=AT, deadline=AT + timedelta(hours=72), available={"PTS": 10}, metadata={},
                ),
            )
            for decision in ("approved", "rejected")
        ),
        earned,
        refunded,
        *release.plan(
            ReleaseCommand(customer="c42", as_of=AT), chart, catalogue,
            [PendingBalance(release=d("2026-06-01"), expiry=d("2027-05-18"), timeline=steady(10))],
        ),
        hold.plan(HoldCommand(customer="c42", hold_id="h-9", points=12, at=AT), chart, catalogue, MANY),
        capture.plan(CaptureCommand(customer="c42", hold_id="h-9", points=3, at=AT), chart, catalogue, hold_postings),
        redeem.plan(RedeemCommand(customer="c42", redemption_id="r-1", points=12, at=AT), chart, catalogue, MANY),
        *expire.plan(
            ExpireCommand(customer="c42", as_of=datetime(2027, 1, 1, tzinfo=timezone.utc)), chart, catalogue, MANY_DATED
        ),
        transfer_op.plan(
            TransferCommand(customer="c42", to_customer="c77", transfer_id="t-1", points=12, at=AT), chart, catalogue, MANY
        ),
        exchange_out.plan(
            ExchangeOutCommand(customer="c42", exchange_id="x-1", partner="skyway", partner_points=5, at=AT),
            chart, catalogue, MANY,
        ),
        exchange_in.plan(
            ExchangeInCommand(customer="c42", exchange_id="x-2", partner="skyway", partner_points=5, at=AT), chart, catalogue
        ),
        convert.plan(ConvertCommand(customer="c42", conversion_id="cv-1", points=100, at=AT), chart, catalogue, MANY),
        pool_contribute.plan(
            PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="pc-1", points=1000, at=AT), chart, catalogue
        ),
        pool_earn.plan(
            PoolEarnCommand(customer="c42", pool="travel", earn_id="pe-1", points=12, at=AT), chart, catalogue,
            PoolFunds(count=3, funds={"skyway": 9, "cityrail": 3}),
        ),
        pool_redeem.plan(
            PoolRedeemCommand(customer="c42", pool="travel", redemption_id="pr-1", points=12, at=AT),
            chart, catalogue, (MANY, PoolFunds(count=4, funds={"skyway": 50, "cityrail": 50})),
        ),
        adjust.plan(
            AdjustCommand(customer="c42", adjustment_id="a-1", direction="credit", points=5, reason="goodwill", at=AT),
            chart, catalogue,
        ),
        adjust.plan(
            AdjustCommand(customer="c42", adjustment_id="a-2", direction="debit", points=12, reason="goodwill", at=AT),
            chart, catalogue, MANY,
        ),
        engage.plan(
            EngageCommand(customer="c42", event="referral_completed", key="ref-1", at=AT),
            chart, catalogue, rule=rules.engagement["referral_completed"], rules_version=rules.version,
        ),
        open_counter.plan(OpenCounterCommand(customer="c42", event="referral_completed"), chart, catalogue),
        open_control.open_control(chart, catalogue, chart.sequence("c42")),
        period_close.plan(PeriodCloseCommand(through=AT), chart, catalogue, None),
        revenue_estimate.plan(
            RevenueEstimateCommand(effective=AT, estimates=Estimates(breakage_rate=Decimal("0.2"), fx=(("EUR", Decimal("1.08")),)), approved_by="cfo", reason="launch"),
            chart, catalogue, None,
        ),
        void_op.plan(VoidCommand(customer="c42", hold_id="h-9"), chart, catalogue, hold_postings),
        *usage_catch_up.plan(
            UsageCatchUpCommand(customer="c42", as_of=AT), chart, catalogue,
            [UsageShortfall(campaign="app-week-2026-11", charged=300, held=150)],
        ),
        *catalogue_plans(chart, catalogue),
    ]
    return plans


def catalogue_plans(chart, catalogue) -> list[TransactionPlan]:
    """A physical reward's redemption (points and a unit of stock) and a restock."""

    mug = RewardPick(sku="MUG-BLUE", reward_type="product", points=1000, physical=True, stock=2)
    return [
        redeem.plan(
            RedeemCommand(customer="c42", redemption_id="r-2", reward="MUG-BLUE", at=AT), chart, catalogue,
            RedeemState(buckets=tuple(MANY), reward=mug),
        ),
        restock.plan(
            RestockCommand(reward="MUG-BLUE", units=3, restock_id="rs-1", at=AT), chart, catalogue,
            Reward(sku="MUG-BLUE", type="product", name="Blue enamel mug", value=Decimal("12.50"), physical=True),
        ),
        # its review hold (points and the unit) and the hold's approval (points redeemed, unit delivered)
        redeem.route(
            RedeemCommand(customer="c42", redemption_id="r-3", reward="MUG-BLUE", at=AT), chart, catalogue,
            RedeemState(buckets=tuple(MANY), reward=mug, verdict=Verdict(reasons=("points_above_threshold",), deadline=AT + timedelta(hours=72))),
        ),
        review_op.plan(
            ReviewCommand(customer="c42", redemption_id="r-3", decision="approved", operator="ops-7", reason="suspected_fraud", at=AT),
            chart, catalogue,
            Held(
                hold_id="rv-r-3",
                postings=(
                    Posting(source="customers:c42:points:noexpiry", destination="customers:c42:holds:rv-r-3", amount=1000, asset="PTS"),
                    Posting(source="catalogue:MUG-BLUE:stock", destination="customers:c42:holds:rv-r-3", amount=1, asset="UNITS"),
                ),
                placed_at=AT, deadline=AT + timedelta(hours=72), available={"PTS": 1000}, metadata={"reward": "MUG-BLUE"},
            ),
        ),
    ]


def test_every_template_of_the_catalogue_belongs_to_an_operation_or_the_guard(catalogue):
    used = {t for info in OPERATIONS.values() for t in info.templates}
    assert used.isdisjoint(EXECUTOR_TEMPLATES)
    assert used | set(EXECUTOR_TEMPLATES) == set(catalogue.names)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_has_its_templates(name, catalogue):
    info = OPERATIONS[name]
    assert info.command.operation == name
    for template in info.templates:
        assert template in catalogue
        assert callable(info.plan) and callable(info.read)


def test_plans_supply_exactly_the_declared_vars(chart, catalogue, rules):
    plans = sample_plans(chart, catalogue, rules)
    assert {p.template for p in plans} == set(catalogue.names) - set(EXECUTOR_TEMPLATES)
    for plan in plans:
        assert plan.template in OPERATIONS[plan.operation].templates
        template = catalogue.get(plan.template)
        lengths = {
            n: sum(1 for v in plan.vars if v.startswith(n + "_") and v[len(n) + 1:].isdigit())
            for n in template.list_vars
        }
        assert tuple(plan.vars) == template.expanded_names(lengths), plan.template
        assert plan.script == template.render(lengths)
        assert all(isinstance(v, str) for v in plan.vars.values())
        assert all(isinstance(v, str) for v in plan.metadata.values())
        assert plan.reference.startswith(plan.operation + ":")
        assert set(plan.metadata).isdisjoint({"operation", "template", "command_hash"})
        # every account var is an account of the chart
        for decl in template.vars:
            if decl.type == "account":
                names = [k for k in plan.vars if k == decl.name or (decl.is_list and k.rsplit("_", 1)[0] == decl.name)]
                for k in names:
                    assert chart.parse(plan.vars[k]) is not None, (plan.template, k)


def test_plans_write_what_their_entry_says(chart, catalogue, rules):
    plans = sample_plans(chart, catalogue, rules)
    assert {p.operation for p in plans} == set(OPERATIONS)
    for plan in plans:
        writes = OPERATIONS[plan.operation].writes
        keys = set(plan.all_metadata())
        undeclared = sorted(key for key in keys if not writes.allows(key))
        assert not undeclared, (plan.operation, undeclared)
        missing = sorted((RESERVED_METADATA | writes.required) - keys)
        assert not missing, (plan.operation, missing)
        if writes.business_key:
            assert plan.reference.endswith(":" + plan.metadata[writes.business_key]), plan.reference


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_the_business_key_is_the_commands_key(name):
    entry = OPERATIONS[name]
    assert entry.writes.business_key == entry.command.key_field
    assert all(entry.writes.allows(key) for key in RESERVED_METADATA)
    # every operation says whose points it moves, but the opening of a control account moves none
    assert entry.writes.allows("customer") or name in ("open_control", "period_close", "revenue_estimate", "pool_contribute", "restock")


def test_lists_of_several_elements_are_exercised(chart, catalogue, rules):
    plans = {p.template: p for p in sample_plans(chart, catalogue, rules)}
    assert "counter_1" in plans["engage"].vars
    assert "qualified_0" in plans["refund"].vars
    assert "buckets_2" in plans["redeem"].vars and "taken_2" in plans["redeem"].vars
    assert "sources_2" in plans["refund"].vars
    assert "moved_2" in plans["transfer"].vars
    assert "returned_1" in plans["capture"].vars


# -- discovery ---------------------------------------------------------------

THROWAWAY = "throwaway_operations"

BONUS_MODULE = """
from loyalty_accounts.operations import Command, Operation, Writes
from loyalty_accounts.operations.reading import nothing


class BonusCommand(Command):
    operation = "bonus"
    key_field = "bonus_id"

    customer: str
    bonus_id: str


OPERATION = Operation(
    command=BonusCommand,
    templates=("adjust_credit",),
    read=nothing,
    plan=lambda command, chart, catalogue, state: None,
    writes=Writes(required=frozenset({"customer", "bonus_id"}), business_key="bonus_id"),
)
"""


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty package ``throwaway_operations`` in tmp_path, importable; forgotten afterwards."""

    package = tmp_path / THROWAWAY
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [n for n in sys.modules if n == THROWAWAY or n.startswith(THROWAWAY + ".")]:
        del sys.modules[name]


def write_module(package: Path, name: str, source: str) -> None:
    (package / f"{name}.py").write_text(textwrap.dedent(source))


def test_discovery_registers_each_module_defining_an_operation_and_skips_the_others(throwaway: Path) -> None:
    write_module(throwaway, "bonus", BONUS_MODULE)
    write_module(throwaway, "helpers", "POINTS_PER_BONUS = 10\n")
    found = discover_operations(THROWAWAY)
    assert list(found) == ["bonus"]
    entry = found["bonus"]
    assert isinstance(entry, Operation) and entry.name == "bonus" and entry.writes.business_key == "bonus_id"
    assert entry is sys.modules[f"{THROWAWAY}.bonus"].OPERATION
    assert f"{THROWAWAY}.helpers" in sys.modules  # imported, and skipped: it defines no OPERATION


def test_two_entries_with_one_name_or_an_operation_of_another_type_are_refused(throwaway: Path) -> None:
    write_module(throwaway, "bonus", BONUS_MODULE)
    write_module(throwaway, "twin", "from .bonus import OPERATION\n")
    with pytest.raises(TypeError, match=f"{THROWAWAY}.twin.OPERATION must be a new Operation or Sweep"):
        discover_operations(THROWAWAY)
    (throwaway / "twin.py").unlink()
    write_module(throwaway, "wrong", "OPERATION = 'bonus'\n")
    invalidate_caches()
    with pytest.raises(TypeError, match=f"{THROWAWAY}.wrong.OPERATION must be a new Operation or Sweep"):
        discover_operations(THROWAWAY)


def test_the_registry_is_every_operation_module_of_the_package_in_name_order() -> None:
    assert dict(discover_operations(operations.__name__)) == dict(OPERATIONS)
    modules = sorted(m.name for m in pkgutil.iter_modules(operations.__path__))
    with_entry = [name for name in modules if hasattr(import_module(f"{operations.__name__}.{name}"), "OPERATION")]
    assert list(OPERATIONS) == with_entry  # each module is named after its operation
    assert "void" in OPERATIONS and not hasattr(operations.spend, "OPERATION")
