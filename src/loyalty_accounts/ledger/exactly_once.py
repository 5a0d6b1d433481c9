"""Exactly once: the transaction holding a reference, and whether this call posted it.

Exactly once
    Every transaction carries ``reference`` = the plan's business key (unique
    per ledger: the database refuses a second transaction with it), and the
    request body is byte-for-byte the same for the same plan. When the ledger
    reports the reference as taken (409 ``CONFLICT``), or refuses the post
    with ``INSUFFICIENT_FUND`` — v2.4.12 runs the script and its balance checks
    before the reference's uniqueness is checked, so the losing twin of two
    identical spends of the whole balance hears "insufficient funds"
    (``internal/controller/ledger/controller_default.go``, createTransaction,
    then ``log_process.go``) — the original is looked up by reference: the same
    ``command_hash`` answers with it; another one raises
    :class:`DuplicateOperation`; no transaction with the reference means the
    refusal stands.

``replayed`` means "an earlier call posted this"
    Each call (one post, one bulk chunk, one revert) sends an
    ``Idempotency-Key`` of its own: the reference plus a random call id,
    reused by that call's retries only (:mod:`loyalty_accounts.ledger.transport`).
    So an ``Idempotency-Hit`` can only be this call's own earlier attempt,
    whose response was lost (``replayed=False``: this call posted it). A taken
    reference found while every earlier attempt of this call was answered
    means another call posted it (``replayed=True``). Found after an attempt
    that got no answer, it may be ours (an attempt still running on the server
    when the retry arrived) or another call's: the same request is sent once
    more with the same key, and the ledger's idempotency record decides (a
    hit: ours; refused again: another call's). Only if that check gets no
    answer either is the transaction's ``insertedAt`` (server clock) compared
    with the call's start (client clock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..errors import (
    DuplicateOperation,
    LedgerRejected,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
)
from ..types import PostedTransaction, TransactionPlan
from . import wire
from .reads import list_transactions
from .transport import Call, Transport

__all__ = ["lookup", "original", "ours_after_all", "reference_taken_by_another_command"]


def lookup(transport: Transport, reference: str) -> tuple[PostedTransaction, datetime | None] | None:
    """The transaction carrying ``reference`` and its ``insertedAt`` (None if absent), or None."""
    for item in list_transactions(transport, {"$match": {"reference": reference}}, page_size=1):
        return wire.transaction(item), wire.inserted_at(item)
    return None


def reference_taken_by_another_command(
    plan: TransactionPlan, found: PostedTransaction, **details: object
) -> DuplicateOperation:
    """The refusal of ``plan`` when its reference is held by ``found``, posted for a different command."""
    return DuplicateOperation(
        f"reference {plan.reference!r} is already used by transaction {found.id} for a different command",
        code="CONFLICT",
        details={"reference": plan.reference, "transaction_id": found.id, **details},
    )


def original(
    transport: Transport, plan: TransactionPlan, refusal: LoyaltyError
) -> tuple[PostedTransaction, datetime | None]:
    """The transaction holding ``plan``'s reference after ``refusal``, with its ``insertedAt``.

    Raises DuplicateOperation when it was posted for another command, and
    ``refusal`` itself (INSUFFICIENT_FUND) or LedgerRejected (a clash) when
    no transaction carries the reference.
    """
    found = lookup(transport, plan.reference)
    if found is None:
        if refusal.code == "INSUFFICIENT_FUND":
            raise refusal
        raise LedgerRejected(
            f"the ledger reported reference {plan.reference!r} as already used ({refusal.code}) "
            "but no transaction carries it",
            code=refusal.code,
        )
    transaction, inserted_at = found
    if transaction.metadata.get("command_hash") != plan.command_hash:
        raise reference_taken_by_another_command(
            plan, transaction, command_hash=transaction.metadata.get("command_hash")
        )
    return transaction, inserted_at


def ours_after_all(call: Call, recheck: Callable[[], object], inserted_at: datetime | None) -> bool:
    """Whether a transaction found under the reference was posted by an unanswered attempt of ``call``.

    ``recheck`` sends the call's request again with the call's own key: the
    ledger answers it from its idempotency record (a success) only if one
    of the call's attempts committed, and refuses it again otherwise. When
    that gets no answer either, the transaction's ``insertedAt`` (server
    clock) is compared with the call's start (client clock).
    """
    try:
        recheck()
    except (LedgerUnavailable, OutcomeUnknown):
        return call.inserted_since_start(inserted_at)
    except LoyaltyError:
        return False
    return True
