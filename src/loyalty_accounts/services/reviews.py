"""Reviews of risky redemptions: list the held ones, approve, reject, lapse (all read from and written to the ledger).

A redemption the rules flag is posted as a hold for review by ``redeem``
(:mod:`loyalty_accounts.operations.redeem_review`); this service settles it with
one decision transaction (:mod:`loyalty_accounts.operations.review`).
What is pending is read from the ledger: the held redemptions (metadata
``review=required``) without a decision transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ..errors import DuplicateOperation, InvalidCommand, OperationRefused
from ..operations.reading import LedgerReader
from ..operations.redeem_review import find_review, held_for_review, is_review_hold, reasons_of, review_deadline
from ..operations.review import ReviewCommand, all_decisions, decided, decision_reference, lapse_command
from ..rules.review import LAPSE_REASON
from ..types import PostedTransaction
from ..vocabulary import ids
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import iso_instant
from ..vocabulary.personal_data import refusal, screened
from .executor import Executor, Progress
from .results import BatchResult, OperationResult, batch_of

ReviewStatus = Literal["pending", "overdue", "approved", "rejected", "lapsed"]
"""``pending``: awaiting a decision; ``overdue``: its deadline has passed without one (the lapse sweep voids it);
then what was decided."""


class ReviewRow(Frozen):
    """One redemption held for review, as the ledger records it (``reward``: the catalogue reward's SKU or
    the redemption's label, empty when it named none)."""

    redemption_id: str
    customer: str
    hold_id: str
    points: int
    reward: str = ""
    reasons: tuple[str, ...]
    held_at: datetime
    deadline: datetime
    status: ReviewStatus
    operator: str = ""
    reason: str = ""
    decided_at: str = ""
    transaction: int = 0

    def row(self) -> dict[str, object]:
        """The row as the CLI prints it (reasons joined by ``,``, instants ISO 8601; what is not known yet, or
        was not named — reward, operator, reason, decision time, capture transaction — is None: JSON null, an empty cell)."""

        return {
            "redemption_id": self.redemption_id,
            "customer": self.customer,
            "hold_id": self.hold_id,
            "points": self.points,
            "reward": self.reward or None,
            "reasons": ",".join(self.reasons),
            "held_at": iso_instant(self.held_at),
            "deadline": iso_instant(self.deadline),
            "status": self.status,
            "operator": self.operator or None,
            "reason": self.reason or None,
            "decided_at": self.decided_at or None,
            "transaction": self.transaction or None,
        }


class ReviewService:
    """List, decide and lapse reviews over the executor's ledger."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._reading = executor.reading

    def reviews(self, *, as_of: datetime | None = None, include_decided: bool = False) -> list[ReviewRow]:
        """The redemptions held for review, oldest first: those awaiting a decision (``pending``, or ``overdue``
        when their deadline is at or before ``as_of``, default now), and with ``include_decided`` the decided
        ones too. Two listings: the held redemptions and the decisions."""

        now = as_of or self._executor.clock()
        decisions = {tx.metadata.get("redemption_id", ""): tx for tx in self._reading.ledger.transactions(metadata=all_decisions())}
        rows: list[ReviewRow] = []
        for tx in self._reading.ledger.transactions(metadata=held_for_review()):
            decision = decisions.get(tx.metadata.get("redemption_id", ""))
            if decision is not None and not include_decided:
                continue
            rows.append(_row(tx, decision, now))
        return rows

    def decide(
        self, redemption_id: str, decision: Literal["approve", "reject"], *, operator: str, reason: str, at: datetime
    ) -> OperationResult:
        """Approve (capture) or reject (void) held redemption ``redemption_id``, recording ``operator`` and ``reason``.

        InvalidCommand (exit 2): a malformed id, a reason not in the rules' list for ``decision``, a value that
        looks like personal data (never repeated). UnknownEntity: no such redemption. OperationRefused: not held
        for review, decided otherwise before, or an approval at or after the deadline. The same decision again
        (same operator and reason) is a replay.
        """

        values = {"redemption": redemption_id, "operator": operator, "reason": reason}
        if found := screened({k: v for k, v in values.items() if isinstance(v, str)}, self._executor.personal_data):
            raise InvalidCommand(refusal(found, f"the review {decision}"))
        rid = ids.business_key(redemption_id, what="redemption id")
        ids.operator_id(operator)
        policy = self._reading.rules.review if self._reading.rules is not None else None
        if policy is None:
            raise InvalidCommand("reviews need the rules' review section: this programme's rules declare none")
        allowed = policy.allowed_reasons(decision)
        if reason not in allowed:
            raise InvalidCommand(f"--reason: not one of the rules' {decision} reasons (use one of: {', '.join(allowed)})")
        held = find_review(self._reading, rid)
        if decision == "approve":
            self._refuse_a_late_approval(rid, held)
        command = ReviewCommand(
            customer=held.metadata["customer"],
            redemption_id=rid,
            decision="approved" if decision == "approve" else "rejected",
            operator=operator,
            reason=reason,
            at=at,
        )
        return self._run(command)

    def lapse(self, as_of: datetime, *, progress: Progress | None = None) -> BatchResult:
        """Void every held redemption whose deadline is at or before ``as_of`` and that has no decision
        (decision ``lapsed``, operator ``system``, reason ``deadline_passed``, dated ``as_of``)."""

        due = [row for row in self.reviews(as_of=as_of) if row.status == "overdue"]
        results = []
        for done, row in enumerate(due, start=1):
            results.append(self._run(lapse_command(row.customer, row.redemption_id, as_of, LAPSE_REASON)))
            if progress:
                progress(done, len(due))
        return batch_of("review", as_of, results)

    def _refuse_a_late_approval(self, redemption_id: str, held: PostedTransaction) -> None:
        """OperationRefused when the review's deadline has passed by the programme's clock and nothing was
        decided yet: an approval is made now, so an ``--at`` before the deadline cannot revive a lapsed review
        (an approval already posted is answered as before: a replay, or the decision that won)."""

        deadline = review_deadline(held)
        if self._executor.clock() >= deadline and self._reading.ledger.find_by_reference(decision_reference(redemption_id)) is None:
            raise OperationRefused(
                f"the review of {redemption_id} lapsed at {iso_instant(deadline)}: it can no longer be approved, "
                "whatever --at says"
            )

    def _run(self, command: ReviewCommand) -> OperationResult:
        """Run the decision; one made differently before is refused naming it (OperationRefused)."""

        earlier = self._reading.ledger.find_by_reference(decision_reference(command.redemption_id))
        if earlier is not None and earlier.metadata.get("command_hash") != command.fingerprint():
            raise _already(command.redemption_id, earlier)
        try:
            return self._executor.run(command)
        except DuplicateOperation:
            earlier = self._reading.ledger.find_by_reference(decision_reference(command.redemption_id))
            if earlier is None:
                raise
            raise _already(command.redemption_id, earlier) from None


def _already(redemption_id: str, earlier: PostedTransaction) -> OperationRefused:
    seen = decided(earlier)
    return OperationRefused(
        f"the review of {redemption_id} was already decided: {seen['decision']} by {seen['operator']} "
        f"({seen['reason']}) at {seen['decided_at']}"
    )


def _row(tx: PostedTransaction, decision: PostedTransaction | None, now: datetime) -> ReviewRow:
    deadline = review_deadline(tx)
    common = {
        "redemption_id": tx.metadata.get("redemption_id", ""),
        "customer": tx.metadata.get("customer", ""),
        "hold_id": tx.metadata.get("hold_id", ""),
        "points": int(tx.metadata.get("points", "0")),
        "reward": tx.metadata.get("reward", ""),
        "reasons": reasons_of(tx),
        "held_at": tx.timestamp,
        "deadline": deadline,
    }
    if decision is None:
        return ReviewRow(**common, status="overdue" if deadline <= now else "pending")  # type: ignore[arg-type]
    seen = decided(decision)
    return ReviewRow(
        **common,  # type: ignore[arg-type]
        status=seen["decision"],
        operator=seen["operator"],
        reason=seen["reason"],
        decided_at=seen["decided_at"],
        transaction=decision.id,
    )


def review_state(ledger: LedgerReader, tx: PostedTransaction) -> tuple[ReviewStatus, str] | None:
    """Where redemption ``tx`` stands in review: (status, a note for the answer); None if it was not held for review."""

    if not is_review_hold(tx):
        return None
    deadline = tx.metadata.get("review_deadline", "")
    reasons = tx.metadata.get("review_reasons", "")
    decision = ledger.find_by_reference(decision_reference(tx.metadata.get("redemption_id", "")))
    if decision is None:
        return "pending", f"waiting for review until {deadline} (reasons: {reasons}); nothing redeemed yet"
    seen = decided(decision)
    return seen["decision"], f"review {seen['decision']} by {seen['operator']} ({seen['reason']}) at {seen['decided_at']}"  # type: ignore[return-value]
