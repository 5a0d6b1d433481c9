"""Wire formats: what goes to the Formance ledger and how its answers become project values.

Requests: the create-transaction body (the same plan always gives the same
bytes, which the exactly-once rules rely on), instants in UTC, and address
filters and transaction ids checked before anything is sent (the server
splices exact addresses into SQL text).

Responses are read from the raw JSON, not from the SDK's models: amounts are
arbitrary-precision integers (Go ``big.Int``) that must stay Python ``int``,
and anything that does not have the expected shape raises LedgerRejected
with code ``UNEXPECTED_RESPONSE``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

import httpx
from pydantic import ValidationError

from ..errors import InvalidCommand, LedgerRejected
from ..types import (
    AccountState,
    PostedTransaction,
    TransactionPlan,
    VolumeRow,
)
from ..vocabulary.instants import iso_instant, parse_instant
from .errors import unexpected

__all__ = [
    "EFFECTIVE_VOLUMES",
    "ADDRESS",
    "post_json",
    "rfc3339",
    "address_filter",
    "tx_id",
    "json_body",
    "data",
    "integer",
    "transaction",
    "account",
    "volume_row",
    "inserted_at",
]

ADDRESS = re.compile(r"^[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*$")
# Address filters: an empty segment matches any one segment, a trailing "..." any subtree.
# The server splices exact addresses into SQL text, so anything else is refused here.
_ADDRESS_FILTER = re.compile(r"^(\.\.\.|[a-zA-Z0-9_-]*(:[a-zA-Z0-9_-]*)*(:\.\.\.)?)$")
_INTEGER = re.compile(r"^-?[0-9]+$")
EFFECTIVE_VOLUMES = "effectiveVolumes"
"""Account expansion giving volumes by effective date (also the key it comes back under)."""


# -- requests -------------------------------------------------------------------


def post_json(plan: TransactionPlan) -> dict[str, Any]:
    """The create-transaction body as JSON values, keys in the order formance-sdk-python writes them.

    ``{"metadata", "reference", "script": {"plain", "vars"}, "timestamp"?}``; metadata and vars
    sorted by key, the timestamp (when the plan has one) in UTC: the same plan always gives the
    same bytes (:func:`~loyalty_accounts.ledger.transport.json_content`).
    """
    body: dict[str, Any] = {
        "metadata": dict(sorted(plan.all_metadata().items())),
        "reference": plan.reference,
        "script": {"plain": plan.script, "vars": dict(sorted(plan.vars.items()))},
    }
    if plan.timestamp is not None:
        body["timestamp"] = rfc3339(plan.timestamp)
    return body


def rfc3339(moment: datetime) -> str:
    """An instant as the server takes it: UTC with a Z (InvalidCommand for a naive one)."""

    return iso_instant(moment)


def address_filter(value: str) -> str:
    if not value or not _ADDRESS_FILTER.match(value):
        raise InvalidCommand(f"not a ledger address filter: {value!r}")
    return value


def address_query(wanted: str | Sequence[str]) -> dict[str, Any]:
    """The query body matching accounts by one address filter, or by any of several (``$or``)."""

    filters = [wanted] if isinstance(wanted, str) else list(dict.fromkeys(wanted))
    if not filters:
        raise InvalidCommand("an account listing needs at least one address filter")
    clauses = [{"$match": {"address": address_filter(value)}} for value in filters]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def tx_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidCommand(f"not a transaction id: {value!r}")
    return value


# -- responses ------------------------------------------------------------------


def _integer_text(text: str) -> int:
    """A JSON integer of any size: Go's big.Int volumes may exceed the 4,300 digits Python's ``int(str)`` takes."""

    return int(text) if len(text) < 4000 else int(Decimal(text))


def json_body(response: httpx.Response, what: str) -> Any:
    """The response's JSON document, integers of any size read exactly.

    Raises LedgerRejected (``UNEXPECTED_RESPONSE``) when the body is not JSON.
    """
    content = response.content
    try:
        # The C scanner first; an integer past Python's digit limit raises ValueError, and only then
        # is the document read again with the hook (volumes that large are rare).
        return json.loads(content)
    except ValueError:
        pass
    try:
        return json.loads(content, parse_int=_integer_text)
    except ValueError as exc:
        raise LedgerRejected(
            f"{what}: expected JSON from the ledger, got {response.status_code} {response.text[:200]!r}",
            code="UNEXPECTED_RESPONSE",
        ) from exc


def data(response: httpx.Response, what: str) -> Any:
    body = json_body(response, what)
    if not isinstance(body, dict) or "data" not in body:
        raise unexpected(what, body)
    return body["data"]


def integer(value: Any, what: str) -> int:
    """An amount as a Python int. Go big.Int arrives as a JSON number (or a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    raise unexpected(what, value)


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise unexpected(what, value)
    return {str(k): str(v) for k, v in value.items()}


def transaction(item: Any, *, replayed: bool = False) -> PostedTransaction:
    if not isinstance(item, dict):
        raise unexpected("transaction", item)
    try:
        # One validation of the whole value (postings included) is cheaper than one per posting.
        return PostedTransaction.model_validate(
            {
                "id": integer(item["id"], "transaction id"),
                "reference": item.get("reference") or None,
                "timestamp": item["timestamp"],
                "postings": [
                    {
                        "source": p["source"],
                        "destination": p["destination"],
                        "amount": integer(p["amount"], "posting amount"),
                        "asset": p["asset"],
                    }
                    for p in item.get("postings") or []
                ],
                "metadata": _str_map(item.get("metadata"), "transaction metadata"),
                "reverted": bool(item.get("reverted", False)),
                "replayed": replayed,
                "inserted_at": inserted_at(item),
            }
        )
    except (KeyError, TypeError, ValidationError) as exc:
        raise unexpected("transaction", item) from exc


def account(item: Any) -> AccountState:
    """An account read with ``expand=effectiveVolumes``; no key means no movement (yet)."""
    if not isinstance(item, dict) or not isinstance(item.get("address"), str):
        raise unexpected("account", item)
    volumes = item.get(EFFECTIVE_VOLUMES) or {}
    if not isinstance(volumes, dict):
        raise unexpected("account volumes", volumes)
    return AccountState.model_validate(
        {
            "address": item["address"],
            "metadata": _str_map(item.get("metadata"), "account metadata"),
            "volumes": {
                str(asset): {
                    "input": integer(v.get("input"), "input volume"),
                    "output": integer(v.get("output"), "output volume"),
                }
                for asset, v in volumes.items()
                if isinstance(v, dict)
            },
        }
    )


def volume_row(item: Any) -> VolumeRow:
    if not isinstance(item, dict):
        raise unexpected("volume row", item)
    try:
        return VolumeRow(
            account=item["account"],
            asset=item["asset"],
            input=integer(item["input"], "input volume"),
            output=integer(item["output"], "output volume"),
            balance=integer(item["balance"], "balance"),
        )
    except (KeyError, ValidationError) as exc:
        raise unexpected("volume row", item) from exc


def inserted_at(item: Any) -> datetime | None:
    """A transaction's ``insertedAt`` (when the server recorded it, by its clock), if it sent one.

    v2.4.12 serialises it with the transaction (``internal/transaction.go``, ``Transaction.InsertedAt``,
    ``json:"insertedAt,omitempty"``), in UTC to the microsecond; the database fills it when the row is
    inserted (trigger ``set_transaction_inserted_at`` calling ``transaction_date()``, in
    ``internal/storage/bucket/migrations/11-make-stateless/up.sql``).
    """
    text = item.get("insertedAt") if isinstance(item, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return parse_instant(text, timezone.utc, what="insertedAt")
    except InvalidCommand:
        return None
