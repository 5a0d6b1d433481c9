"""Time over the whole history: closed periods stayed closed, nothing was dated in the future.

- ``closed_periods``: every period close (a ``period_close`` transaction,
  its ``closed_through`` metadata) holds. No transaction inserted after a
  close is dated at or before the instant it closed through; each close goes
  past the one before it; no close was reverted; and the closed-period mark
  (``program:control:closed``, control asset) holds minus the latest
  closed-through instant in microseconds since the epoch (0 while nothing is
  closed), the value every guarded post checks
  (:mod:`loyalty_accounts.operations.guard`).
- ``future_dated``: no transaction is dated more than the allowed clock skew
  after the instant the ledger recorded it (its ``inserted_at``).

"Inserted after" is "has a higher transaction id". On v2.4.12 an id is
``nextval`` of the ledger's sequence, taken by the INSERT of the
transaction row (``InsertTransaction`` in
``internal/storage/ledger/transactions.go``), which runs after the
post's balances were read and locked ``FOR UPDATE``
(``GetBalances`` in ``internal/storage/ledger/balances.go``, then
``CommitTransaction``), inside one database transaction. A close and every
guarded post lock the same mark row, so of two of them the one numbered
higher took its lock after the other committed: it saw the moved mark.

``closed_periods`` judges the transactions reconcile lists as of its
instant (those dated at or before it), so a close dated after the as-of
instant is not seen; the mark is read at the same instant.
``future_dated`` judges those and the ones dated after the as-of instant but
inserted by then: what the ledger had recorded at that instant. Each lists at most
:data:`~.check.SHOWN` offending items and counts them all.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Sequence

from ..errors import InvalidCommand
from ..operations.guard import from_microseconds, microseconds
from ..operations.period_close import PeriodCloseCommand
from ..types import PostedTransaction
from ..vocabulary.instants import iso_instant, parse_instant
from .check import Check, verdict

__all__ = ["check_closed_periods", "check_future_dated"]


def _label(tx: PostedTransaction) -> str:
    return f"#{tx.id} ({tx.metadata.get('operation', 'no operation')}, dated {iso_instant(tx.timestamp)})"


def _closed_through(tx: PostedTransaction) -> datetime | None:
    try:
        return parse_instant(tx.metadata.get("closed_through", ""), timezone.utc, what="closed_through")
    except InvalidCommand:
        return None


def check_closed_periods(transactions: Sequence[PostedTransaction], mark: int) -> Check:
    """No transaction inserted into a closed period after its close; closes monotonic; the mark agrees.

    ``transactions`` in any order (they are walked by id, the order the
    ledger inserted them); ``mark`` is the balance of the closed-period mark
    in the control asset at the same instant. Offending items name the
    transactions: one dated at or before a close it was inserted after, a
    close not past the one before it, a reverted close, a close whose
    ``closed_through`` is unreadable, and a mark disagreeing with the closes.
    """

    breaks: list[str] = []
    closes = checked = 0
    last: tuple[datetime, PostedTransaction] | None = None
    for tx in sorted(transactions, key=lambda t: t.id):
        if last is not None:
            checked += 1
            if tx.timestamp <= last[0]:
                breaks.append(
                    f"{_label(tx)} was inserted after close #{last[1].id} and is dated at or before "
                    f"{iso_instant(last[0])}, the instant it closed the books through"
                )
        if tx.metadata.get("operation") != PeriodCloseCommand.operation:
            continue
        closes += 1
        through = _closed_through(tx)
        if through is None:
            breaks.append(f"close #{tx.id}: closed_through {tx.metadata.get('closed_through')!r} is not an instant")
            continue
        if tx.reverted:
            breaks.append(f"close #{tx.id} through {iso_instant(through)} was reverted: the mark moved back")
        if last is not None and through <= last[0]:
            breaks.append(
                f"close #{tx.id} through {iso_instant(through)} does not go past close #{last[1].id} "
                f"through {iso_instant(last[0])}"
            )
            continue
        last = (through, tx)
    expected = -microseconds(last[0]) if last is not None else 0
    if mark != expected:
        held = iso_instant(from_microseconds(-mark)) if mark < 0 else "nothing"
        said = iso_instant(last[0]) if last is not None else "nothing"
        breaks.append(
            f"the closed-period mark holds {mark} (closed through {held}), "
            f"the closes say {expected} (closed through {said})"
        )
    where = f"closed through {iso_instant(last[0])} by #{last[1].id}" if last is not None else "nothing closed"
    detail = (
        f"{closes} close(s), {where}; mark {mark}; {checked} transaction(s) inserted after a close "
        "checked against the instant it closed through"
    )
    return verdict("closed_periods", detail, breaks)


def check_future_dated(transactions: Sequence[PostedTransaction], skew: timedelta) -> Check:
    """No transaction dated more than ``skew`` after the ledger recorded it.

    A transaction whose ``inserted_at`` the ledger did not give is not
    judged (counted in the detail); when none carries it the check is
    ``not_verified``.
    """

    name = "future_dated"
    known = [tx for tx in sorted(transactions, key=lambda t: t.id) if tx.inserted_at is not None]
    unknown = len(transactions) - len(known)
    if transactions and not known:
        return Check(name=name, status="not_verified", detail="the ledger gave no insertion instant for any transaction")
    breaks = [
        f"{_label(tx)} was inserted at {iso_instant(tx.inserted_at)}: dated {tx.timestamp - tx.inserted_at} "
        f"after it, more than the clock skew {skew}"
        for tx in known
        if tx.inserted_at is not None and tx.timestamp > tx.inserted_at + skew
    ]
    detail = (
        f"{len(known)} transaction(s)' dates checked against their insertion instant plus the clock skew "
        f"{skew}" + (f"; {unknown} without an insertion instant, not judged" if unknown else "")
    )
    return verdict(name, detail, breaks)
