"""Recognising reverts: which transactions reverse which (read by the reconciliation and the customer statement).

The v2.4.12 server marks a reversal with the metadata key
``com.formance.spec/state/reverts`` = the original's id, and the original
reads ``reverted=True``. A transaction carrying that key, or (for ledgers
that do not add it) whose postings mirror an earlier reverted transaction,
is a revert (a void is a revert of a hold).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Sequence

from ..operations import OPERATIONS
from ..types import PostedTransaction

__all__ = ["REVERT_METADATA_KEY", "revert_targets"]

REVERT_METADATA_KEY = "com.formance.spec/state/reverts"
"""Metadata the v2.4.12 server writes on a reversal: the id of the transaction it reverts."""


def _mirror_key(postings: Iterable[Any], *, swap: bool) -> tuple[tuple[str, str, int, str], ...]:
    return tuple(
        sorted(
            (p.destination, p.source, p.amount, p.asset) if swap else (p.source, p.destination, p.amount, p.asset)
            for p in postings
        )
    )


def revert_targets(transactions: Sequence[PostedTransaction]) -> dict[int, int]:
    """Reversing transaction id → id of the transaction it reverts.

    A transaction reverts another if it carries :data:`REVERT_METADATA_KEY`
    (what the server writes), or, not being one of the operations' own plans
    (no ``operation`` metadata, or one such as ``void`` that names a revert),
    its postings are the mirror image of an earlier transaction marked
    ``reverted`` that no other reversal claims.
    """

    targets: dict[int, int] = {}
    claimed: set[int] = set()
    for tx in transactions:
        marker = tx.metadata.get(REVERT_METADATA_KEY, "")
        if marker.isdigit():
            targets[tx.id] = int(marker)
            claimed.add(int(marker))
    originals: dict[tuple[tuple[str, str, int, str], ...], list[int]] = defaultdict(list)
    for tx in sorted(transactions, key=lambda t: t.id):
        if tx.reverted and tx.id not in claimed:
            originals[_mirror_key(tx.postings, swap=True)].append(tx.id)
    for tx in sorted(transactions, key=lambda t: t.id):
        if tx.id in targets or tx.metadata.get("operation") in OPERATIONS:
            continue
        candidates = [i for i in originals.get(_mirror_key(tx.postings, swap=False), []) if i < tx.id and i not in claimed]
        if candidates:
            targets[tx.id] = candidates[0]
            claimed.add(candidates[0])
    return targets
