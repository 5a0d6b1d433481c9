"""Ledger logs for the event tests: hand-built ones shaped as ``GET /v2/{ledger}/logs`` serves them, and an
in-memory ledger whose logs carry hashes.

Formance v2.4.12 serves a transaction log as ``{"id", "type", "data": {"transaction": {...}}, "date",
"idempotencyKey", "hash"}`` (a revert: ``data.revertedTransaction`` too; see ``support.ledger_logs`` for two
real ones). The hand-built logs here carry a hash of their own content (any base64 of 32 bytes serves the
events, which only need it to tell logs apart); :class:`HashedFakeLedger` chains its logs' hashes as the server
does (:func:`loyalty_accounts.ledger.log_chain.log_hash`): the in-memory ledger's own logs have none, like a
ledger that does not hash its logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Iterator, Mapping, Sequence

from loyalty_accounts.ledger.log_chain import log_hash

from .fake_ledger import FakeLedger

LOG_DATE = "2026-06-01T10:00:01.250000Z"
TX_TIMESTAMP = "2026-06-01T10:00:00Z"


def leg(source: str, destination: str, amount: int, asset: str = "PTS") -> dict[str, Any]:
    """One posting as the server renders it."""

    return {"source": source, "destination": destination, "amount": amount, "asset": asset}


def transaction(
    tx_id: int,
    postings: Sequence[Mapping[str, Any]],
    metadata: Mapping[str, str] | None = None,
    *,
    reference: str | None = None,
    timestamp: str = TX_TIMESTAMP,
) -> dict[str, Any]:
    """A transaction as a log holds it."""

    tx: dict[str, Any] = {
        "id": tx_id,
        "postings": [dict(p) for p in postings],
        "metadata": dict(metadata or {}),
        "timestamp": timestamp,
        "reverted": False,
        "insertedAt": LOG_DATE,
    }
    if reference is not None:
        tx["reference"] = reference
    return tx


def content_hash(log: Mapping[str, Any]) -> str:
    """A base64 hash of the log's content (its id, type, data and date)."""

    content = json.dumps([log.get("id"), log.get("type"), log.get("data"), log.get("date")], sort_keys=True)
    return base64.b64encode(hashlib.sha256(content.encode("utf-8")).digest()).decode("ascii")


def served_log(log_id: int, log_type: str, data: Mapping[str, Any], *, date: str = LOG_DATE) -> dict[str, Any]:
    """A log as ``GET /v2/{ledger}/logs`` serves it, with a hash of its content."""

    log: dict[str, Any] = {"id": log_id, "type": log_type, "data": dict(data), "date": date, "idempotencyKey": ""}
    log["hash"] = content_hash(log)
    return log


def new_transaction_log(log_id: int, tx: Mapping[str, Any], *, date: str = LOG_DATE) -> dict[str, Any]:
    return served_log(log_id, "NEW_TRANSACTION", {"transaction": dict(tx), "accountMetadata": {}}, date=date)


def reverted_log(log_id: int, reversal: Mapping[str, Any], reverted: Mapping[str, Any], *, date: str = LOG_DATE) -> dict[str, Any]:
    """The log of ``reversal`` (the transaction a revert posted) reverting ``reverted``."""

    data = {"revertedTransaction": {**reverted, "reverted": True}, "transaction": dict(reversal)}
    return served_log(log_id, "REVERTED_TRANSACTION", data, date=date)


def mirrored(reversal_id: int, tx: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction the server posts to revert ``tx``: every posting the other way, the reverts key set."""

    postings = [leg(p["destination"], p["source"], p["amount"], p["asset"]) for p in tx["postings"]]
    return transaction(reversal_id, postings, {"com.formance.spec/state/reverts": str(tx["id"])})


class HashedFakeLedger(FakeLedger):
    """The in-memory ledger, serving its logs with the hash chain a v2.4.12 server writes (HASH_LOGS=SYNC)."""

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        previous: bytes | None = None
        for log in super().logs():
            previous = log_hash(log, previous)
            if from_id is None or log["id"] >= from_id:
                yield {**log, "hash": base64.b64encode(previous).decode("ascii")}
