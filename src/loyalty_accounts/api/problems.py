"""Errors as HTTP answers: problem documents (RFC 9457, ``application/problem+json``), one status per error.

The project's error tree (:mod:`loyalty_accounts.errors`) maps one to one, with the meanings of the
CLI's exit codes::

    error                    status  CLI exit   type (after PROBLEM_BASE)
    InvalidCommand           400     2          invalid-request
    KeyRefused               401     -          unauthenticated
    NotAllowed               403     -          forbidden
    UnknownEntity            404     1          not-found
    DuplicateOperation       409     1          duplicate-operation
    IdempotencyConflict      409     -          idempotency-conflict  (same key, another request; or in progress)
    InsufficientPoints       422     1          insufficient-points
    PeriodClosed             422     1          period-closed
    OutOfStock               422     1          out-of-stock
    OperationRefused         422     1          operation-refused
    EngagementLimitReached   422     1          engagement-limit-reached
    LedgerRejected           502     1          ledger-rejected
    MemberDataUnreadable     500     1          member-data-unreadable
    LedgerUnavailable        503     3          ledger-unavailable    (nothing was written: retry)
    RegistryUnavailable      503     3          registry-unavailable
    OutcomeUnknown           504     4          outcome-unknown       (retry with the same key to learn)

A problem's ``detail`` is the error's one-line message, which never repeats a value that looks like
personal data (the messages are written so); ``code`` is the ledger's error code when there is one.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerRejected,
    LedgerUnavailable,
    LoyaltyError,
    MemberDataUnreadable,
    OperationRefused,
    OutOfStock,
    OutcomeUnknown,
    PeriodClosed,
    RegistryUnavailable,
    UnknownEntity,
)
from ..rules import EngagementLimitReached
from ..vocabulary.personal_data import EMAIL, phone_numbers
from .keys import KeyRefused, NotAllowed

__all__ = ["PROBLEM_BASE", "IdempotencyConflict", "problem", "problem_of", "status_of"]

PROBLEM_BASE = "https://loyalty-accounts.dev/problems/"
"""Where a problem's ``type`` points (a name for the kind of problem, not a page that must exist)."""


class IdempotencyConflict(LoyaltyError):
    """An Idempotency-Key reused for another request, or one whose first request is still running (HTTP 409)."""


# Most specific first: the first class an error is an instance of decides.
_STATUSES: tuple[tuple[type[LoyaltyError], int, str], ...] = (
    (KeyRefused, 401, "unauthenticated"),
    (NotAllowed, 403, "forbidden"),
    (InvalidCommand, 400, "invalid-request"),
    (UnknownEntity, 404, "not-found"),
    (DuplicateOperation, 409, "duplicate-operation"),
    (IdempotencyConflict, 409, "idempotency-conflict"),
    (InsufficientPoints, 422, "insufficient-points"),
    (PeriodClosed, 422, "period-closed"),
    (OutOfStock, 422, "out-of-stock"),
    (OperationRefused, 422, "operation-refused"),
    (EngagementLimitReached, 422, "engagement-limit-reached"),
    (LedgerRejected, 502, "ledger-rejected"),
    (MemberDataUnreadable, 500, "member-data-unreadable"),
    (LedgerUnavailable, 503, "ledger-unavailable"),
    (RegistryUnavailable, 503, "registry-unavailable"),
    (OutcomeUnknown, 504, "outcome-unknown"),
)
FINAL_STATUSES = frozenset({200, 201, 400, 404, 409, 422})
"""Answers that say what the request is, kept for its idempotency key; any other releases the key."""


def status_of(error: LoyaltyError) -> tuple[int, str]:
    """The HTTP status and problem type name of ``error`` (500 ``internal`` for an error outside the table)."""

    for kind, status, name in _STATUSES:
        if isinstance(error, kind):
            return status, name
    return 500, "internal"


def problem(status: int, name: str, title: str, detail: str, *, instance: str | None = None, **extra: Any) -> dict[str, Any]:
    """A problem document."""

    doc: dict[str, Any] = {"type": PROBLEM_BASE + name, "title": title, "status": status, "detail": detail}
    if instance is not None:
        doc["instance"] = instance
    doc.update({k: v for k, v in extra.items() if v is not None})
    return doc


UNAVAILABLE = {
    "ledger-unavailable": "the ledger is unavailable; nothing was written: retry",
    "registry-unavailable": "the registry is unavailable; nothing was written: retry",
}
"""What a 503 says to a caller: not where the servers are (the operator's log and `loyalty ledger status` say)."""


def scrubbed(text: str) -> str:
    """``text`` with anything looking like an email or a phone number replaced: a message quoting what a caller
    sent (an unknown partner, a malformed instant) must not hand personal data back."""

    text = EMAIL.sub("(withheld)", text)
    for number in sorted(phone_numbers(text), key=len, reverse=True):
        text = text.replace(number, "(withheld)")
    return text


def problem_of(error: LoyaltyError, *, instance: str | None = None) -> tuple[int, bytes]:
    """``error`` as (status, problem document bytes); the detail scrubbed (:func:`scrubbed`), a 503's generic."""

    status, name = status_of(error)
    detail = UNAVAILABLE.get(name) or scrubbed(error.message)
    title = "InvalidCommand" if isinstance(error, InvalidCommand) else type(error).__name__
    doc = problem(status, name, title, detail, instance=instance, code=error.code)
    return status, json.dumps(doc, separators=(",", ":")).encode("utf-8")
