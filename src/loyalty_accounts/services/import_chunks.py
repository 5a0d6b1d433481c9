"""Cutting an order stream into import chunks: at most one order per customer in a chunk, file order kept."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator

from ..operations import EarnCommand

WAITING_LIMIT = 20
"""Chunks' worth of orders that may wait for their customer's earlier order before reading stops."""


def chunks_by_customer(orders: Iterable[EarnCommand], size: int) -> Iterator[list[EarnCommand]]:
    """``orders`` in chunks of at most ``size``, at most one order per customer in a chunk.

    A customer's orders keep their file order: one that meets an earlier
    order of its customer in the chunk being filled (or still waiting) waits
    for a later chunk. When :data:`WAITING_LIMIT` chunks' worth are waiting
    (a file dominated by a few customers), chunks are cut from the waiting
    orders before more of the file is read, so memory stays bounded.
    """

    waiting: deque[EarnCommand] = deque()
    held: Counter[str] = Counter()
    chunk: dict[str, EarnCommand] = {}

    def refill() -> dict[str, EarnCommand]:
        taken: dict[str, EarnCommand] = {}
        kept: deque[EarnCommand] = deque()
        while waiting:
            order = waiting.popleft()
            if order.customer in taken or len(taken) >= size:
                kept.append(order)
                continue
            taken[order.customer] = order
            held[order.customer] -= 1
        waiting.extend(kept)
        return taken

    for order in orders:
        if order.customer in chunk or held[order.customer] > 0:
            waiting.append(order)
            held[order.customer] += 1
        else:
            chunk[order.customer] = order
        while len(chunk) >= size or (len(waiting) >= WAITING_LIMIT * size and chunk):
            yield list(chunk.values())
            chunk = refill()
    while chunk:
        yield list(chunk.values())
        chunk = refill()
