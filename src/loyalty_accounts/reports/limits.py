"""Limits over the whole history, read back from what the operations recorded in transaction metadata.

Each check counts what was actually posted, whatever the interleaving that
posted it, and compares it with the limit the operation was meant to hold:

- ``engagement_limits``: awards of an event (``engage`` transactions not
  reverted, by their ``customer``, ``event`` and ``awarded_on`` metadata)
  per customer ever and per customer and programme day, against the rules'
  ``per_customer`` and ``per_day``;
- ``campaign_caps``: the points each campaign charged one customer (the
  charges recorded in the earn breakdowns,
  :meth:`~loyalty_accounts.rules.EarnBreakdown.campaign_charges`, summed as
  :func:`loyalty_accounts.operations.earn.campaign_usage` sums them) against
  the campaign's ``cap_per_customer``; given the chart, also that each
  customer's usage account of a capped campaign (``customers:{c}:campaigns:{id}``,
  the balance the earns price the cap from) was credited exactly what the
  breakdowns charged (a ledger with earns from before usage accounts existed
  breaks it: their charges are not in the balance the cap is priced from);
- ``order_refunds``: the refunds of each order (posted ``refund``
  transactions and the small refunds noted on the earn, as
  :func:`loyalty_accounts.operations.refund.refunds_of` counts them) never
  add up to more than the order's amount, are in its currency and refund
  an order that earned in this ledger;
- ``refunds_after_orders``: no refund is dated before the order it refunds.

The limits are the rules given now (the programme's current rules file): an
award or a campaign the current rules no longer know is listed as info,
not judged. Without rules the two rule checks are ``not_verified``.
Each check lists at most :data:`~.check.SHOWN` offending items and
counts them all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from ..chart import Chart
from ..errors import InvalidCommand
from ..operations import EarnCommand, EarnRecord, EngageCommand, RefundCommand, RefundRecord
from ..operations.refund import small_refunds
from ..rules import EarnBreakdown, Rules
from ..types import PostedTransaction
from ..vocabulary.amounts import Money
from ..vocabulary.instants import iso_instant
from .check import Check, verdict
from .common import whole
from .invariants import effective_order

__all__ = [
    "check_campaign_caps",
    "check_engagement_limits",
    "check_order_refunds",
    "check_refunds_after_orders",
]


def _of(operation: str, transactions: Sequence[PostedTransaction]) -> list[PostedTransaction]:
    return [tx for tx in effective_order(transactions) if tx.metadata.get("operation") == operation]


def _no_rules(name: str) -> Check:
    return Check(name=name, status="not_verified", detail="no rules given: the limits are the rules'")


def check_engagement_limits(rules: Rules | None, transactions: Sequence[PostedTransaction]) -> Check:
    """No customer was awarded an event more often than the rules allow, ever or on one day."""

    name = "engagement_limits"
    if rules is None:
        return _no_rules(name)
    ever: dict[tuple[str, str], list[PostedTransaction]] = defaultdict(list)
    daily: dict[tuple[str, str, str], list[PostedTransaction]] = defaultdict(list)
    unknown: list[str] = []
    awards = [tx for tx in _of(EngageCommand.operation, transactions) if not tx.reverted]
    for tx in awards:
        customer, event = tx.metadata.get("customer", "?"), tx.metadata.get("event", "?")
        if event not in rules.engagement:
            unknown.append(f"event {event!r} is not in rules {rules.version}: its awards are not judged")
            continue
        ever[(customer, event)].append(tx)
        daily[(customer, event, tx.metadata.get("awarded_on", "?"))].append(tx)
    breaks: list[tuple[datetime, str]] = []
    for (customer, event), txs in ever.items():
        limit = rules.engagement[event].per_customer
        if limit is not None and len(txs) > limit:
            first = txs[limit]
            breaks.append((first.timestamp, f"customers {customer} {event}: {len(txs)} awards, at most {limit} per customer; "
                                            f"award {limit + 1} at {iso_instant(first.timestamp)} (#{first.id})"))
    for (customer, event, day), txs in daily.items():
        limit = rules.engagement[event].per_day
        if limit is not None and len(txs) > limit:
            first = txs[limit]
            breaks.append((first.timestamp, f"customers {customer} {event} on {day}: {len(txs)} awards, at most {limit} a day; "
                                            f"award {limit + 1} at {iso_instant(first.timestamp)} (#{first.id})"))
    detail = f"{len(awards)} award(s) counted by customer and event, ever and per day, against rules {rules.version}"
    return verdict(name, detail, [text for _, text in sorted(breaks)], sorted(set(unknown)))


def check_campaign_caps(rules: Rules | None, transactions: Sequence[PostedTransaction], chart: Chart | None = None) -> Check:
    """No campaign charged one customer more points than its ``cap_per_customer``; with ``chart``, the usage
    accounts of capped campaigns hold exactly what was charged (see the module docstring)."""

    name = "campaign_caps"
    if rules is None:
        return _no_rules(name)
    caps = {c.id: c.cap_per_customer for c in rules.campaigns}
    charged: dict[tuple[str, str], int] = defaultdict(int)
    passed: dict[tuple[str, str], PostedTransaction] = {}
    problems: list[str] = []
    unknown: list[str] = []
    earns = [tx for tx in _of(EarnCommand.operation, transactions) if "r_ver" in tx.metadata]
    for tx in earns:
        customer = tx.metadata.get("customer", "?")
        try:
            charges = EarnBreakdown.from_metadata(tx.metadata).campaign_charges()
        except InvalidCommand as exc:
            problems.append(f"#{tx.id}: {exc.message}")
            continue
        for campaign, points in charges.items():
            if campaign not in caps:
                unknown.append(f"campaign {campaign!r} is not in rules {rules.version}: its charges are not judged")
                continue
            key = (customer, campaign)
            charged[key] += points
            cap = caps[campaign]
            if cap is not None and charged[key] > cap and key not in passed:
                passed[key] = tx
    breaks = [
        (tx.timestamp, f"customers {customer} campaign {campaign}: {whole(charged[(customer, campaign)])} points charged, "
                       f"cap {caps[campaign]} per customer; passed at {iso_instant(tx.timestamp)} (#{tx.id})")
        for (customer, campaign), tx in passed.items()
    ]
    if chart is not None:
        problems.extend(_usage_mismatches(chart, caps, charged, transactions))
    detail = f"{len(earns)} priced earn(s); {len(charged)} customer-campaign usage(s) against rules {rules.version}"
    return verdict(name, detail, problems + [text for _, text in sorted(breaks)], sorted(set(unknown)))


def _usage_mismatches(
    chart: Chart, caps: dict[str, int | None], charged: dict[tuple[str, str], int], transactions: Sequence[PostedTransaction]
) -> list[str]:
    """Each (customer, capped campaign) whose usage account was not credited exactly what the earns charged."""

    credited: dict[tuple[str, str], int] = defaultdict(int)
    for tx in transactions:
        for p in tx.postings:
            if p.asset != chart.campaign_asset:
                continue
            for account, sign in ((p.destination, 1), (p.source, -1)):
                parsed = chart.parse(account)
                if parsed is not None and parsed.kind == "customer_campaign":
                    credited[(parsed.values["customer"], parsed.values["campaign"])] += sign * p.amount
    # Judged for the campaigns the rules cap now (a campaign they no longer know is listed as info above).
    keys = {key for key in (*credited, *charged) if caps.get(key[1]) is not None}
    return [
        f"customers {customer} campaign {campaign}: usage account credited {whole(credited[(customer, campaign)])}, "
        f"earns charged {whole(charged.get((customer, campaign), 0))}"
        + ("" if credited[(customer, campaign)] else " (earns posted before usage accounts existed: the cap counts only what the account holds)")
        for customer, campaign in sorted(keys)
        if credited[(customer, campaign)] != charged.get((customer, campaign), 0)
    ]


def _earns_by_order(transactions: Sequence[PostedTransaction]) -> dict[str, PostedTransaction]:
    return {tx.metadata["order_id"]: tx for tx in _of(EarnCommand.operation, transactions) if "order_id" in tx.metadata}


def check_order_refunds(transactions: Sequence[PostedTransaction]) -> Check:
    """The refunds of each order add up to at most its amount, in its currency, and refund an earned order."""

    earns = _earns_by_order(transactions)
    refunds: dict[str, list[tuple[PostedTransaction | None, RefundRecord]]] = defaultdict(list)
    breaks: list[str] = []
    for tx in _of(RefundCommand.operation, transactions):
        try:
            refunds[tx.metadata.get("order_id", "?")].append((tx, RefundRecord.from_metadata(tx.metadata)))
        except InvalidCommand as exc:
            breaks.append(f"#{tx.id}: {exc.message}")
    for order, earn in earns.items():
        try:
            noted = small_refunds(earn.metadata)
        except (ValueError, KeyError, InvalidCommand) as exc:
            breaks.append(f"order {order}: small refund notes on earn #{earn.id} unreadable ({exc!r})")
            continue
        posted = {record.refund_id for _, record in refunds.get(order, [])}
        unposted = [(None, record) for record in noted if record.refund_id not in posted]
        if unposted:
            refunds[order].extend(unposted)
    counted = 0
    for order, records in sorted(refunds.items()):
        counted += len(records)
        earn = earns.get(order)
        if earn is None:
            breaks.append(f"order {order}: {len(records)} refund(s) of an order with no earn in this ledger")
            continue
        try:
            amount = EarnRecord.from_metadata(earn.metadata).amount
        except InvalidCommand as exc:
            breaks.append(f"order {order}: earn #{earn.id}: {exc.message}")
            continue
        total = Decimal(0)
        for tx, record in records:
            where = f"refund {record.refund_id}" + (f" (#{tx.id}, {iso_instant(tx.timestamp)})" if tx is not None else " (noted on the earn)")
            if record.amount.currency != amount.currency:
                breaks.append(f"order {order}: {where} is in {record.amount.currency}, the order in {amount.currency}")
                continue
            total += record.amount.amount
        if total > amount.amount:
            written = earn.metadata.get("amount", "")  # as the earn wrote it, with the currency's decimals
            places = max(len(written.partition(".")[2]), Money(amount=total, currency=amount.currency).decimals())
            shown_total = Money(amount=total, currency=amount.currency).formatted(places)
            breaks.append(f"order {order} of customers {earn.metadata.get('customer', '?')}: "
                          f"{shown_total} {amount.currency} refunded of {amount.formatted(places)} {amount.currency}")
    detail = f"{counted} refund(s) of {len(refunds)} order(s) summed against {len(earns)} earned order(s)"
    return verdict("order_refunds", detail, breaks)


def check_refunds_after_orders(transactions: Sequence[PostedTransaction]) -> Check:
    """No refund is dated before the earn of the order it refunds."""

    earns = _earns_by_order(transactions)
    breaks: list[str] = []
    refunds = _of(RefundCommand.operation, transactions)
    for tx in refunds:
        earn = earns.get(tx.metadata.get("order_id", ""))
        if earn is not None and tx.timestamp < earn.timestamp:
            breaks.append(
                f"refund {tx.metadata.get('refund_id', '?')} (#{tx.id}) at {iso_instant(tx.timestamp)} "
                f"is dated before order {earn.metadata['order_id']} (earn #{earn.id} at {iso_instant(earn.timestamp)})"
            )
    return verdict("refunds_after_orders", f"{len(refunds)} refund(s) dated against their order's earn", breaks)
