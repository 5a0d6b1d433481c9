"""Cutting an order stream into import chunks: runs of the file's orders, at most one per customer.

A chunk is the longest run of consecutive orders of the file with no
customer twice, up to ``size``: a customer's next order starts the next
chunk, so it is priced once the earlier one is on the ledger, and the orders
are posted in file order. Keeping file order matters on Formance v2.4.12:
an order dated before moves already on a shared account (the points issued,
the control counterparts) makes the server update every one of those later
moves (the ``update_effective_volumes`` trigger of migration 11). Filling a
chunk with later orders while a repeated customer's order waited for the
next one dated each chunk's waiting orders before the last chunk's latest,
and a 10,000-order import slowed to a few orders per second.

Memory: one chunk (``size`` orders) at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..operations import EarnCommand


def chunks_by_customer(orders: Iterable[EarnCommand], size: int) -> Iterator[list[EarnCommand]]:
    """``orders`` cut, in order, into chunks of at most ``size`` with at most one order per customer."""

    chunk: dict[str, EarnCommand] = {}
    for order in orders:
        if order.customer in chunk or len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
        chunk[order.customer] = order
    if chunk:
        yield list(chunk.values())
