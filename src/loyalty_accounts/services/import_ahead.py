"""Reading an import's next chunk while the current one is posted.

A chunk's bulk post keeps the server busy for most of a second (tens of
earns, each dated before later moves of the programme's shared accounts),
while the client waits. What the next chunk needs from the ledger before it
can be priced does not depend on that post: its references (an order of
the file is in one chunk only) and, for its customers the current chunk does
not hold and this process knows nothing of, their guard and their
:class:`~loyalty_accounts.services.chunk_book.ChunkBook`, and the pricing of
their orders on those reads. :func:`pipelined` runs that on one background
thread while the caller posts the current chunk, so the reads and the
pricing overlap the post instead of following it.

Nothing is posted ahead and nothing is guessed: the reads are the ones the
chunk would make anyway (guard first, then the book, as for a single earn),
the posts happen in file order on the caller's thread, and whatever moves a
customer after their guard was read makes the sequence leg refuse the plan,
which is then read and priced again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from ..errors import LoyaltyError
from ..operations import EarnCommand
from ..operations.guard import GuardState
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Frozen

__all__ = ["Ahead", "ChunkRead", "Planned", "pipelined"]


class Planned(Frozen):
    """An order's guarded plan, the guard state of its customer it was planned on, and its instant."""

    command: EarnCommand
    plan: TransactionPlan
    basis: GuardState
    at: datetime


@dataclass(frozen=True)
class ChunkRead:
    """Orders priced on one read of their customers (the guard, then the book): the guard read, the
    plans, and the orders that would post nothing (None) or were refused (the error)."""

    orders: tuple[EarnCommand, ...]
    guard: GuardState
    plans: tuple[Planned, ...]
    unposted: tuple[tuple[EarnCommand, LoyaltyError | None], ...]

    def covers(self, order: EarnCommand) -> bool:
        return any(order is mine for mine in self.orders)

    def only(self, orders: Iterable[EarnCommand]) -> ChunkRead:
        """This read restricted to ``orders`` (those still to be planned from it)."""

        keep = {id(order) for order in orders}
        return ChunkRead(
            orders=tuple(o for o in self.orders if id(o) in keep),
            guard=self.guard,
            plans=tuple(p for p in self.plans if id(p.command) in keep),
            unposted=tuple(u for u in self.unposted if id(u[0]) in keep),
        )


@dataclass(frozen=True)
class Ahead:
    """What was read for a chunk before its turn: its references already on the ledger (by reference;
    None: the ledger cannot list them at once, so they were not looked up) and, when some of its
    customers had to be read, their :class:`ChunkRead`."""

    taken: Mapping[str, PostedTransaction] | None
    read: ChunkRead | None = None


def pipelined(
    chunks: Iterable[list[EarnCommand]], read_ahead: Callable[[list[EarnCommand], frozenset[str]], Ahead]
) -> Iterator[tuple[list[EarnCommand], Ahead]]:
    """Each chunk with what ``read_ahead`` read for it; the next chunk's reads run while the caller
    handles the current one.

    ``read_ahead(chunk, busy)`` runs on one background thread and must not
    read the customers in ``busy`` (those of the chunk being posted). Its
    errors are raised here, when its chunk's turn comes. Closing the iterator
    waits for a read under way and drops the rest.
    """

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-read-ahead") as pool:
        source = iter(chunks)
        current = next(source, None)
        if current is None:
            return
        pending = pool.submit(read_ahead, current, frozenset())
        while current is not None:
            ahead = pending.result()
            following = next(source, None)
            if following is not None:
                pending = pool.submit(read_ahead, following, frozenset(order.customer for order in current))
            yield current, ahead
            current = following
