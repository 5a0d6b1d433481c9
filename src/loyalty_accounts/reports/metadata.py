"""What each operation writes: the one table of the metadata keys every operation's plans put on a transaction.

The reconciliation's metadata check reads it (every transaction carries what
its operation writes), and the customer statement names each movement by the
business key it gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

__all__ = ["BASE_METADATA", "OPERATION_METADATA", "MetadataRule"]


@dataclass(frozen=True)
class MetadataRule:
    """Metadata keys an operation's plans always write, may write, and which one is its business key.

    ``optional_prefixes`` admits families of keys (an earn's pricing
    breakdown, ``r_*``, whose number of keys depends on the campaigns).
    Keys are optional when the plans write them only in some cases, or when
    transactions posted by earlier versions of the plans lack them.
    """

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    business_key: str | None = None
    optional_prefixes: tuple[str, ...] = ()

    def allows(self, key: str) -> bool:
        return (
            key in BASE_METADATA
            or key in self.required
            or key in self.optional
            or any(key.startswith(prefix) for prefix in self.optional_prefixes)
        )


BASE_METADATA = frozenset({"operation", "template", "command_hash"})
"""Keys :meth:`TransactionPlan.all_metadata` adds to every plan."""

OPERATION_METADATA: Mapping[str, MetadataRule] = {
    "earn": MetadataRule(
        frozenset({"customer", "order_id", "amount", "currency", "points", "ordered_at", "expires_at"}),
        frozenset({"release_at", "repaid", "qualifying_on", "tier_after", "tier_change"}),
        "order_id",
        optional_prefixes=("r_",),
    ),
    "release": MetadataRule(frozenset({"customer", "release_at", "expires_at", "as_of"})),
    "hold": MetadataRule(frozenset({"customer", "hold_id", "points", "expires_at"}), business_key="hold_id"),
    "capture": MetadataRule(frozenset({"customer", "hold_id", "points", "returned"}), business_key="hold_id"),
    "redeem": MetadataRule(frozenset({"customer", "redemption_id", "points"}), frozenset({"reward"}), "redemption_id"),
    "expire": MetadataRule(frozenset({"customer", "expires_at", "as_of"})),
    "transfer": MetadataRule(
        frozenset({"customer", "to_customer", "transfer_id", "points"}), business_key="transfer_id"
    ),
    "exchange_out": MetadataRule(
        frozenset(
            {"customer", "exchange_id", "partner", "points", "partner_points", "partner_asset", "settlement", "currency"}
        ),
        business_key="exchange_id",
    ),
    "exchange_in": MetadataRule(
        frozenset(
            {
                "customer",
                "exchange_id",
                "partner",
                "points",
                "partner_points",
                "partner_asset",
                "settlement",
                "currency",
                "expires_at",
            }
        ),
        business_key="exchange_id",
    ),
    "convert": MetadataRule(
        frozenset({"customer", "conversion_id", "points", "credit", "currency"}), business_key="conversion_id"
    ),
    "refund": MetadataRule(
        frozenset(
            {"customer", "order_id", "refund_id", "amount", "currency", "points", "refunded_total", "shortfall_policy"}
        ),
        business_key="refund_id",
    ),
    "adjust": MetadataRule(
        frozenset({"customer", "adjustment_id", "direction", "points", "reason"}),
        frozenset({"expires_at"}),
        "adjustment_id",
    ),
    "engage": MetadataRule(
        frozenset({"customer", "event", "key", "points", "awarded_at", "awarded_on", "expires_at", "rules_version"}),
        frozenset({"repaid"}),
        "key",
    ),
    "open_counter": MetadataRule(frozenset({"customer", "event"}), frozenset({"day"})),
}
"""Per operation: the metadata keys its plans write (besides :data:`BASE_METADATA`).

Release, expire and open_counter have no business key of their own: their reference
(run instant, customer, dates) identifies them.
"""
