"""Programme analytics, the anomaly flags: histories worth a look, each with the transactions behind it.

Pure functions over a window's transaction facts (:mod:`.programme_facts`),
in (timestamp, id) order, with the chart's thresholds
(:class:`~loyalty_accounts.chart.analytics.AnomalySpec`). Spans compare the
transactions' effective dates; only transactions dated inside the report's
window are seen. The flags:

``earn_velocity`` / ``redemption_velocity``
    A member with more than ``max_transactions`` earning transactions
    (points issued to them: earn, engagement award, exchange in) or
    redemptions (their points into ``program:points:redeemed``: redeem,
    capture) inside a span of ``within_hours``. Every window
    ``[t, t + within_hours]`` starting at one of the member's transactions
    that holds too many is flagged; overlapping windows make one flag, which
    lists every transaction of them. With at most 3 in 24 h, four
    redemptions at 09:00, 10:00, 11:00 and 12:00 make one flag of four
    transactions; a fifth the next week makes none.
``transfer_chain``
    A member receiving points from A (transaction 1) and passing points on
    to C (transaction 2, C may be A) at most ``within_hours`` later: one
    flag per such pair, members ``A, B, C`` in order.
``redemption_after_transfer``
    A member redeeming at most ``within_hours`` after receiving a transfer:
    one flag per (transfer, redemption) pair.

"At most h later" is ``0 ≤ t2 − t1 ≤ h``, and a second transaction of the
same instant counts when its id is higher (it was posted after).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Sequence

from ..chart.analytics import AnomalySpec, VelocitySpec
from ..vocabulary.frozen import Frozen
from .programme_facts import TxFacts

__all__ = ["FLAG_KINDS", "AnomalyFlag", "anomaly_flags", "follow_flags", "velocity_flags"]

FLAG_KINDS = ("earn_velocity", "redemption_velocity", "transfer_chain", "redemption_after_transfer")


class AnomalyFlag(Frozen):
    """One flagged history."""

    kind: str
    """One of :data:`FLAG_KINDS`."""
    members: tuple[str, ...]
    """The member flagged (velocity, redemption after transfer: the one who redeemed), or the chain ``A, B, C``."""
    transactions: tuple[int, ...]
    """The ledger transaction ids behind the flag, in (timestamp, id) order."""
    first_at: datetime
    last_at: datetime
    detail: str


def _after(first: TxFacts, second: TxFacts, span: timedelta) -> bool:
    gap = second.timestamp - first.timestamp
    return timedelta(0) <= gap <= span and (gap > timedelta(0) or second.id > first.id)


def velocity_flags(
    kind: str, facts: Sequence[TxFacts], members_of: Callable[[TxFacts], set[str]], spec: VelocitySpec, what: str
) -> list[AnomalyFlag]:
    """Flags of members with more than ``spec.max_transactions`` transactions of theirs inside ``spec.within_hours``."""

    span = timedelta(hours=spec.within_hours)
    by_member: dict[str, list[TxFacts]] = {}
    for fact in facts:
        for member in sorted(members_of(fact)):
            by_member.setdefault(member, []).append(fact)
    flags = []
    for member in sorted(by_member):
        mine = by_member[member]
        groups: list[tuple[int, int]] = []  # [first, last] index ranges of windows holding too many, merged
        end = 0
        for first in range(len(mine)):
            end = max(end, first)
            while end + 1 < len(mine) and mine[end + 1].timestamp - mine[first].timestamp <= span:
                end += 1
            if end - first + 1 > spec.max_transactions:
                if groups and first <= groups[-1][1]:
                    groups[-1] = (groups[-1][0], end)
                else:
                    groups.append((first, end))
        for lo, hi in groups:
            run = mine[lo : hi + 1]
            flags.append(
                AnomalyFlag(
                    kind=kind,
                    members=(member,),
                    transactions=tuple(f.id for f in run),
                    first_at=run[0].timestamp,
                    last_at=run[-1].timestamp,
                    detail=f"{len(run)} {what} from {run[0].timestamp.isoformat()} to {run[-1].timestamp.isoformat()}; "
                    f"more than {spec.max_transactions} within {spec.within_hours} h",
                )
            )
    return flags


def follow_flags(facts: Sequence[TxFacts], chain_hours: int, redeem_hours: int) -> tuple[list[AnomalyFlag], list[AnomalyFlag]]:
    """Transfer chains and redemptions after a transfer (see the module docstring); ``facts`` in (timestamp, id) order."""

    chain_span, redeem_span = timedelta(hours=chain_hours), timedelta(hours=redeem_hours)
    longest = max(chain_span, redeem_span)
    chains: dict[tuple[tuple[str, ...], tuple[int, ...]], AnomalyFlag] = {}
    redemptions: dict[tuple[tuple[str, ...], tuple[int, ...]], AnomalyFlag] = {}
    for index, first in enumerate(facts):
        received = sorted({(giver, taker) for giver, taker, _ in first.transfers})
        for second in facts[index + 1 :] if received else ():
            if second.timestamp - first.timestamp > longest:
                break
            for giver, taker in received:
                if _after(first, second, chain_span):
                    for onward in sorted({to for source, to, _ in second.transfers if source == taker}):
                        flag = AnomalyFlag(
                            kind="transfer_chain",
                            members=(giver, taker, onward),
                            transactions=(first.id, second.id),
                            first_at=first.timestamp,
                            last_at=second.timestamp,
                            detail=f"{giver} -> {taker} ({first.id}), then {taker} -> {onward} ({second.id}) within {chain_hours} h",
                        )
                        chains[(flag.members, flag.transactions)] = flag
                if taker in second.redeemed_by and _after(first, second, redeem_span):
                    flag = AnomalyFlag(
                        kind="redemption_after_transfer",
                        members=(taker,),
                        transactions=(first.id, second.id),
                        first_at=first.timestamp,
                        last_at=second.timestamp,
                        detail=f"{taker} received a transfer from {giver} ({first.id}) and redeemed ({second.id}) within {redeem_hours} h",
                    )
                    redemptions[(flag.members, flag.transactions)] = flag
    return list(chains.values()), list(redemptions.values())


def anomaly_flags(facts: Sequence[TxFacts], spec: AnomalySpec) -> tuple[AnomalyFlag, ...]:
    """Every flag of the window's facts, by kind (:data:`FLAG_KINDS` order), then member, then first transaction."""

    chains, after_transfer = follow_flags(facts, spec.transfer_chain.within_hours, spec.redemption_after_transfer.within_hours)
    flags = [
        *velocity_flags("earn_velocity", facts, lambda f: f.earned_by, spec.earn_velocity, "earning transactions"),
        *velocity_flags("redemption_velocity", facts, lambda f: f.redeemed_by, spec.redemption_velocity, "redemptions"),
        *chains,
        *after_transfer,
    ]
    return tuple(sorted(flags, key=lambda f: (FLAG_KINDS.index(f.kind), f.members, f.transactions)))
