"""Review of risky redemptions: a redemption the rules flag is held for review instead of redeemed.

The redeem operation (:mod:`.redeem`) reads, with the customer's buckets,
what the rules' ``review`` section (:mod:`loyalty_accounts.rules.review`)
needs: the member's redemptions dated in the velocity window, points received
by transfer in the transfer window, whether anything of the member is dated
before the new-member cut-off. These reads belong to the operation's own read
phase, after the guard's listing of the customer's sequence counter: a
redemption, transfer or other operation of the customer committed after them
makes the post's sequence leg fail, and the redemption is read and planned
again (so two concurrent redemptions that together cross a limit cannot both
escape review). The verdict is pure (:meth:`Redeeming.verdict_for`, from the points the redemption's own plan
settled on, so a price the plan reads elsewhere, a catalogue reward's, is judged too).

A flagged redemption posts a HOLD (template ``hold``, the authorisation
hold's) under the redemption's own reference, so its business key stays the
key: running the command again replays the hold, whatever a new verdict
would be. Its points move FIFO from the buckets into
``customers:{c}:holds:{review hold id}`` and wait there for a decision
(:mod:`.review`).

Worked example, on 2026-06-01T10:00Z, c42 holds 20260930: 8,000 and
20270331: 6,000; redemption r-9 of 12,000 points, over the 10,000 threshold,
deadline 72 hours::

    customers:c42:points:20260930  -8000 → customers:c42:holds:rv-r-9  +12000
    customers:c42:points:20270331  -4000 ↗

    reference "redeem:r-9"; template hold; metadata customer=c42,
    redemption_id=r-9, points=12000, hold_id=rv-r-9, review=required,
    review_reasons=points_above_threshold,
    review_deadline=expires_at=2026-06-04T10:00:00Z

A physical catalogue reward's redemption is held with its unit (template
``hold_reward``): the same points, and one unit from ``catalogue:{sku}:stock``
into the same hold account, in one transaction. The stock account may not go
negative, so the unit is reserved under the ledger's overdraft check (the
hold of a unit no longer there is refused, re-planned, OutOfStock)::

    customers:c42:points:noexpiry  -12000 PTS   → customers:c42:holds:rv-r-9  +12000 PTS
    catalogue:TV-55:stock              -1 UNITS → customers:c42:holds:rv-r-9      +1 UNITS

    template hold_reward; metadata as above plus reward=TV-55, reward_type=product

The decision's void mirrors every posting into the hold's account
(:func:`.review.held_postings_of`), whatever its asset, so a rejection puts
the unit back in stock; an approval delivers it (template ``capture_reward``).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Mapping

from ..chart import Chart
from ..errors import OperationRefused, UnknownEntity
from ..numscript import Catalogue, VarValue
from ..rules.review import ReviewFacts, ReviewPolicy, ReviewReason
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import HOLD_ID_PATTERN
from ..vocabulary.instants import iso_instant, parse_instant
from .base import keyed_reference, metadata_filter, plan_command
from .fifo import BucketBalance
from .reading import Reading

if TYPE_CHECKING:
    from .pool_redeem import PoolRedeemCommand
    from .redeem import RedeemCommand

REDEMPTION_OPERATIONS = frozenset({"redeem", "pool_redeem"})
"""The operations a velocity rule counts: every redemption of the member's points, from the programme or a pool."""

HOLD_TEMPLATE = "hold"
HOLD_REWARD_TEMPLATE = "hold_reward"
"""A physical reward's review hold: the points and one unit of the reward's stock into the hold account."""
REVIEW_REQUIRED = "required"
"""The value of metadata ``review`` on a redemption held for review."""
REVIEW_METADATA = frozenset({"hold_id", "expires_at", "review", "review_reasons", "review_deadline"})
"""What a held redemption writes besides a redemption's own keys."""

class Verdict(Frozen):
    """Whether a redemption waits for review: its reasons (empty: it does not) and its deadline."""

    reasons: tuple[ReviewReason, ...] = ()
    deadline: datetime | None = None


class Redeeming(Frozen):
    """What a redemption reads: the customer's buckets and, with review rules, the policy and the facts it
    judges (or a verdict given outright)."""

    buckets: tuple[BucketBalance, ...]
    policy: ReviewPolicy | None = None
    facts: ReviewFacts | None = None
    verdict: Verdict | None = None

    def verdict_for(self, points: int, at: datetime) -> Verdict:
        """The verdict on a redemption of ``points`` dated ``at`` (pure): the points are those the
        redemption's own plan settled on, so a price read from elsewhere is judged too."""

        if self.verdict is not None:
            return self.verdict
        if self.policy is None or self.facts is None:
            return Verdict()
        reasons = self.policy.reasons(points, self.facts)
        return Verdict(reasons=reasons, deadline=at + timedelta(hours=self.policy.deadline_hours)) if reasons else Verdict()


def review_hold_id(redemption_id: str) -> str:
    """The hold id of redemption ``redemption_id``'s review hold (an address segment, a valid hold id).

    ``rv-{id}`` when that is a valid hold id (the redemption id has no ``.``
    and at most 97 characters); otherwise ``rvh-`` and 40 hex digits of the
    id's SHA-256 (the two forms differ at their third character, so they
    never meet).
    """

    readable = f"rv-{redemption_id}"
    if re.fullmatch(HOLD_ID_PATTERN, readable):
        return readable
    return "rvh-" + hashlib.sha256(redemption_id.encode()).hexdigest()[:40]


