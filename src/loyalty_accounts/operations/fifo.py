"""Bucket order and allocation: the one place FIFO is decided.

A customer's spendable points sit in one bucket per expiry date and kind of
point (``customers:{c}:points:{YYYYMMDD}`` for base points,
``{YYYYMMDD}-bonus`` / ``-transferred`` for the kinds the chart keeps apart,
or ``noexpiry``). FIFO means the soonest-expiring bucket is used first,
whatever its kind (on the same date: transferred, bonus, then base), and
``noexpiry`` last. A bucket dated
*d* holds points spendable strictly before *d*: on *d* they are due for
expiry and no longer offered to a spend.

Worked example, on 2026-06-01 with buckets 2026-05-31: 10 (due, skipped),
2026-09-30: 50, 2027-03-31: 40, noexpiry: 25; spending 70 allocates
2026-09-30 → 50, then 2027-03-31 → 20. Giving 30 of that back
(:func:`give_back`, used by capture) returns it latest expiry first:
2027-03-31 ← 20, then 2026-09-30 ← 10.

The balances allocated from are what each bucket can give at the
operation's instant (the lowest balance it has from then on, see
:mod:`.timeline`), and a plan takes exactly its allocation from each bucket.
The ledger stays the judge: if a concurrent write emptied one meanwhile the
transaction fails with INSUFFICIENT_FUND and the service plans again from
fresh balances.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Iterable, Sequence

from pydantic import Field

from ..chart.point_kinds import BASE, SPEND_RANK, PointKind, expiry_segment
from ..errors import InsufficientPoints, InvalidCommand
from ..vocabulary.frozen import Frozen


class BucketBalance(Frozen):
    """A customer's points bucket as read from the ledger: expiry (None = never), kind of point and balance."""

    expiry: date | None
    points: Annotated[int, Field(ge=0, strict=True)]
    kind: PointKind = BASE


class Allocation(Frozen):
    """Points taken from (or given back to) the bucket of one expiry date and kind of point."""

    expiry: date | None
    points: Annotated[int, Field(gt=0, strict=True)]
    kind: PointKind = BASE


def fifo_key(expiry: date | None, kind: str = BASE) -> tuple[bool, date, int]:
    """Sort key: ascending expiry date, ``noexpiry`` after every date; on one date, transferred, bonus, base."""

    return (expiry is None, expiry or date.max, SPEND_RANK[kind])


def fifo_order(buckets: Iterable[BucketBalance]) -> tuple[BucketBalance, ...]:
    """Buckets soonest-expiring first; the same bucket (expiry and kind) listed twice is refused."""

    ordered = sorted(buckets, key=lambda b: fifo_key(b.expiry, b.kind))
    for first, second in zip(ordered, ordered[1:]):
        if (first.expiry, first.kind) == (second.expiry, second.kind):
            raise InvalidCommand(f"bucket {expiry_segment(first.expiry, first.kind)} is listed twice")
    return tuple(ordered)


def is_spendable(expiry: date | None, on: date) -> bool:
    """Points of a bucket dated ``expiry`` can be spent on ``on``."""

    return expiry is None or on < expiry


def spendable(buckets: Iterable[BucketBalance], on: date) -> tuple[BucketBalance, ...]:
    """Non-empty, not-yet-expired buckets in FIFO order."""

    return tuple(b for b in fifo_order(buckets) if b.points > 0 and is_spendable(b.expiry, on))


def due(buckets: Iterable[BucketBalance], on: date) -> tuple[BucketBalance, ...]:
    """Non-empty buckets whose expiry date has come by ``on``, oldest first."""

    return tuple(b for b in fifo_order(buckets) if b.points > 0 and not is_spendable(b.expiry, on))


def allocate(ordered: Sequence[BucketBalance], amount: int, *, customer: str | None = None) -> tuple[Allocation, ...]:
    """Take ``amount`` from ``ordered`` buckets in the order given, each at most its balance.

    Raises :class:`InsufficientPoints` when the buckets together hold less.
    """

    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidCommand(f"points to allocate must be a positive integer, got {amount!r}")
    total = sum(b.points for b in ordered)
    if total < amount:
        who = f"customer {customer} has" if customer else "the buckets hold"
        raise InsufficientPoints(f"{who} {total} spendable points; {amount} needed", code="INSUFFICIENT_FUND")
    out: list[Allocation] = []
    left = amount
    for bucket in ordered:
        if left == 0:
            break
        take = min(bucket.points, left)
        if take > 0:
            out.append(Allocation(expiry=bucket.expiry, points=take, kind=bucket.kind))
            left -= take
    return tuple(out)


def give_back(taken: Sequence[Allocation], amount: int) -> tuple[Allocation, ...]:
    """Return ``amount`` of what was ``taken``, to the latest-expiring buckets first.

    Used when a hold is captured for less than it reserved: the part kept is
    the part that would have expired soonest.
    """

    held = sum(a.points for a in taken)
    if amount < 0 or amount > held:
        raise InvalidCommand(f"cannot give back {amount} of {held} points")
    merged: dict[tuple[date | None, PointKind], int] = {}
    for a in taken:
        merged[a.expiry, a.kind] = merged.get((a.expiry, a.kind), 0) + a.points
    out: list[Allocation] = []
    left = amount
    for expiry, kind in sorted(merged, key=lambda key: fifo_key(*key), reverse=True):
        if left == 0:
            break
        back = min(merged[expiry, kind], left)
        out.append(Allocation(expiry=expiry, points=back, kind=kind))
        left -= back
    return tuple(out)
