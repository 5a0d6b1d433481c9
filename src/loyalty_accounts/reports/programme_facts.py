"""Programme analytics, step one: what each transaction of a window did, read from its postings alone.

Every figure of ``loyalty report programme`` is a sum over these facts. A
transaction is classified by the chart kinds of the accounts its postings
move, never by its reference or metadata (the one exception is the reward
type a redemption records, a label): a posting of the points asset
(``PTS``)

- out of ``program:points:issued:{shard}`` is **issued** (earn, engagement
  award, exchange in: every operation that creates points), into it
  **reversed** (a refund taking points back);
- into ``program:points:redeemed`` is **redeemed** (redeem, capture), out of
  it subtracts; likewise **converted** (``program:points:converted``),
  **exchanged** out to partners (``partners:{p}:exchanged``) and **expired**
  (``program:points:expired``);
- between two different members' accounts is a **transfer**.

A posting on a partner's accounts in a partner pool
(``pools:{pool}:partners:{partner}:contributed|funds|awarded|redeemed``, and
``paid`` in the money asset) moves that partner's **pool figures**: each the
account's balance change, signed so that a contribution's are positive
(``contributed`` and ``paid`` are minus their accounts' movements).

A member is any ``{customer}`` of a customer account. Worked example, an
earn of 25 points to alice, pending, and a redemption of 10 by bob::

    program:points:issued:3 -> customers:alice:pending:20261116:20271102  25 PTS
        issued 25, earned_by {alice}, active {alice}
    customers:bob:points:20271102 -> program:points:redeemed               10 PTS
        redeemed 10, redeemed_by {bob}, active {bob}
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Mapping

from ..chart import Chart, parse_date_segment
from ..types import PostedTransaction

__all__ = ["UNSPECIFIED", "PartnerFacts", "PoolFacts", "QualifyingMove", "TxFacts", "classify", "classify_all", "member_of"]

UNSPECIFIED = "unspecified"
"""The reward type of a redemption whose transaction records none (``reward_type`` metadata absent)."""

REWARD_TYPE_KEY = "reward_type"

# Flows of the points asset: (line, account kind, +1 when points go INTO the kind's accounts, -1 when out).
_FLOW_KINDS: Mapping[str, str] = {
    "points_redeemed": "redeemed",
    "points_converted": "converted",
    "partner_exchanged": "exchanged",
    "points_expired": "expired",
}

_POOL_ROLES: Mapping[str, tuple[str, int]] = {
    "pool_contributed": ("contributed", -1),
    "pool_funds": ("funds", 1),
    "pool_awarded": ("awarded", 1),
    "pool_redeemed": ("redeemed", 1),
    "pool_paid": ("paid", -1),
}
"""A pool account kind's figure, and its sign: -1 for the counterparts, negative by what the partner put in or paid."""

_RELEASE = ("customer_pending", "customer_points")
"""A release moves a member's pending points to their own bucket: a sweep, not the member's doing."""


@dataclass
class PartnerFacts:
    """One partner's share of a transaction: points and partner units each way, settlement money each way (minor units)."""

    points_out: int = 0
    """Net points into the partner's ``exchanged`` account (a reverted exchange takes its points back out)."""
    points_in: int = 0
    units_delivered: int = 0
    """Net partner units into its ``delivered`` account."""
    units_received: int = 0
    settlement_out: int = 0
    """Money the settlement account gave (the programme owes the partner more), in the money asset's minor units."""
    settlement_in: int = 0
    """Money the settlement account received (the partner owes the programme more)."""


@dataclass
class PoolFacts:
    """One partner's accounts in one pool, as a transaction moved them (see the module docstring).

    ``contributed``, ``funds``, ``awarded``, ``redeemed`` in points; ``paid`` in the money asset's minor units.
    Its accounts move only among themselves, so ``contributed == funds + awarded + redeemed`` per transaction.
    """

    contributed: int = 0
    """Points the partner put into the pool (minus the movement of its ``contributed`` account)."""
    funds: int = 0
    awarded: int = 0
    """Points of its funds drawn for members' earnings."""
    redeemed: int = 0
    """Points of its funds drawn for members' redemptions."""
    paid: int = 0
    """Money it came to owe for its contributions (minus the movement of its ``paid`` account)."""


@dataclass(frozen=True)
class QualifyingMove:
    """Qualifying points (QPTS) of one order day moved to (+) or from (−) a member's qualifying account."""

    member: str
    day: date
    points: int


@dataclass
class TxFacts:
    """What one transaction did, by the accounts its postings moved."""

    id: int
    timestamp: datetime
    day: date
    """The programme-calendar date of ``timestamp``."""
    operation: str
    """The ``operation`` metadata every plan writes (a label only; "" when absent)."""
    reward_type: str
    moved_points: bool = False
    """Whether any posting moved the points asset."""
    flows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """issued, reversed, redeemed, converted, exchanged, expired: points of this transaction, by line."""
    earned_by: set[str] = field(default_factory=set)
    """Members points were issued to."""
    redeemed_by: set[str] = field(default_factory=set)
    """Members whose points went to ``program:points:redeemed``."""
    transfers: list[tuple[str, str, int]] = field(default_factory=list)
    """(from member, to member, points) for each posting between two members' accounts."""
    active: set[str] = field(default_factory=set)
    """Members with a posting of points other than a sweep's (release, expiry)."""
    partners: dict[str, PartnerFacts] = field(default_factory=dict)
    pools: dict[tuple[str, str], PoolFacts] = field(default_factory=dict)
    """By ``(pool, partner)``: what the transaction moved on the partner's accounts in the pool."""
    qualifying: list[QualifyingMove] = field(default_factory=list)


