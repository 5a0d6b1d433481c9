"""The errors loyalty-accounts raises, and what each means to a caller.

::

    LoyaltyError                     exit 1 unless stated
    ├── InvalidCommand               exit 2: bad input, nothing was sent
    │   ├── ChartError               chart_of_accounts.yaml or a template is malformed
    │   └── RegistryKeyMismatch      the registry key configured is not the one the members' keys are wrapped with
    ├── InsufficientPoints           the customer cannot cover the amount
    ├── UnknownEntity                a customer, hold or order the ledger has never seen
    ├── DuplicateOperation           business key reused with different content
    ├── OperationRefused             a business rule refuses it (a lapsed hold captured, a captured hold voided)
    │   ├── PeriodClosed             dated at or before the instant the books are closed through
    │   └── OutOfStock               a physical reward with no unit left in its stock (on the ledger)
    ├── LedgerRejected               the server refused the request for another reason
    ├── MemberDataUnreadable         a member's sealed data does not decrypt: altered, or another key
    ├── LedgerUnavailable            exit 3: unreachable, timed out or 5xx; nothing was written
    ├── OutcomeUnknown               exit 4: a write got no answer within the retry budget;
    │                                it may have been posted: run the same command again to learn
    ├── RegistryUnavailable          exit 3: the member registry's database cannot be reached or used
    └── LocalServerError             exit 3: the local PostgreSQL/ledger could not be run
        └── LedgerServerNotFound     no v2.4.12 binary installed or cached, and no build possible
            └── LedgerBuildRefused   the Go module proxy will not serve the ledger module

``LedgerUnavailable`` and ``OutcomeUnknown`` are the retryable ones: every
write carries a stable reference, so repeating the same command cannot post
twice, and after ``OutcomeUnknown`` it is how the caller learns what happened
(the original transaction, reported as ``replayed``, or a fresh posting).
A read that runs out of retries is always ``LedgerUnavailable``.
"""

from __future__ import annotations

from typing import Any


class LoyaltyError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.code:
            out["code"] = self.code
        return out


class InvalidCommand(LoyaltyError):
    """The request is malformed; it was rejected before reaching the ledger."""

    exit_code = 2


class ChartError(InvalidCommand):
    """The chart of accounts or a Numscript template is invalid."""


class OperationRefused(LoyaltyError):
    """A well-formed command that the programme's rules refuse in the state the ledger is in."""


class PeriodClosed(OperationRefused):
    """The command is dated at or before the instant through which the books are closed."""


class OutOfStock(OperationRefused):
    """The reward's stock account (``catalogue:{sku}:stock``) has no unit left for the redemption; nothing posted."""


class InsufficientPoints(LoyaltyError):
    """The source accounts cannot cover the amount (Formance INSUFFICIENT_FUND)."""


class UnknownEntity(LoyaltyError):
    """A customer, hold, order or transaction does not exist in the ledger."""


class DuplicateOperation(LoyaltyError):
    """A business key was reused for a different operation or different content."""


class RegistryKeyMismatch(InvalidCommand):
    """The registry key configured does not open the registry: the members' data keys were wrapped with
    another (a configuration mistake; nothing was read or written)."""


class MemberDataUnreadable(LoyaltyError):
    """A member's wrapped data key or sealed profile fails authentication: the stored bytes were altered,
    or they belong to another member."""


class RegistryUnavailable(LoyaltyError):
    """The member registry's PostgreSQL database cannot be reached, created or migrated; nothing was written."""

    exit_code = 3


class LedgerRejected(LoyaltyError):
    """The ledger refused the request (validation, compilation, conflict...)."""


class LedgerUnavailable(LoyaltyError):
    """The ledger could not be reached or failed transiently; retrying is safe.

    Raised for a write only when no attempt can have reached the server
    unanswered (e.g. every attempt's connection was refused): nothing was posted.
    """

    exit_code = 3


class OutcomeUnknown(LoyaltyError):
    """A write may or may not have been applied: an attempt reached the ledger (or may have)
    and no answer came back before the retry budget ran out.

    Repeating the same command is safe and is how to learn the outcome: it is
    answered with the original transaction if the write was applied.
    ``details`` carries ``{"what", "attempts", "reference"?}``.
    """

    exit_code = 4


class LocalServerError(LoyaltyError):
    """The project's local PostgreSQL or ledger process could not be managed."""

    exit_code = 3


class LedgerServerNotFound(LocalServerError):
    """No Formance Ledger server binary is installed, cached, or buildable here.

    The message names every place searched and every installed binary that
    was skipped (and why), then why a build is impossible.
    """


class LedgerBuildRefused(LedgerServerNotFound):
    """The Go module proxy refuses to serve the Formance Ledger module."""
