"""Refund: take back the points an order earned, in proportion to what was refunded (template ``refund``).

After this refund the order has lost ``floor(earned × cumulative_refunded /
order_amount)`` points in total, computed exactly (rational arithmetic, no
binary floats); this refund reverses that minus what earlier refunds already
reversed, so any sequence of partial refunds ends, at a full refund, with
every earned point reversed and rounding never drifts. Refunding more than
the order's amount is refused.

The points return to the customer's issuance shard (un-issuing them). An
order that earned bonus points (``bonus_points`` on its earn) loses them in
the same proportion (cumulative, exact, like the total), the rest being base
points; each kind is taken from the order's pending account of that kind
first (when the chart had a chargeback window at earn time), then the
customer's buckets of that kind soonest-expiring first, then any bucket
soonest-expiring first (including buckets already due for expiry: those
points were about to go anyway), each giving at most what it holds at the refund's instant and at
every later one (:mod:`.timeline`), and what the customer no longer has from
the policy's last source, which may go negative:

- ``allow_negative`` / ``claw_back``: ``customers:{c}:clawback``, the
  customer's recorded debt (claw_back also repays it from the next earnings);
- ``write_off``: ``program:points:written_off``, absorbed by the programme.

As many qualifying points leave the qualifying account of the order's date
(the earn recorded it as ``qualifying_on``) for ``program:tiers:qualifying``:
the refunded share of the purchase stops counting towards the tier of the
window the order was placed in, and only that window (a refund today of an
order already outside the window changes nothing about today's tier). That
account always holds them: it received the order's points as qualifying
points and gives back at most that many over all its refunds.

Worked example, claw_back; order o-1 earned 125 points on 125.90 USD on
2026-03-01, already released; customer now has 20270301: 40 only; full
refund rf-1::

    customers:c42:points:20270301      -40 → program:points:issued:7  +125
    customers:c42:clawback             -85 ↗   (debt of 85 points)
    customers:c42:qualifying:20260301 -125 QPTS → program:tiers:qualifying +125 QPTS

    reference "refund:rf-1"; metadata customer=c42, order_id=o-1,
    refund_id=rf-1, amount=125.90, currency=USD, points=125,
    refunded_total=125.90

A refund is dated at or after its order: one dated before the order's
``ordered_at`` is refused (InvalidCommand) and posts nothing.

A refund too small to reverse a further whole point has nothing to post:
the plan is None. Such a refund leaves no transaction, so the service must
keep it in the ``previous_refunds`` it passes for the order's next refund,
or the cumulative amount will be understated.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Mapping, Sequence

from pydantic import Field

from ..chart import BASE, BONUS, Chart, PointKind
from ..errors import InvalidCommand, OperationRefused
from ..numscript import Catalogue, monetary
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.amounts import Money, round_to
from ..vocabulary.frozen import Frozen, Value
from ..vocabulary.ids import BusinessKey, CustomerId
from ..vocabulary.instants import Instant, iso_instant
from .base import Command, metadata_filter, plan_command
from .earn import EarnRecord, find_earn
from .entry import Operation, Writes
from .fifo import BucketBalance, fifo_order
from .reading import Reading

TEMPLATE = "refund"
SMALL_REFUND_PREFIX = "small_refund:"
"""Metadata key prefix, on the order's earn, of a refund too small to post (``small_refund:{refund_id}``)."""
SMALL_REFUND_NOTE = "the refund is too small to reverse a whole point; recorded on the order's earn"


class RefundCommand(Command):
    """Refund ``amount`` of order ``order_id``."""

    operation = "refund"
    key_field = "refund_id"
    customer: CustomerId
    order_id: BusinessKey
    refund_id: BusinessKey
    amount: Money
    at: Instant


