"""When a redemption waits for review: the ``review`` section of a rules file, and the pure verdict.

A redemption needing review is not refused and not redeemed: its points are
held (``customers:{c}:holds:{id}``) until an operator approves it (the hold
is captured: a redemption) or rejects it, or its deadline passes (the hold
is voided: every point back in its bucket). See
:mod:`loyalty_accounts.operations.redeem_review` and :mod:`loyalty_accounts.operations.review`.

Triggers (each optional, at least one declared)::

    review:
      deadline_hours: 72              # how long a held redemption waits for a decision
      points_above: 10000             # one redemption of more points than this
      velocity: {window_hours: 24, max_redemptions: 30, max_points: 25000}
      new_member: {days: 30, min_points: 5000}
      after_transfer: {hours: 48, min_points: 1000}
      decision_reasons:
        approve: [verified_with_member, known_pattern]
        reject: [suspected_fraud, account_takeover]

Worked example with the section above: a member whose first operation was
ten days ago redeems 6,000 points, having redeemed 20,000 in the last 24
hours: the verdict's reasons are ``velocity_points`` (26,000 > 25,000) and
``new_member`` (first operation less than 30 days before, 6,000 ≥ 5,000).

Counting is conservative: the velocity window runs from ``window_hours``
before the redemption's instant with no end (a redemption dated later, or a
concurrent one already posted, counts), and every redemption counts, those
held for review included, whatever was decided since.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import ReasonCode

Hours = Annotated[int, Field(ge=1, le=24 * 366, strict=True)]
Days = Annotated[int, Field(ge=1, le=3660, strict=True)]
ReviewPoints = Annotated[int, Field(ge=1, le=10**12, strict=True)]
ReviewCount = Annotated[int, Field(ge=1, le=10**6, strict=True)]

ReviewReason = Literal["points_above_threshold", "velocity_redemptions", "velocity_points", "new_member", "after_transfer"]
"""Why a redemption waits for review: codes, never data about the member."""

REVIEW_REASONS: tuple[ReviewReason, ...] = (
    "points_above_threshold",
    "velocity_redemptions",
    "velocity_points",
    "new_member",
    "after_transfer",
)

LAPSE_REASON = "deadline_passed"
"""The reason recorded when a review's deadline passes without a decision (not one operators give)."""


class Velocity(Frozen):
    """More than ``max_redemptions`` redemptions, or more than ``max_points`` points, within the window (this one included)."""

    window_hours: Hours
    max_redemptions: ReviewCount | None = None
    max_points: ReviewPoints | None = None


class NewMember(Frozen):
    """A member whose first operation is less than ``days`` before the redemption, redeeming at least ``min_points``."""

    days: Days
    min_points: ReviewPoints = 1


class AfterTransfer(Frozen):
    """A redemption of at least ``min_points`` by a member who received points by transfer less than ``hours`` before."""

    hours: Hours
    min_points: ReviewPoints = 1


class DecisionReasons(Frozen):
    """The reason codes an operator may give, per decision."""

    approve: Annotated[tuple[ReasonCode, ...], Field(min_length=1)]
    reject: Annotated[tuple[ReasonCode, ...], Field(min_length=1)]


class ReviewFacts(Frozen):
    """What the redemption's read phase found, the redemption itself excluded.

    ``recent_redemptions`` and ``recent_points``: the member's redemptions
    dated from the velocity window's start on; ``new_member``: nothing of the
    member is dated before ``new_member.days`` ago (None: not read);
    ``received_by_transfer``: points received by transfer dated from
    ``after_transfer.hours`` ago on.
    """

    recent_redemptions: int = 0
    recent_points: int = 0
    new_member: bool | None = None
    received_by_transfer: int = 0


class ReviewPolicy(Frozen):
    """The validated ``review`` section (see the module docstring)."""

    deadline_hours: Hours
    points_above: ReviewPoints | None = None
    velocity: Velocity | None = None
    new_member: NewMember | None = None
    after_transfer: AfterTransfer | None = None
    decision_reasons: DecisionReasons

    def reasons(self, points: int, facts: ReviewFacts) -> tuple[ReviewReason, ...]:
        """Why a redemption of ``points`` waits for review given ``facts``, in :data:`REVIEW_REASONS` order; () if it does not."""

        found: list[ReviewReason] = []
        if self.points_above is not None and points > self.points_above:
            found.append("points_above_threshold")
        if (v := self.velocity) is not None:
            if v.max_redemptions is not None and facts.recent_redemptions + 1 > v.max_redemptions:
                found.append("velocity_redemptions")
            if v.max_points is not None and facts.recent_points + points > v.max_points:
                found.append("velocity_points")
        if (n := self.new_member) is not None and facts.new_member and points >= n.min_points:
            found.append("new_member")
        if (t := self.after_transfer) is not None and facts.received_by_transfer > 0 and points >= t.min_points:
            found.append("after_transfer")
        return tuple(found)

    def allowed_reasons(self, decision: Literal["approve", "reject"]) -> tuple[str, ...]:
        """The reason codes an operator may give for ``decision``."""

        return self.decision_reasons.approve if decision == "approve" else self.decision_reasons.reject


def review_problems(policy: ReviewPolicy) -> list[tuple[tuple[str | int, ...], str]]:
    """The section's cross-field problems, each with its path under ``review`` (empty: none)."""

    problems: list[tuple[tuple[str | int, ...], str]] = []
    if all(t is None for t in (policy.points_above, policy.velocity, policy.new_member, policy.after_transfer)):
        problems.append(((), "declare at least one trigger: points_above, velocity, new_member or after_transfer"))
    v = policy.velocity
    if v is not None and v.max_redemptions is None and v.max_points is None:
        problems.append((("velocity",), "give max_redemptions and/or max_points"))
    for decision in ("approve", "reject"):
        codes = getattr(policy.decision_reasons, decision)
        if len(set(codes)) != len(codes):
            problems.append((("decision_reasons", decision), "a reason is listed twice"))
        if LAPSE_REASON in codes:
            problems.append((("decision_reasons", decision), f"{LAPSE_REASON!r} is recorded by the lapse sweep, not given by an operator"))
    return problems
