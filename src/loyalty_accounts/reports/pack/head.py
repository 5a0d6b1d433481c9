"""The ledger's log head: the last log when the pack was read, its hash, and the chain verified up to it.

Formance Ledger v2.4.12 chains its log (each log's SHA-256 covers its
content and the previous log's hash: :mod:`loyalty_accounts.ledger.log_chain`),
so the head's hash pins every log before it, and with them every
transaction a report reads. A pack states the head it was read under and
checks, after its reads, that the log still ends there (:func:`logs_after`):
then no write landed between its reads.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from ...errors import InvalidCommand
from ...ports import LedgerPort
from ...vocabulary.instants import parse_instant
from ..check import Check
from ..log_chain import check_log_chain
from .model import LogHead

__all__ = ["log_head", "logs_after", "read_log_head"]


def _date(log: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_instant(str(log.get("date", "")), timezone.utc, what="log date")
    except InvalidCommand:
        return None


def log_head(last: Mapping[str, Any] | None, logs: int, chain: Check) -> LogHead:
    """The head from the last log as served (None: the ledger has no log), the count and the chain's verdict."""

    if last is None:
        return LogHead(log_id=None, hash=None, date=None, type=None, logs=0, chain=chain)
    log_id = last.get("id")
    stored = last.get("hash")
    return LogHead(
        log_id=log_id if isinstance(log_id, int) and not isinstance(log_id, bool) else None,
        hash=str(stored) if stored else None,
        date=_date(last),
        type=str(last.get("type")) if last.get("type") else None,
        logs=logs,
        chain=chain,
    )


def read_log_head(ledger: LedgerPort) -> LogHead:
    """Every log, oldest first (one listing), each hash recomputed; the last one is the head."""

    seen: dict[str, Any] = {"last": None, "count": 0}

    def walk() -> Iterator[Mapping[str, Any]]:
        for log in ledger.logs():
            seen["last"] = log
            seen["count"] += 1
            yield log

    chain = check_log_chain(walk())
    return log_head(seen["last"], seen["count"], chain)


def logs_after(ledger: LedgerPort, head: LogHead) -> tuple[int, ...]:
    """The ids of the logs written after ``head`` (empty: the log still ends at the head).

    One listing from the head's id on. A head that is no longer there with its hash counts as
    moved too (its id is returned): the log was altered under the pack.
    """

    if head.log_id is None:
        return tuple(int(log.get("id", -1)) for log in ledger.logs())
    listed = list(ledger.logs(from_id=head.log_id))
    if not listed or listed[0].get("id") != head.log_id or (listed[0].get("hash") or None) != head.hash:
        return (head.log_id,)
    return tuple(int(log.get("id", -1)) for log in listed[1:])
