"""What the services answer: one command's result, a programme-wide run's, an earn's tier change."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Sequence

from ..types import PostedTransaction
from ..vocabulary.frozen import Frozen


class TierChange(Frozen):
    """How an earn moved its customer's tier at the order's instant (before this order vs after it)."""

    before: str
    after: str
    direction: Literal["upgrade", "downgrade", "changed"]

    def __str__(self) -> str:
        return f"{self.direction}: {self.before} → {self.after}"


class OperationResult(Frozen):
    """What one command did: the transactions it posted (or found already posted)."""

    operation: str
    reference: str
    replayed: bool
    points: int
    transactions: tuple[PostedTransaction, ...] = ()
    note: str | None = None
    tier_change: TierChange | None = None
    review: str | None = None
    """A redemption held for review: ``pending`` (nothing redeemed yet), then ``approved``, ``rejected`` or ``lapsed``."""

    @property
    def posted(self) -> bool:
        return bool(self.transactions) and not self.replayed

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "operation": self.operation,
            "reference": self.reference,
            "replayed": self.replayed,
            "points": self.points,
            "transactions": [tx.id for tx in self.transactions],
            "note": self.note,
        }
        if self.tier_change is not None:
            out["tier_change"] = str(self.tier_change)
        if self.review is not None:
            out["review"] = self.review
        return out


class BatchResult(Frozen):
    """A programme-wide run (expire, release, void of lapsed holds)."""

    operation: str
    as_of: datetime
    posted: int
    replayed: int
    points: int
    results: tuple[OperationResult, ...] = ()

    def summary(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "as_of": self.as_of.isoformat(),
            "posted": self.posted,
            "replayed": self.replayed,
            "points": self.points,
        }


def batch_of(operation: str, as_of: datetime, results: Sequence[OperationResult]) -> BatchResult:
    """The run's totals: posted, replayed and the points posted by this run (replays not counted)."""

    return BatchResult(
        operation=operation,
        as_of=as_of,
        posted=sum(1 for r in results if not r.replayed and r.transactions),
        replayed=sum(1 for r in results if r.replayed),
        points=sum(r.points for r in results if not r.replayed),
        results=tuple(results),
    )


def points_of(tx: PostedTransaction, asset: str) -> int:
    """Points an operation moved: its own metadata when it says, else its largest points posting."""

    meta = tx.metadata.get("points")
    if meta is not None and meta.isdigit():
        return int(meta)
    return max((p.amount for p in tx.postings if p.asset == asset), default=0)