class RefundRecord(Value):
    """An earlier refund of the same order: its amount and the points it reversed."""

    refund_id: BusinessKey
    amount: Money
    points: Annotated[int, Field(ge=0, strict=True)]
    bonus_points: Annotated[int, Field(ge=0, strict=True)] = 0
    """Of ``points``, the bonus points it reversed (0 for an order that earned none)."""

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "RefundRecord":
        """Parse the metadata a refund plan wrote."""

        try:
            return cls(
                refund_id=metadata["refund_id"],
                amount=Money(amount=metadata["amount"], currency=metadata["currency"]),
                points=int(metadata["points"]),
                bonus_points=int(metadata.get("bonus_points", "0")),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidCommand(f"refund metadata is incomplete or malformed: {exc!r}") from None


def points_to_reverse(earned: int, order_amount: Money, refunded_total: Money, already_reversed: int) -> int:
    """floor(earned × refunded_total / order_amount) − already_reversed, exactly, never below 0."""

    target = (Fraction(earned) * Fraction(refunded_total.amount)) // Fraction(order_amount.amount)
    return max(0, int(target) - already_reversed)


def plan(
    command: RefundCommand,
    chart: Chart,
    catalogue: Catalogue,
    *,
    earn: EarnRecord,
    previous_refunds: Sequence[RefundRecord],
    buckets: Sequence[BucketBalance],
    pending: int = 0,
    bonus_pending: int = 0,
) -> TransactionPlan | None:
    """The refund, or None when it reverses no further point.

    ``earn`` is the order's earn (from its metadata), ``previous_refunds`` the
    order's earlier refunds (a record with this refund's own id is ignored, so
    a replay plans the same transaction), ``buckets`` the customer's buckets,
    ``pending`` and ``bonus_pending`` the order's pending accounts (base and
    bonus points), each with the points it can give at the refund's instant.
    InvalidCommand for a refund dated before its order.
    """

    customer = command.customer
    if earn.customer != customer or earn.order_id != command.order_id:
        raise InvalidCommand(f"order {command.order_id} of customer {customer} does not match the earn record")
    if command.at < earn.ordered_at:
        raise InvalidCommand(
            f"refund {command.refund_id} is dated {iso_instant(command.at)}, before its order {command.order_id} "
            f"({iso_instant(earn.ordered_at)})"
        )
    currency = command.amount.currency
    if currency != earn.amount.currency:
        raise InvalidCommand(f"refund in {currency} of an order paid in {earn.amount.currency}")
    decimals = chart.order_currency(currency).decimals
    if command.amount.decimals() > decimals:
        raise InvalidCommand(f"{command.amount.amount} {currency} has more than {decimals} decimals")
    earlier = [r for r in previous_refunds if r.refund_id != command.refund_id]
    for r in earlier:
        if r.amount.currency != currency:
            raise InvalidCommand(f"earlier refund {r.refund_id} is in {r.amount.currency}, not {currency}")
    total = sum((r.amount.amount for r in earlier), command.amount.amount)
    if total > earn.amount.amount:
        already = round_to(total - command.amount.amount, decimals, "half_even")  # 0 when nothing was refunded: not a Money
        raise OperationRefused(
            f"refunds of order {command.order_id} would total {Money(amount=total, currency=currency).formatted(decimals)} "
            f"{currency}, more than its amount {earn.amount.formatted(decimals)} {currency} "
            f"({already} {currency} refunded already)"
        )
    refunded_total = Money(amount=total, currency=currency)
    points = points_to_reverse(earn.points, earn.amount, refunded_total, sum(r.points for r in earlier))
    if points == 0:
        return None

    bonus = min(points, points_to_reverse(earn.bonus_points, earn.amount, refunded_total, sum(r.bonus_points for r in earlier)))
    taken = take_by_kind(chart, earn, buckets, {BASE: points - bonus, BONUS: bonus}, {BASE: pending, BONUS: bonus_pending})
    policy = chart.policies.refund_shortfall
    shortfall = chart.written_off() if policy == "write_off" else chart.clawback(customer)
    qualified = [chart.qualifying(customer, earn.qualifying_on)] if earn.qualifying_on else []
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "points": monetary(chart.points_asset, points),
            "taken": [monetary(chart.points_asset, amount) for _, amount in taken],
            "sources": [address for address, _ in taken],
            "shortfall": shortfall,
            "issued": chart.issued_shard(customer),
            "qualifying": [monetary(chart.qualifying_asset, points) for _ in qualified],
            "qualified": qualified,
            "tiers": [chart.tiers_qualifying() for _ in qualified],
        },
        metadata={
            "customer": customer,
            "order_id": command.order_id,
            "refund_id": command.refund_id,
            "amount": command.amount.formatted(decimals),
            "currency": currency,
            "points": str(points),
            "refunded_total": refunded_total.formatted(decimals),
            "shortfall_policy": policy,
            **({"bonus_points": str(bonus)} if earn.bonus_points else {}),
        },
        timestamp=command.at,
    )


