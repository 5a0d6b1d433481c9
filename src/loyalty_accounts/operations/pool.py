"""What the pool operations share (:mod:`.pool_contribute`, :mod:`.pool_earn`, :mod:`.pool_redeem`):
the distribution of a draw over a pool's members, the read of their funds, the draw's template vars.

A partner pool (the chart's ``pools``) holds points its member partners
bought; each member's points left in it are the balance of its own funds
account, ``pools:{pool}:partners:{partner}:funds``, which may never go
negative. A *draw* of ``N`` points (a member earning from the pool, or
redeeming against it) is charged to the members by the pool's
``distribution``:

- ``shares``: weights are the members' declared ``share``;
- ``funds``: weights are what each member has left in the pool at the
  draw's instant (read from the ledger).

**Rounding (largest remainder).** Member ``i`` with weight ``w_i`` (total
``W``) is charged ``floor(N × w_i / W)``; the ``N − Σ floor`` points left
over (fewer than the members) go one each to the members with the largest
remainders ``N × w_i mod W``; equal remainders go to the larger weight
first, then to the partner key first in alphabetical order (never to the
order of a file's keys). The charges are whole points and always sum to ``N``.

Worked example, pool travel with skyway share 3 and cityrail share 1, a draw
of 10 points: skyway floor(30 / 4) = 7 (remainder 2), cityrail floor(10 / 4)
= 2 (remainder 2); one point left over, equal remainders, skyway has the
larger share: skyway 8, cityrail 2. Each charge moves from the member's funds to its
``awarded`` (earning) or ``redeemed`` (redemption) account in the draw's
transaction::

    pools:travel:partners:skyway:funds  -8 PTS → pools:travel:partners:skyway:awarded  +8 PTS
    pools:travel:partners:cityrail:funds  -2 PTS → pools:travel:partners:cityrail:awarded  +2 PTS

A charge larger than what the member has left refuses the draw
(:class:`~loyalty_accounts.errors.InsufficientPoints`): first in the plan,
from the funds it read, and in any case in the ledger, whose overdraft check
on the funds accounts decides when draws race (the executor then re-reads
and re-plans). A pool is never overdrawn.

**Sequence.** The ledger checks the funds' *current* balance only, but a
back-dated draw is planned from their lowest balance from its instant on: ten
draws dated before later contributions would all pass the current check and
overdraw the funds at their instant. So each pool has an operation counter
(``pools:{pool}:sequence``, a negative count in the control asset, see
:mod:`.counter`), read with the funds, before them (:func:`pool_funds`). A
draw takes one unit from it with the overdraft bounded by the count read plus
one; a contribution takes one unit unbounded. If anything posted on the pool
between the read and the post, the draw fails with ``INSUFFICIENT_FUND`` and
the executor reads again and re-plans: per pool, draws take effect one at a
time, each planned on the funds it is posted on (as the guard's customer
counter does for customers, :mod:`.guard`). A draw the plan refuses (the pool
holds too little) while the counter moved since its read is planned again
too. The ledger locks only balance rows that exist; a contribution creates
the counter's row, and a draw, which needs funds, comes after one. A pool
whose funds predate the counter has it opened by the draw's setup
(:func:`open_pool_sequence`) before the draw posts.

Worked example, the draw above when the pool's counter read -6 (6 operations)::

    pools:travel:sequence  -1 CTL → program:control:sequence  +1  (may go down to -7)
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

from ..chart import Chart, Pool
from ..errors import InsufficientPoints
from ..numscript import Catalogue, VarValue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import CustomerId, PartnerKey
from ..vocabulary.instants import Instant
from .base import Command
from .counter import bounded_step, open_missing, read_count
from .reading import Reading

POOL_KEYS = frozenset({"pool", "points", "charges"})
"""Metadata keys every pool draw writes: the pool, the points drawn, each member's charge (``cityrail=2,skyway=8``)."""
DrawRole = Literal["awarded", "redeemed"]
PoolKey = PartnerKey
"""A pool's key (the chart's ``segments.pool``: the same shape as a partner's)."""


class PoolDrawCommand(Command):
    """Base of the draws: ``points`` whole points out of ``pool`` for a member (customer), dated ``at``."""

    customer: CustomerId
    pool: PoolKey
    points: Points
    at: Instant


class Charge(Frozen):
    """What one member partner is charged for a draw, in whole points (may be 0)."""

    partner: str
    points: int


def largest_remainder(points: int, weights: Sequence[tuple[str, int]]) -> tuple[Charge, ...]:
    """``points`` split over ``weights`` ((partner, weight ≥ 0)) by the largest remainder method.

    ``largest_remainder(10, [("skyway", 3), ("cityrail", 1)])`` → skyway 8, cityrail 2. Ties on the remainder go
    to the larger weight, then to the first partner key alphabetically; the charges come back in the order
    of ``weights`` and sum to ``points``. ValueError when ``points`` is negative or every weight is 0.
    """

    total = sum(w for _, w in weights)
    if points < 0 or total <= 0 or any(w < 0 for _, w in weights):
        raise ValueError(f"cannot split {points} points over weights {list(weights)}")
    floors = [points * w // total for _, w in weights]
    left = points - sum(floors)
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (-(points * weights[i][1] % total), -weights[i][1], weights[i][0])
    )
    for i in by_remainder[:left]:
        floors[i] += 1
    return tuple(Charge(partner=p, points=n) for (p, _), n in zip(weights, floors))


