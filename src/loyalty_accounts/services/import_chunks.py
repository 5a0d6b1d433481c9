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


def chunks_for_lanes(orders: Iterable[EarnCommand], size: int) -> Iterator[tuple[list[EarnCommand], bool]]:
    """``orders`` cut into chunks of at most ``size`` for posting two at a time (:mod:`.import_lanes`):
    each chunk with whether it shares no customer with the chunk before it (then both can be posted
    side by side; else it waits for that one).

    A chunk takes the orders, in file order, whose customer is neither in
    it already nor in the chunk before; an order it cannot take waits for
    the next chunk, and so does every later order of that customer (a
    customer's orders keep their order). A chunk is cut when it is full, or
    when ``size`` orders are waiting: memory stays at about two chunks. When
    every waiting order belongs to the chunk before, the next chunk takes them
    and is marked as not independent.
    """

    source = iter(orders)
    waiting: list[EarnCommand] = []
    before: set[str] = set()
    independent = True
    exhausted = False
    while waiting or not exhausted:
        chunk: dict[str, EarnCommand] = {}
        held: list[EarnCommand] = []
        blocked: set[str] = set()
        pending = iter(waiting)
        while len(chunk) < size and len(held) < size:
            order = next(pending, None)
            if order is None and not exhausted:
                order = next(source, None)
                exhausted = order is None
            if order is None:
                break
            customer = order.customer
            if customer in before or customer in chunk or customer in blocked:
                blocked.add(customer)
                held.append(order)
            else:
                chunk[customer] = order
        held.extend(pending)  # what the chunk did not get to, in order
        if not chunk:
            before, independent = set(), False  # nothing but the chunk before's customers: wait for it
            waiting = held
            continue
        yield list(chunk.values()), independent
        before, independent = set(chunk), True
        waiting = held