def take_by_kind(
    chart: Chart,
    earn: EarnRecord,
    buckets: Sequence[BucketBalance],
    points: Mapping[PointKind, int],
    pending: Mapping[PointKind, int],
) -> list[tuple[str, int]]:
    """(account, points) a refund takes back: for each kind of the order's points (bonus first, then base), its
    ``points[kind]`` from the order's pending account of that kind, then the customer's buckets of that kind
    soonest-expiring first, then any other bucket soonest-expiring first; an account appears once, with what
    both kinds took from it. What they all hold short of the total is left to the shortfall account."""

    ordered = fifo_order(buckets)
    left = {chart.bucket(earn.customer, b.expiry, b.kind): b.points for b in ordered}
    own_pending = {
        BASE: (earn.release_on, earn.expires_on),
        BONUS: (earn.release_on, earn.bonus_expires_on),
    }
    taken: dict[str, int] = {}
    for kind in (BONUS, BASE):
        wanted = points.get(kind, 0)
        if wanted <= 0:
            continue
        release, expiry = own_pending[kind]
        sources: list[str] = []
        if release is not None and (kind == BASE or earn.bonus_points):
            address = chart.pending(earn.customer, release, expiry, kind)
            left.setdefault(address, pending.get(kind, 0))
            sources.append(address)
        sources += [chart.bucket(earn.customer, b.expiry, b.kind) for b in ordered if b.kind == chart.point_kind(kind)]
        sources += [chart.bucket(earn.customer, b.expiry, b.kind) for b in ordered]
        for address, amount in take_in_order([(a, left[a]) for a in dict.fromkeys(sources)], wanted):
            left[address] -= amount
            taken[address] = taken.get(address, 0) + amount
    return list(taken.items())


def take_in_order(held: Sequence[tuple[str, int]], points: int) -> list[tuple[str, int]]:
    """(account, points) taken from each of ``held`` (account, points it can give) in order, up to ``points``.

    Accounts that give nothing are left out; what they all hold short of
    ``points`` is left to the shortfall account.
    """

    out = []
    left = points
    for address, available in held:
        amount = min(max(0, available), left)
        if amount > 0:
            out.append((address, amount))
            left -= amount
    return out


# -- refunds too small to post, recorded on the order's earn ---------------


def small_refund_key(refund_id: str) -> str:
    """The key, in the metadata of the order's earn, of a refund that reversed no whole point."""

    return SMALL_REFUND_PREFIX + refund_id


def small_refund_note(command: RefundCommand) -> dict[str, str]:
    """The metadata to add to the order's earn for ``command``, a refund that reverses no whole point.

    A refund too small to reverse a whole point posts no transaction, yet its
    amount must count towards later refunds of the order (three refunds of a
    third each reverse everything): it is kept on the earn, under its refund id,
    with its command hash so that a replay is told from another refund.
    """

    note = {"amount": str(command.amount.amount), "currency": command.amount.currency, "command_hash": command.fingerprint()}
    return {small_refund_key(command.refund_id): json.dumps(note, sort_keys=True)}


