"""Recognising reverts: by the server's marker, or by postings that mirror a reverted transaction."""

from __future__ import annotations

from support.report_books import HOLD_META, tx

from loyalty_accounts.reports.reverts import REVERT_METADATA_KEY, revert_targets


def test_reverts_are_recognised_by_the_server_marker_or_by_mirror_postings() -> None:
    original = tx(0, [("customers:c1:points:20270301", "customers:c1:holds:h-1", 60)], HOLD_META, reverted=True)
    mirror = tx(1, [("customers:c1:holds:h-1", "customers:c1:points:20270301", 60)])
    marked = tx(3, [("x", "y", 1)], {REVERT_METADATA_KEY: "2"})
    other = tx(2, [("y", "x", 1)], {"operation": "manual"}, reverted=True)
    assert revert_targets([original, mirror, other, marked]) == {1: 0, 3: 2}
    # A mirror of a transaction that was not reverted is not a revert.
    assert revert_targets([original.model_copy(update={"reverted": False}), mirror]) == {}