def distribute(pool_key: str, pool: Pool, points: int, funds: Mapping[str, int]) -> tuple[Charge, ...]:
    """The charges of a draw of ``points`` from ``pool``, given what each member has left (``funds``, points).

    Raises InsufficientPoints when the pool holds too little, or a member's charge exceeds its funds
    (the message names the partner, its charge and its funds).
    """

    available = {p: max(0, funds.get(p, 0)) for p in pool.members}
    held = sum(available.values())
    if held < points:
        raise InsufficientPoints(f"pool {pool_key} holds {held} points; the draw needs {points}")
    if pool.distribution == "shares":
        weights = [(p, m.share) for p, m in pool.members.items()]
    else:
        weights = [(p, available[p]) for p in pool.members]
    charges = largest_remainder(points, weights)
    for charge in charges:
        if charge.points > available[charge.partner]:
            raise InsufficientPoints(
                f"pool {pool_key}: the draw charges {charge.partner} {charge.points} points "
                f"({pool.distribution}); it has {available[charge.partner]} left in the pool"
            )
    return charges


class PoolFunds(Frozen):
    """What a draw read of its pool: operations posted on it so far (``count``; None: its counter has no
    balance row yet) and what each member can give at the draw's instant (``funds``, points, never below 0)."""

    count: int | None
    funds: Mapping[str, int]


def pool_funds(command: PoolDrawCommand, reading: Reading) -> PoolFunds:
    """The pool's operation count, then what each member of the command's pool can give at its instant.

    The count is read first: whatever posts on the pool after it makes the draw's counter leg fail, so
    the funds read after it are the funds the draw posts on. Each member's funds are the lowest balance
    its funds account has from ``at`` on (a back-dated draw cannot take what later draws already took).
    InvalidCommand for an undeclared pool.
    """

    chart = reading.chart
    pool = chart.pool(command.pool)
    count = read_count(reading, chart.pool_sequence(command.pool))
    lines = reading.timelines(chart.kind_filter("pool_funds", pool=command.pool), command.at)
    out: dict[str, int] = {}
    for partner in pool.members:
        line = lines.get(chart.pool_account(command.pool, partner, "funds"))
        out[partner] = 0 if line is None else max(0, line.lowest_from(command.at))
    return PoolFunds(count=count, funds=out)


def sequence_vars(chart: Chart, pool: str, count: int | None) -> dict[str, VarValue]:
    """The template vars of a draw's counter leg (``counter_*``): one control unit from the pool's counter,
    the overdraft bounded by ``count`` + 1 (:func:`.counter.bounded_step`)."""

    return bounded_step(chart, chart.pool_sequence(pool), count)


def open_pool_sequence(command: PoolDrawCommand, chart: Chart, catalogue: Catalogue, count: int | None) -> list[TransactionPlan]:
    """The opening of the pool's counter when it has no balance row (a pool funded before counters), else nothing."""

    return open_missing(chart, catalogue, chart.pool_sequence(command.pool), count)


def charge_vars(chart: Chart, pool: str, charges: Sequence[Charge], role: DrawRole) -> dict[str, VarValue]:
    """The template vars of the charges (members charged nothing are left out): ``$charges``, ``$funds``, ``$draws``."""

    charged = [c for c in charges if c.points > 0]
    return {
        "charges": [monetary(chart.points_asset, c.points) for c in charged],
        "funds": [chart.pool_account(pool, c.partner, "funds") for c in charged],
        "draws": [chart.pool_account(pool, c.partner, role) for c in charged],
    }


def charges_text(charges: Sequence[Charge]) -> str:
    """The charges as metadata: ``cityrail=2,skyway=8`` (every member, by partner key)."""

    return ",".join(f"{c.partner}={c.points}" for c in sorted(charges, key=lambda c: c.partner))


def draw_metadata(command: PoolDrawCommand, charges: Sequence[Charge], key_field: str) -> dict[str, str]:
    """The metadata a draw writes: customer, its business key, pool, points, charges."""

    return {
        "customer": command.customer,
        key_field: getattr(command, key_field),
        "pool": command.pool,
        "points": str(command.points),
        "charges": charges_text(charges),
    }


__all__ = [
    "Charge",
    "POOL_KEYS",
    "PoolKey",
    "PoolDrawCommand",
    "PoolFunds",
    "charge_vars",
    "charges_text",
    "distribute",
    "draw_metadata",
    "largest_remainder",
    "open_pool_sequence",
    "pool_funds",
    "sequence_vars",
]
