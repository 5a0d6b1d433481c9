"""Recognition of the points' contract liability: the pool of outstanding points replayed, movement by movement.

The pool is every point with the customers. Its state is the liability ``L`` (consideration not yet
recognised), ``G`` (the same consideration at its original price per point, which values the
redemption part), ``X`` (the redemptions still expected) and ``O`` (the points outstanding). Each
ledger transaction that moves points between the customers and the programme is one
:class:`Movement`, applied in effective order:

- **issued** ``n`` points with consideration ``c`` (an order's allocation, a partner's settlement for
  points exchanged in, nothing for awards): ``L += c``, ``G += c``, ``O += n``, ``X += n × (1 − rate)``
  (``X += n`` under the remote method);
- **redeemed** ``r`` (rewards, captures, store credit, exchanges out): revenue ``L × r / X`` (all of
  ``L`` once ``r ≥ X``), of which redemption ``G × r / O``; then ``X −= r``, ``O −= r``;
- **expired** ``e``: ``O −= e`` (``G`` in proportion); the expected redemptions can be no more than
  the points left, so an expiry beyond the expected breakage (every expiry under the remote method)
  recognises ``L × (X − O) / X`` as breakage;
- **reversed** by a refund, or removed otherwise (adjustments, write-offs): the points leave with
  their share of ``G`` and ``X``, and a refund withdraws its share of the order's allocation from
  ``L`` and ``G`` (more than is left deferred is a revenue reversal);
- once no point is outstanding, whatever is left of ``L`` is recognised.

Revenue on a redemption is never taken back by later issuance: points issued at a lower price, or
with no consideration, lower the price of later redemptions only. ``rate`` is the estimate's
recognition rate; a change of estimate is a cumulative catch-up: the pool replayed from the first
movement under the new estimate, less the pool under the old (:mod:`.revenue`). Everything is exact
(fractions); callers round the cumulative figures once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Mapping, Sequence

from ..operations.revenue_estimate import Estimates
from ..vocabulary.frozen import Frozen

__all__ = ["Movement", "Recognised", "replay"]


class Movement(Frozen):
    """One transaction's net points flows between the customers and the programme (whole points, ≥ 0 each)."""

    transaction_id: int
    at: datetime
    operation: str | None
    issued: int = 0
    """Points the issuance shards gave the customers (earn, award, exchange in)."""
    reversed: int = 0
    """Points the customers gave back to the shards (refund)."""
    redeemed: int = 0
    """Points the customers spent: rewards, captures, store credit, exchanges out."""
    expired: int = 0
    paid: Decimal = Decimal(0)
    """Money a partner paid for the points issued (exchange in), in the programme's currency: their consideration."""
    added: int = 0
    """Points from any other programme account (adjustments, write-offs)."""
    removed: int = 0
    """Points to any other programme account."""


class Recognised(Frozen):
    """Cumulative revenue recognised by an instant, exact: in total and its redemption part; and the points left."""

    total: Fraction
    redemption: Fraction
    outstanding: int


def _leave(state: list[Fraction], points: int, outstanding: int) -> None:
    """Points leaving without revenue take their share of G and X (state = [L, G, X])."""

    if outstanding > 0 and points > 0:
        share = min(Fraction(1), Fraction(points, outstanding))
        state[1] -= state[1] * share
        state[2] -= state[2] * share


def replay(
    movements: Sequence[Movement],
    upto: datetime,
    estimates: Estimates,
    *,
    consideration: Mapping[int, Fraction],
    withdrawal: Mapping[int, Fraction],
) -> Recognised:
    """Revenue recognised on the movements dated at or before ``upto``, all under ``estimates``.

    ``movements`` in effective order (timestamp, then transaction id); ``consideration`` and
    ``withdrawal`` by transaction id: what an order's issuance brings and what a refund withdraws, in
    money (a partner's ``paid`` is added to an issuance's consideration).
    """

    keep = Fraction(1) if estimates.method == "remote" else 1 - Fraction(estimates.recognition_rate)
    state = [Fraction(0), Fraction(0), Fraction(0)]  # L, G, X
    outstanding = 0
    total = redemption = Fraction(0)
    for m in movements:
        if m.at > upto:
            break
        came = m.issued + m.added
        if came:
            c = consideration.get(m.transaction_id, Fraction(0)) + Fraction(m.paid)
            state[0] += c
            state[1] += c
            state[2] += came * keep
            outstanding += came
        w = withdrawal.get(m.transaction_id, Fraction(0))
        state[0] -= w
        state[1] -= w
        for gone in (m.reversed, m.removed):
            _leave(state, gone, outstanding)
            outstanding -= gone
        if m.redeemed:
            liability, at_price, expected = state
            r = m.redeemed
            revenue = liability if expected <= r else liability * r / expected
            part = at_price * min(Fraction(1), Fraction(r, outstanding)) if outstanding > 0 else at_price
            state = [liability - revenue, at_price - part, max(Fraction(0), expected - r)]
            total += revenue
            redemption += part
            outstanding -= r
        if m.expired:
            state[1] -= state[1] * min(Fraction(1), Fraction(m.expired, outstanding)) if outstanding > 0 else state[1]
            outstanding -= m.expired
            left = Fraction(max(0, outstanding))
            if state[2] > left:
                revenue = state[0] * (state[2] - left) / state[2]
                state[0] -= revenue
                state[2] = left
                total += revenue
        if state[0] < 0:  # withdrawn beyond what was deferred: revenue reversed
            total += state[0]
            state[0] = Fraction(0)
        if state[1] < 0:
            redemption += state[1]
            state[1] = Fraction(0)
        if outstanding <= 0:  # nothing left to deliver: nothing left deferred
            total += state[0]
            state = [Fraction(0), Fraction(0), Fraction(0)]
    return Recognised(total=total, redemption=redemption, outstanding=outstanding)
