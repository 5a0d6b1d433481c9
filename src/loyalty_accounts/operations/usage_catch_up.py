"""Usage catch-up: a capped campaign's usage account made to hold everything the campaign charged (template ``usage_catch_up``).

An earn credits ``customers:{c}:campaigns:{id}`` (the chart's campaign
asset) by what each capped campaign charged it, and the next earn prices the
cap from that balance (:func:`.earn.campaign_usage`). Earns posted before the
usage accounts existed (a ledger made with an older chart), or before the
rules capped the campaign, charged it without crediting anything: their
charges are in their breakdowns (``r_*`` metadata), not in the balance, and
the cap would count from zero. The catch-up reads every earn's breakdown of
the campaigns the rules cap, compares the sums with the usage accounts and
posts the shortfall, one transaction per customer and campaign, guarded like
any operation of the customer (its sequence leg): an earn posted while it
runs makes the plan stale, and the customer is read and planned again. The
reference names the customer, the campaign and the total charged, so runs
racing each other post one transaction, and a shortfall that appears later
is another. A second run finds nothing short and posts nothing. An account holding more
than was charged is left alone (reconcile's ``campaign_caps`` names it).

Worked example: c42's two app orders of app-week-2026-11 (bonus 150, at most
450 per customer) were earned before the upgrade; its usage account holds 0::

    program:campaigns:app-week-2026-11  -300 CAMP → customers:c42:campaigns:app-week-2026-11  +300

    reference "usage_catch_up:20261201T090000Z:c42:app-week-2026-11:300"

Reads every earn of the ledger (or of one customer): a one-off run after an
upgrade, not a hot path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Collection, Iterable, Sequence

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..rules import EarnBreakdown
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Value
from .base import SweepCommand, metadata_filter, plan_sweep
from .entry import Sweep, Writes
from .reading import Reading

TEMPLATE = "usage_catch_up"


class UsageCatchUpCommand(SweepCommand):
    """Credit every usage account of one customer that holds less than its campaign's earns charged."""

    operation = "usage_catch_up"


class UsageShortfall(Value):
    """One capped campaign's usage of one customer: what the earns charged and what the account holds (points)."""

    campaign: str
    charged: int
    held: int


def charges_by_campaign(earns: Iterable[PostedTransaction], capped: Collection[str]) -> dict[tuple[str, str], int]:
    """Points each of the ``capped`` campaigns charged each customer, summed over the earns' breakdowns:
    ``{(customer, campaign): points}``. Earns priced without a breakdown (no ``r_ver``) charged nothing."""

    charged: dict[tuple[str, str], int] = defaultdict(int)
    for tx in earns:
        if "r_ver" not in tx.metadata or "customer" not in tx.metadata:
            continue
        for campaign, points in EarnBreakdown.from_metadata(tx.metadata).campaign_charges().items():
            if campaign in capped:
                charged[(tx.metadata["customer"], campaign)] += points
    return dict(charged)


def plan(
    command: UsageCatchUpCommand, chart: Chart, catalogue: Catalogue, usage: Sequence[UsageShortfall]
) -> tuple[TransactionPlan, ...]:
    """One plan per campaign whose usage account holds less than was charged, by campaign id."""

    customer = command.customer
    return tuple(
        plan_sweep(
            command,
            chart,
            catalogue,
            template=TEMPLATE,
            values={
                "usage": monetary(chart.campaign_asset, u.charged - u.held),
                "charged": chart.campaign_charged(u.campaign),
                "account": chart.campaign_usage(customer, u.campaign),
            },
            # The total charged is part of the reference: a later shortfall (an earn priced by older code or
            # rules meanwhile) is a new transaction, even in the same second; the same one found twice is one.
            segments={"campaign": u.campaign, "charged": str(u.charged)},
            metadata={"campaign": u.campaign, "charged": str(u.charged), "held": str(u.held)},
        )
        for u in sorted(usage, key=lambda u: u.campaign)
        if u.charged > u.held
    )


def read(reading: Reading, customer: str | None) -> dict[str, list[UsageShortfall]]:
    """Per customer, the capped campaigns whose usage account holds less than the earns charged (two listings:
    the earns, then the usage accounts; the executor read the guard before, so a change between them is caught)."""

    rules = reading.require_rules("usage_catch_up")
    capped = {c.id for c in rules.campaigns if c.cap_per_customer is not None}
    if not capped:
        return {}
    chart = reading.chart
    found = metadata_filter("earn") if customer is None else metadata_filter("earn", customer=customer)
    charged = charges_by_campaign(reading.ledger.transactions(metadata=found), capped)
    if not charged:
        return {}
    held: dict[tuple[str, str], int] = {}
    for account in reading.ledger.accounts(chart.campaign_usage_filter(customer)):
        parsed = chart.parse(account.address)
        if parsed is not None and parsed.kind == "customer_campaign":
            held[(parsed.values["customer"], parsed.values["campaign"])] = account.balance(chart.campaign_asset)
    short: dict[str, list[UsageShortfall]] = defaultdict(list)
    for (owner, campaign), points in sorted(charged.items()):
        if points > held.get((owner, campaign), 0):
            short[owner].append(UsageShortfall(campaign=campaign, charged=points, held=held.get((owner, campaign), 0)))
    return dict(short)


OPERATION: Sweep[UsageCatchUpCommand, list[UsageShortfall]] = Sweep(
    command=UsageCatchUpCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "campaign", "charged", "held", "as_of"})),
    counts=lambda chart: chart.campaign_asset,  # a run answers with the campaign-asset units it credited
)
