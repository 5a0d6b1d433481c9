"""The ledger's refusals as the project's errors (:mod:`loyalty_accounts.errors`).

Formance v2 answers a refused request with ``{"errorCode", "errorMessage",
"details"}``; :data:`ERROR_TYPES` says which project error each code becomes.
Bodies that are not Formance's (a proxy's page, an empty 409) are described
by their status instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import (
    DuplicateOperation,
    InsufficientPoints,
    LedgerRejected,
    LedgerUnavailable,
    LoyaltyError,
    UnknownEntity,
)

__all__ = ["ERROR_TYPES", "error_type", "error_fields", "error_from_response", "unexpected", "may_mean_taken"]

ERROR_TYPES: Mapping[str, type[LoyaltyError]] = {
    "INSUFFICIENT_FUND": InsufficientPoints,
    "NOT_FOUND": UnknownEntity,
    "LEDGER_NOT_FOUND": UnknownEntity,
    "ALREADY_REVERT": DuplicateOperation,
    "CONFLICT": DuplicateOperation,
    "VALIDATION": LedgerRejected,
    "COMPILATION_FAILED": LedgerRejected,
    "INTERPRETER_PARSE": LedgerRejected,
    "INTERPRETER_RUNTIME": LedgerRejected,
    "NO_POSTINGS": LedgerRejected,
    "METADATA_OVERRIDE": LedgerRejected,
    "SCHEMA_NOT_SPECIFIED": LedgerRejected,
    "SCHEMA_ALREADY_EXISTS": LedgerRejected,
    "OUTDATED_SCHEMA": LedgerRejected,
    "BULK_SIZE_EXCEEDED": LedgerRejected,
    "LEDGER_ALREADY_EXISTS": LedgerRejected,
    "INTERNAL": LedgerUnavailable,
    "TIMEOUT": LedgerUnavailable,
}
"""Formance error code -> project error. Codes not listed become LedgerRejected."""


def error_type(code: str) -> type[LoyaltyError]:
    """The project error a Formance error code becomes (LedgerRejected when the code is not listed)."""
    return ERROR_TYPES.get(code, LedgerRejected)


def error_fields(response: httpx.Response) -> tuple[str, str, Any]:
    """(code, message, details) from a Formance error body, or a description of a foreign one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errorCode"), str) and body["errorCode"]:
        return body["errorCode"], str(body.get("errorMessage") or ""), body.get("details")
    text = response.text.strip()
    description = f"non-Formance response body: {text[:200]!r}" if text else "empty response body"
    # 409 only ever means a conflict in this API, with or without a body.
    code = "CONFLICT" if response.status_code == 409 else f"HTTP_{response.status_code}"
    return code, description, None


def error_from_response(what: str, response: httpx.Response) -> LoyaltyError:
    """The project error for a refused request, naming the request and the server's answer."""
    code, message, details = error_fields(response)
    request = response.request
    if code == "LEDGER_NOT_FOUND":
        parts = request.url.path.split("/")
        name = parts[parts.index("v2") + 1] if "v2" in parts[:-1] else "?"
        return UnknownEntity(
            f"ledger {name!r} does not exist at {request.url.scheme}://{request.url.netloc.decode()} "
            f"({what}: {request.method} {request.url.path} -> {response.status_code} {code}: {message})",
            code=code,
            details=details,
        )
    return error_type(code)(
        f"{what} refused by the ledger "
        f"({request.method} {request.url.path} -> {response.status_code} {code}): {message}",
        code=code,
        details=details,
    )


def unexpected(what: str, value: Any) -> LedgerRejected:
    """A response the adapter cannot read (code ``UNEXPECTED_RESPONSE``)."""
    return LedgerRejected(f"unexpected {what} from the ledger: {str(value)[:200]}", code="UNEXPECTED_RESPONSE")


def may_mean_taken(error: LoyaltyError) -> bool:
    """A refusal that may mean "the reference is already taken": look it up before believing it.

    409 CONFLICT (reference taken), 400 VALIDATION for a key reused with
    another body, and INSUFFICIENT_FUND: v2.4.12 runs the script's balance
    checks before the reference's uniqueness is checked (createTransaction in
    ``internal/controller/ledger/controller_default.go``), so the losing twin of
    two identical spends of the whole balance hears this.
    """
    code, message = error.code, error.message
    return code in ("CONFLICT", "INSUFFICIENT_FUND") or (code == "VALIDATION" and "invalid idempotency hash" in message)