def redemption_reference(redemption_id: str) -> str:
    """The reference of redemption ``redemption_id`` (held for review or not)."""

    return keyed_reference("redeem", redemption_id)


def held_for_review() -> dict[str, str]:
    """The metadata query finding every redemption held for review (pending or decided)."""

    return metadata_filter("redeem", review=REVIEW_REQUIRED)


def is_review_hold(tx: PostedTransaction) -> bool:
    """Whether ``tx`` is a redemption held for review."""

    return tx.metadata.get("operation") == "redeem" and tx.metadata.get("review") == REVIEW_REQUIRED


def review_deadline(tx: PostedTransaction) -> datetime:
    """The deadline a held redemption recorded (UTC)."""

    return parse_instant(tx.metadata["review_deadline"], timezone.utc, what="the review's deadline")


def find_review(reading: Reading, redemption_id: str) -> PostedTransaction:
    """Redemption ``redemption_id``'s review hold; UnknownEntity if there is no such redemption,
    OperationRefused if it was not held for review."""

    tx = reading.ledger.find_by_reference(redemption_reference(redemption_id))
    if tx is None:
        raise UnknownEntity(f"no redemption {redemption_id}")
    if not is_review_hold(tx):
        raise OperationRefused(f"redemption {redemption_id} was not held for review")
    return tx


# -- the read and the verdict ------------------------------------------------


def review_facts(
    command: "RedeemCommand | PoolRedeemCommand", reading: Reading, policy: ReviewPolicy, *, points: int
) -> ReviewFacts:
    """What ``policy`` needs about the customer, the redemption itself left out.

    One listing of the customer's transactions dated from the longest
    window's start on (velocity, transfers received), and, only when the
    new-member rule could apply to these points, one more for anything
    dated before its cut-off.
    """

    customer, at, reference = command.customer, command.at, command.reference()
    windows = [
        timedelta(hours=h)
        for h in (
            policy.velocity.window_hours if policy.velocity else None,
            policy.after_transfer.hours if policy.after_transfer else None,
        )
        if h is not None
    ]
    recent: list[PostedTransaction] = []
    if windows:
        since = at - max(windows)
        recent = [
            tx
            for tx in reading.ledger.transactions(account=reading.chart.customer_filter(customer), start=since)
            if tx.reference != reference
        ]
    redemptions: list[int] = []
    if policy.velocity is not None:
        start = at - timedelta(hours=policy.velocity.window_hours)
        redemptions = [
            _points(tx.metadata)
            for tx in recent
            if tx.timestamp >= start
            and tx.metadata.get("operation") in REDEMPTION_OPERATIONS
            and tx.metadata.get("customer") == customer
        ]
    received = 0
    if policy.after_transfer is not None:
        start = at - timedelta(hours=policy.after_transfer.hours)
        received = sum(
            _points(tx.metadata)
            for tx in recent
            if tx.timestamp >= start and tx.metadata.get("operation") == "transfer" and tx.metadata.get("to_customer") == customer
        )
    new_member: bool | None = None
    if policy.new_member is not None and points >= policy.new_member.min_points:
        cutoff = at - timedelta(days=policy.new_member.days)
        older = reading.ledger.transactions(account=reading.chart.customer_filter(customer), end=cutoff)
        new_member = next(iter(older), None) is None
    return ReviewFacts(
        recent_redemptions=len(redemptions), recent_points=sum(redemptions), new_member=new_member, received_by_transfer=received
    )


def _points(metadata: Mapping[str, str]) -> int:
    try:
        return int(metadata.get("points", "0"))
    except ValueError:
        return 0


# -- the plan ------------------------------------------------------------------


def hold_for_review(
    command: "RedeemCommand",
    chart: Chart,
    catalogue: Catalogue,
    spent: Mapping[str, VarValue],
    verdict: Verdict,
    *,
    metadata: Mapping[str, str],
    template: str = HOLD_TEMPLATE,
) -> TransactionPlan:
    """The review hold of a redemption: ``spent`` (a spend's vars, :func:`~.spend.spend_vars`) into the hold account.

    ``metadata`` is what the redemption would have written (customer,
    redemption_id, points, reward...); the review's keys are added. A
    template holding more than points takes the same hold account (``$hold``)
    plus its own vars in ``spent``.
    """

    if not verdict.reasons or verdict.deadline is None:
        raise ValueError("a redemption is held for review only with reasons and a deadline")
    hold_id = review_hold_id(command.redemption_id)
    deadline = iso_instant(verdict.deadline)
    return plan_command(
        command,
        chart,
        catalogue,
        template=template,
        values={**spent, "hold": chart.hold(command.customer, hold_id)},
        metadata={
            **metadata,
            "hold_id": hold_id,
            "review": REVIEW_REQUIRED,
            "review_reasons": ",".join(verdict.reasons),
            "review_deadline": deadline,
            "expires_at": deadline,
        },
        timestamp=command.at,
    )


def reasons_of(tx: PostedTransaction) -> tuple[str, ...]:
    """The reason codes a held redemption recorded."""

    raw = tx.metadata.get("review_reasons", "")
    return tuple(code for code in raw.split(",") if code)