def member_of(chart: Chart, address: str) -> tuple[str | None, str | None]:
    """``(kind, member)`` of an address: its chart kind (None: undeclared) and its ``{customer}`` (None: not a member's)."""

    parsed = chart.parse(address)
    if parsed is None:
        return None, None
    return parsed.kind, parsed.values.get("customer")


def _partner(chart: Chart, address: str) -> str | None:
    parsed = chart.parse(address)
    return parsed.values.get("partner") if parsed is not None else None


def _pool_move(chart: Chart, facts: TxFacts, address: str, kind: str | None, asset: str, amount: int) -> None:
    """Add ``amount`` of ``asset`` moved into (positive) or out of (negative) ``address`` to its pool figure, if it has one."""

    role = _POOL_ROLES.get(kind or "")
    if role is None:
        return
    figure, sign = role
    if asset != (chart.money_asset if figure == "paid" else chart.points_asset):
        return
    parsed = chart.parse(address)
    assert parsed is not None, "a pool account kind parses"
    mine = facts.pools.setdefault((parsed.values["pool"], parsed.values["partner"]), PoolFacts())
    setattr(mine, figure, getattr(mine, figure) + sign * amount)


def _sweep(source_kind: str | None, destination_kind: str | None, same_member: bool) -> bool:
    """Whether a posting is the programme's sweep (an expiry, or a release within one member's accounts)."""

    return destination_kind == "points_expired" or (same_member and (source_kind, destination_kind) == _RELEASE)


def classify(chart: Chart, tx: PostedTransaction) -> TxFacts:
    """The facts of ``tx`` (see the module docstring). Postings in assets other than points, money, a
    partner's asset and the qualifying memo are ignored (a pool's operation counter among them)."""

    facts = TxFacts(
        id=tx.id,
        timestamp=tx.timestamp,
        day=chart.local_date(tx.timestamp),
        operation=tx.metadata.get("operation", ""),
        reward_type=tx.metadata.get(REWARD_TYPE_KEY) or UNSPECIFIED,
    )
    points, money, qualifying = chart.points_asset, chart.money_asset, chart.qualifying_asset
    partner_assets = {spec.asset: key for key, spec in chart.spec.partners.items()}
    received_from: set[str] = set()
    issued_to: dict[str, int] = defaultdict(int)
    for posting in tx.postings:
        src_kind, src_member = member_of(chart, posting.source)
        dst_kind, dst_member = member_of(chart, posting.destination)
        amount = posting.amount
        _pool_move(chart, facts, posting.destination, dst_kind, posting.asset, amount)
        _pool_move(chart, facts, posting.source, src_kind, posting.asset, -amount)
        if posting.asset == points:
            facts.moved_points = True
            if src_kind == "points_issued":
                facts.flows["issued"] += amount
                if dst_member is not None:
                    facts.earned_by.add(dst_member)
                    issued_to[dst_member] += amount
            if dst_kind == "points_issued":
                facts.flows["reversed"] += amount
            if dst_kind in _FLOW_KINDS:
                facts.flows[_FLOW_KINDS[dst_kind]] += amount
            if src_kind in _FLOW_KINDS:
                facts.flows[_FLOW_KINDS[src_kind]] -= amount
            if dst_kind == "points_redeemed" and src_member is not None:
                facts.redeemed_by.add(src_member)
            if dst_kind == "partner_exchanged" and (partner := _partner(chart, posting.destination)):
                facts.partners.setdefault(partner, PartnerFacts()).points_out += amount
            if src_kind == "partner_exchanged" and (partner := _partner(chart, posting.source)):
                facts.partners.setdefault(partner, PartnerFacts()).points_out -= amount  # a revert gives them back
            if src_member is not None and dst_member is not None and src_member != dst_member:
                facts.transfers.append((src_member, dst_member, amount))
            if not _sweep(src_kind, dst_kind, src_member == dst_member):
                facts.active.update(m for m in (src_member, dst_member) if m is not None)
        elif posting.asset == money:
            if src_kind == "partner_settlement" and (partner := _partner(chart, posting.source)):
                facts.partners.setdefault(partner, PartnerFacts()).settlement_out += amount
            if dst_kind == "partner_settlement" and (partner := _partner(chart, posting.destination)):
                facts.partners.setdefault(partner, PartnerFacts()).settlement_in += amount
        elif posting.asset in partner_assets:
            key = partner_assets[posting.asset]
            if dst_kind == "partner_delivered":
                facts.partners.setdefault(key, PartnerFacts()).units_delivered += amount
            if src_kind == "partner_delivered":
                facts.partners.setdefault(key, PartnerFacts()).units_delivered -= amount
            if dst_kind == "partner_received":
                facts.partners.setdefault(key, PartnerFacts()).units_received += amount
                received_from.add(key)
        elif posting.asset == qualifying:
            for kind, member, address, sign in ((dst_kind, dst_member, posting.destination, 1), (src_kind, src_member, posting.source, -1)):
                if kind == "customer_qualifying" and member is not None:
                    day = _qualifying_day(chart, address)
                    if day is not None:
                        facts.qualifying.append(QualifyingMove(member=member, day=day, points=sign * amount))
    for key in received_from:  # an exchange in: the points it issued came from that partner
        facts.partners[key].points_in += sum(issued_to.values())
    return facts


def _qualifying_day(chart: Chart, address: str) -> date | None:
    parsed = chart.parse(address)
    return parse_date_segment(parsed.values["day"]) if parsed is not None else None


def classify_all(chart: Chart, transactions: Iterable[PostedTransaction]) -> list[TxFacts]:
    """The facts of each transaction, in (timestamp, id) order."""

    return sorted((classify(chart, tx) for tx in transactions), key=lambda f: (f.timestamp, f.id))
