"""What this process last knew of a customer it posted on: a guess the ledger checks at the next post.

When an operation of one customer posts, the guard state it was planned from
(:class:`~loyalty_accounts.operations.guard.GuardState`: the customer's
operation count, horizon and the accounts the operation watched), moved on
by that very transaction, *is* the customer's state right after it: the
sequence leg made the ledger refuse the post had any other operation of the
customer posted since the read. So the next operation of the customer in
this process can plan from it without reading anything, and post:

- nothing changed the customer since (the usual case for a long-running
  process: an import, the benchmark, a service): the post passes, one
  request in all;
- anything did (another process, a period closed, an answer lost on the
  way): the sequence leg (or the closed-period leg) refuses the post with
  ``INSUFFICIENT_FUND``, the guess is dropped, and the executor reads and
  plans again from the ledger, exactly as for any stale plan.

A guess never decides anything on its own: a plan built from it that would
not post (a refusal, nothing to post, counters or controls to open first)
is built again from a fresh read. The guess keeps balances only for the
watched filters it read, with the transaction's own postings applied; an
account the postings create that matches one of them starts from zero (the
read listed every account matching it, so it had no volumes then).

Bounded: at most :data:`CAPACITY` customers, the least recently used
forgotten first. Only operations of a single customer are remembered;
transfers, sweeps, imports and period closes make the executor forget what
they touch.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import Iterable, Sequence

from ..chart import address_matches
from ..operations.guard import GuardState
from ..types import AccountState, Posting, Volume

CAPACITY = 10_000
"""Customers whose last known state a process keeps (each a few accounts' volumes)."""


Volumes = dict[str, tuple[int, int]]
"""An account's volumes per asset: (input, output)."""


class _Known:
    """One customer's state right after this process's last post on them, kept compact (plain values).

    About 2 KB for a customer with a handful of accounts, against several
    times that as models: the models are built again for each guess.
    """

    __slots__ = ("count", "horizon", "latest", "closed_through", "filters", "accounts")

    def __init__(
        self,
        count: int,
        horizon: int | None,
        latest: int | None,
        closed_through: datetime | None,
        filters: frozenset[str],
        accounts: dict[str, Volumes],
    ) -> None:
        self.count = count
        self.horizon = horizon
        self.latest = latest
        self.closed_through = closed_through
        self.filters = filters
        self.accounts = accounts

    def state(self, customer: str, watch: Sequence[str]) -> GuardState:
        """The guard state, with the accounts matching ``watch`` as models."""

        return GuardState(
            counts={customer: self.count},
            closed_through=self.closed_through,
            mark_opened=True,
            horizons={} if self.horizon is None else {customer: self.horizon},
            latest={} if self.latest is None else {customer: self.latest},
            watched={
                address: AccountState(
                    address=address,
                    volumes={asset: Volume(input=received, output=sent) for asset, (received, sent) in held.items()},
                )
                for address, held in self.accounts.items()
                if any(address_matches(address, wanted) for wanted in watch)
            },
        )


class LastKnown:
    """The guard state of the customers this process posted on last, keyed by customer (thread-safe)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._known)

    def guess(self, customers: Sequence[str], watch: Sequence[str]) -> GuardState | None:
        """The guard state to plan from without reading, or None (read the ledger).

        Only for one customer whose last known state read every filter in
        ``watch``; ``watched`` then holds the accounts matching them.
        """

        unique = list(dict.fromkeys(customers))
        if len(unique) != 1:
            return None
        with self._lock:
            known = self._known.get(unique[0])
            if known is None or not known.filters.issuperset(watch):
                return None
            self._known.move_to_end(unique[0])
        return known.state(unique[0], watch)

    def remember(
        self,
        customers: Sequence[str],
        watch: Sequence[str],
        state: GuardState,
        *,
        at: datetime,
        postings: Sequence[Posting],
    ) -> None:
        """Keep the state after a transaction dated ``at`` with ``postings``, posted on ``state`` (read with ``watch``).

        A transaction of several customers is not kept: they are forgotten.
        """

        unique = list(dict.fromkeys(customers))
        if len(unique) != 1:
            self.forget(unique)
            return
        customer = unique[0]
        filters = frozenset(watch)
        accounts: dict[str, Volumes] = {
            address: {asset: (volume.input, volume.output) for asset, volume in account.volumes.items()}
            for address, account in state.watched.items()
        }
        with self._lock:
            before = self._known.get(customer)
        if before is not None and before.count == state.count(customer):
            # Nothing posted on the customer between what was known and this plan's basis:
            # the accounts known for other filters still stand (the next spend after an earn).
            filters |= before.filters
            accounts = {**before.accounts, **accounts}
        after = state.advanced([customer], at)
        known = _Known(
            count=state.count(customer) + 1,
            horizon=after.horizons.get(customer),
            latest=after.latest.get(customer),
            closed_through=state.closed_through,
            filters=filters,
            accounts=_moved(accounts, filters, postings),
        )
        with self._lock:
            self._known[customer] = known
            self._known.move_to_end(customer)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)

    def forget(self, customers: Iterable[str] | None = None) -> None:
        """Drop what is known of ``customers`` (None: of everyone)."""

        with self._lock:
            if customers is None:
                self._known.clear()
                return
            for customer in customers:
                self._known.pop(customer, None)


def _moved(accounts: dict[str, Volumes], filters: frozenset[str], postings: Sequence[Posting]) -> dict[str, Volumes]:
    """``accounts`` (every account matching ``filters``) with ``postings`` applied; new matching accounts added."""

    moved = {address: dict(held) for address, held in accounts.items()}

    def move(address: str, asset: str, received: int, sent: int) -> None:
        if address not in moved and not any(address_matches(address, wanted) for wanted in filters):
            return
        held = moved.setdefault(address, {})
        before = held.get(asset, (0, 0))
        held[asset] = (before[0] + received, before[1] + sent)

    for posting in postings:
        move(posting.source, posting.asset, 0, posting.amount)
        move(posting.destination, posting.asset, posting.amount, 0)
    return moved
