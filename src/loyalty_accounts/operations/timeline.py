"""What an account can give from an instant on: its balance then, and every later change (pure).

A transaction dated *T* changes an account's balance at *T* and at every
instant after it, so it may take from an account no more than the **lowest**
balance the account has at any instant from *T* on: its balance effective at
*T* (every transaction dated at or before *T*), then the running balance
through each transaction dated after *T*, in the ledger's order (timestamp,
then id). Taking more would leave the account negative at some later instant
although it is not negative now. The mirror image, the **highest** balance
from *T* on, bounds what may be paid *into* an account that must never go
positive (a clawback debt is repaid at *T* only up to the debt that exists at
every instant from *T* on).

A new transaction dated *T* is ordered after every transaction already dated
*T* (it gets the next id), so "effective at *T*" includes those.

Worked example: a bucket earned 100 on 2026-01-10, 100 were spent on
2026-03-01 and 30 came back (a capture) on 2026-04-01. From 2026-02-01 on it
holds 100, then 0, then 30: the lowest is 0, so nothing may be spent dated
2026-02-01, though the bucket holds 30 today. From 2026-03-15 on: 0, then 30,
lowest 0. From 2026-04-02 on: 30.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Iterable, Mapping

from pydantic import AwareDatetime

from ..types import PostedTransaction
from ..vocabulary.frozen import Frozen


def lowest_from(balance: int, later: Iterable[int]) -> int:
    """The lowest of ``balance`` and the running balances after each of the ``later`` changes, in order.

    ``lowest_from(100, [-100, +30]) == 0``; ``lowest_from(5, []) == 5``.
    """

    low = running = balance
    for change in later:
        running += change
        low = min(low, running)
    return low


def highest_from(balance: int, later: Iterable[int]) -> int:
    """The highest of ``balance`` and the running balances after each of the ``later`` changes, in order."""

    return -lowest_from(-balance, (-change for change in later))


class Change(Frozen):
    """One transaction's net change to one account's balance (of one asset)."""

    timestamp: AwareDatetime
    tx_id: int
    amount: int


class Timeline(Frozen):
    """An account's balance of one asset now (``current``), and its changes dated after ``since``.

    ``changes`` are in the ledger's order (timestamp, then id) and hold every
    transaction dated after ``since`` that changed the account. The balance
    at any instant from ``since`` on follows: ``current`` minus what changed
    after that instant.
    """

    since: AwareDatetime
    current: int
    changes: tuple[Change, ...] = ()

    def _after(self, at: datetime) -> list[int]:
        if at < self.since:
            raise ValueError(f"this timeline starts at {self.since.isoformat()}; it cannot tell {at.isoformat()}")
        return [c.amount for c in self.changes if c.timestamp > at]

    def balance_at(self, at: datetime) -> int:
        """The balance effective at ``at`` (every transaction dated at or before it); ``at`` >= ``since``."""

        return self.current - sum(self._after(at))

    def lowest_from(self, at: datetime) -> int:
        """The lowest balance at any instant from ``at`` on (:func:`lowest_from`)."""

        after = self._after(at)
        return lowest_from(self.current - sum(after), after)

    def highest_from(self, at: datetime) -> int:
        """The highest balance at any instant from ``at`` on (:func:`highest_from`)."""

        after = self._after(at)
        return highest_from(self.current - sum(after), after)


def timelines(
    current: Mapping[str, int], later: Iterable[PostedTransaction], asset: str, *, since: datetime
) -> dict[str, Timeline]:
    """The :class:`Timeline` of each account of ``current`` (address → balance of ``asset`` now).

    ``later`` must hold every transaction dated after ``since`` that touches
    those accounts (others, and postings of other accounts or assets, are
    ignored); they are put in (timestamp, id) order here.
    """

    moves: dict[str, list[Change]] = defaultdict(list)
    for tx in sorted(later, key=lambda t: (t.timestamp, t.id)):
        if tx.timestamp <= since:
            continue
        net: dict[str, int] = defaultdict(int)
        for posting in tx.postings:
            if posting.asset != asset:
                continue
            net[posting.source] -= posting.amount
            net[posting.destination] += posting.amount
        for address, amount in net.items():
            if address in current and amount != 0:
                moves[address].append(Change(timestamp=tx.timestamp, tx_id=tx.id, amount=amount))
    return {
        address: Timeline(since=since, current=balance, changes=tuple(moves.get(address, ())))
        for address, balance in current.items()
    }