def small_refund_hash(earn_metadata: Mapping[str, str], refund_id: str) -> str | None:
    """The command hash of the small refund ``refund_id`` recorded on the earn; None if none is recorded."""

    recorded = earn_metadata.get(small_refund_key(refund_id))
    return None if recorded is None else json.loads(recorded).get("command_hash")


def small_refunds(earn_metadata: Mapping[str, str]) -> list[RefundRecord]:
    """The small refunds recorded on an earn, as refunds that reversed 0 points."""

    out = []
    for key, value in earn_metadata.items():
        if key.startswith(SMALL_REFUND_PREFIX):
            note = json.loads(value)
            out.append(
                RefundRecord(
                    refund_id=key[len(SMALL_REFUND_PREFIX):],
                    amount=Money(amount=Decimal(note["amount"]), currency=note["currency"]),
                    points=0,
                )
            )
    return out


# -- what the service reads for a refund -----------------------------------


class Refundable(Frozen):
    """What a refund reads: the order's earn, its earlier refunds, the customer's buckets and the order's pending points.

    ``buckets``, ``pending`` and ``bonus_pending`` (the order's pending accounts of base and bonus points) are
    what each account can give at the refund's instant.
    """

    earn: EarnRecord
    previous_refunds: tuple[RefundRecord, ...]
    buckets: tuple[BucketBalance, ...]
    pending: int = 0
    bonus_pending: int = 0


def refunds_of(reading: Reading, order_id: str, earn_tx: PostedTransaction) -> list[RefundRecord]:
    """Every earlier refund of the order: posted ones and the small ones noted on its earn."""

    posted = [
        RefundRecord.from_metadata(tx.metadata)
        for tx in reading.ledger.transactions(metadata=metadata_filter(RefundCommand.operation, order_id=order_id))
    ]
    return posted + small_refunds(earn_tx.metadata)


def read(command: RefundCommand, reading: Reading) -> Refundable:
    """The order's earn as it is now (with the small refunds noted on it), its refunds, and, as of the
    refund's instant, every bucket of the customer and the order's pending account."""

    earn_tx = find_earn(reading, command.order_id)
    record = EarnRecord.from_metadata(earn_tx.metadata)
    if record.customer != command.customer:
        raise InvalidCommand(f"order {command.order_id} belongs to another customer, not {command.customer}")
    as_of = reading.at(command.at)
    pending = bonus_pending = 0
    if record.release_on is not None:
        address = reading.chart.pending(command.customer, record.release_on, record.expires_on)
        pending = as_of.available(command.customer, address)
        if record.bonus_points:
            address = reading.chart.pending(command.customer, record.release_on, record.bonus_expires_on, BONUS)
            bonus_pending = as_of.available(command.customer, address)
    return Refundable(
        earn=record,
        previous_refunds=tuple(refunds_of(reading, command.order_id, earn_tx)),
        buckets=tuple(as_of.buckets(command.customer, spendable_only=False)),
        pending=pending,
        bonus_pending=bonus_pending,
    )


OPERATION: Operation[RefundCommand, Refundable] = Operation(
    command=RefundCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=lambda command, chart, catalogue, refundable: plan(
        command,
        chart,
        catalogue,
        earn=refundable.earn,
        previous_refunds=refundable.previous_refunds,
        buckets=refundable.buckets,
        pending=refundable.pending,
        bonus_pending=refundable.bonus_pending,
    ),
    writes=Writes(
        required=frozenset(
            {"customer", "order_id", "refund_id", "amount", "currency", "points", "refunded_total", "shortfall_policy"}
        ),
        optional=frozenset({"bonus_points"}),
        business_key="refund_id",
    ),
    no_plan_note=lambda refundable: SMALL_REFUND_NOTE,
)
