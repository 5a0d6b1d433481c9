"""Identifiers: who and what an operation is about, checked once where they enter.

Each kind of identifier has one pattern. Customer ids and hold ids become
address segments, so they use only the characters Formance addresses allow
(``[A-Za-z0-9_-]``; no ``.``). Reasons and codes are short lower-case codes,
never prose: metadata must never carry personal data.

Use the ``Annotated`` types as pydantic fields; use :func:`customer_id` (and
friends) where a bare string enters a service: an empty or malformed id is
refused with :class:`~loyalty_accounts.errors.InvalidCommand` (exit 2) before
anything is read or posted. An empty id must never reach an address filter,
where it would match every customer.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

from ..errors import InvalidCommand
from .personal_data import not_repeated
from .quoting import quoted

CUSTOMER_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
BUSINESS_KEY_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
# A hold id is also an address segment, and addresses do not allow '.'.
HOLD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
# Reasons are codes, not prose: metadata must never carry personal data.
REASON_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
PARTNER_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
# Who made a decision (a review's operator): an id, never a name or an email.
OPERATOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Codes the rules file names: order categories, channels, engagement events.
CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

CustomerId = Annotated[str, StringConstraints(pattern=CUSTOMER_PATTERN)]
BusinessKey = Annotated[str, StringConstraints(pattern=BUSINESS_KEY_PATTERN)]
HoldId = Annotated[str, StringConstraints(pattern=HOLD_ID_PATTERN)]
ReasonCode = Annotated[str, StringConstraints(pattern=REASON_PATTERN)]
PartnerKey = Annotated[str, StringConstraints(pattern=PARTNER_PATTERN)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
# A reward's SKU names its stock accounts (catalogue:{sku}:stock): an address segment, no '.'.
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
OperatorId = Annotated[str, StringConstraints(pattern=OPERATOR_PATTERN)]


def _checked(value: object, pattern: str, what: str, rule: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern.strip("^$"), value):
        # An email or a phone number typed in an id's place stays out of the message (and of logs).
        hidden = not_repeated(value) if isinstance(value, str) else None
        shown = "empty" if value == "" else f"({hidden})" if hidden is not None else quoted(value)
        raise InvalidCommand(f"{what} {shown} is not valid: {rule}")
    return value


def customer_id(value: object) -> str:
    """``value`` if it is a customer id (1-64 of ``A-Z a-z 0-9 _ -``), else InvalidCommand."""

    return _checked(value, CUSTOMER_PATTERN, "customer id", "use 1-64 letters, digits, '_' or '-'")


def hold_id(value: object) -> str:
    """``value`` if it is a hold id (1-100 of ``A-Z a-z 0-9 _ -``), else InvalidCommand."""

    return _checked(value, HOLD_ID_PATTERN, "hold id", "use 1-100 letters, digits, '_' or '-'")


def business_key(value: object, *, what: str = "business key") -> str:
    """``value`` if it is a business key (1-100 of ``A-Z a-z 0-9 _ . -``), else InvalidCommand."""

    return _checked(value, BUSINESS_KEY_PATTERN, what, "use 1-100 letters, digits, '_', '.' or '-'")


def code(value: object, *, what: str = "code") -> str:
    """``value`` if it is a code (lower-case, 1-32 of ``a-z 0-9 _ -``), else InvalidCommand."""

    return _checked(value, CODE_PATTERN, what, "use 1-32 lower-case letters, digits, '_' or '-'")


def sku(value: object) -> str:
    """``value`` if it is a reward SKU (1-64 of ``A-Z a-z 0-9 _ -``, not starting with ``_`` or ``-``), else InvalidCommand."""

    return _checked(value, SKU_PATTERN, "reward SKU", "use 1-64 letters, digits, '_' or '-', starting with a letter or digit")


def operator_id(value: object) -> str:
    """``value`` if it is an operator id (1-64 of ``A-Z a-z 0-9 _ . -``, starting with a letter or digit), else InvalidCommand."""

    return _checked(value, OPERATOR_PATTERN, "operator id", "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
