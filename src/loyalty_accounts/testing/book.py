"""A book of dated postings kept in pure Python: balances now, as of an instant, and their lowest point ahead.

The soak model (:mod:`.model`) keeps the programme's accounts here. The
ledger's point-in-time rule is followed: the balance *as of* an instant
counts every transaction dated at or before it, whatever order they were
committed in; two transactions at the same instant are seen together, so an
account is "negative at an instant" only when it is negative once every
transaction dated then is counted (not between them).

Shapes: an account is an address string, an asset a Formance asset code
(``PTS``, ``USD/2``...), an amount an int in the asset's smallest unit.
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Iterator, Mapping

__all__ = ["Book", "Entry", "Leg", "net_of", "lowest_after"]

Key = tuple[str, str]
"""(account address, asset)."""


@dataclass(frozen=True)
class Leg:
    """One posting: ``amount`` of ``asset`` from ``source`` to ``destination``."""

    source: str
    destination: str
    asset: str
    amount: int


@dataclass(frozen=True)
class Entry:
    """One transaction of the book: its ledger id, date, postings and metadata."""

    id: int
    timestamp: datetime
    legs: tuple[Leg, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)
    reference: str | None = None


def net_of(legs: Iterable[Leg]) -> dict[Key, int]:
    """What ``legs`` do to each (account, asset): received minus sent, zeros left out."""

    net: dict[Key, int] = defaultdict(int)
    for leg in legs:
        net[(leg.source, leg.asset)] -= leg.amount
        net[(leg.destination, leg.asset)] += leg.amount
    return {key: value for key, value in net.items() if value}


def lowest_after(moves: Iterable[tuple[datetime, int]], start: datetime | None = None) -> int:
    """The lowest balance at any instant at or after ``start`` (None: from the beginning) of dated ``moves``.

    The balance at an instant counts every move dated at or before it; the
    balance before the first move is 0 and counts only when ``start`` is None.
    """

    by_instant: dict[datetime, int] = defaultdict(int)
    for when, amount in moves:
        by_instant[when] += amount
    running = 0
    lowest: int | None = None
    if start is None:
        lowest = 0
    elif start not in by_instant:  # the balance at start itself: everything dated before it
        lowest = sum(amount for when, amount in by_instant.items() if when < start)
    for when in sorted(by_instant):
        running += by_instant[when]
        if start is None or when >= start:
            lowest = running if lowest is None else min(lowest, running)
    return running if lowest is None else lowest


class Book:
    """Every applied :class:`Entry`, with each account's dated moves."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._moves: dict[Key, list[tuple[datetime, int, int]]] = defaultdict(list)
        self._now: dict[Key, int] = defaultdict(int)

    def apply(self, entry: Entry) -> None:
        """Record ``entry``: its net effect on each account, dated at its timestamp."""

        self.entries.append(entry)
        for key, amount in net_of(entry.legs).items():
            insort(self._moves[key], (entry.timestamp, entry.id, amount))
            self._now[key] += amount

    def balance(self, account: str, asset: str, as_of: datetime | None = None) -> int:
        """The balance counting every transaction (``as_of`` None) or those dated at or before ``as_of``."""

        if as_of is None:
            return self._now.get((account, asset), 0)
        return sum(amount for when, _, amount in self._moves.get((account, asset), ()) if when <= as_of)

    def lowest_from(self, account: str, asset: str, start: datetime) -> int:
        """The lowest balance of the account at any instant from ``start`` on (what can still leave it at ``start``)."""

        return lowest_after(((w, a) for w, _, a in self._moves.get((account, asset), ())), start)

    def highest_from(self, account: str, asset: str, start: datetime) -> int:
        """The highest balance of the account at any instant from ``start`` on."""

        return -lowest_after(((w, -a) for w, _, a in self._moves.get((account, asset), ())), start)

    def accounts(self, asset: str) -> Iterator[str]:
        """Every account that ever moved in ``asset``."""

        return (account for account, a in list(self._moves) if a == asset)

    def knows(self, prefix: str) -> bool:
        """Whether any account whose address starts with ``prefix`` ever moved."""

        return any(account.startswith(prefix) for account, _ in self._moves)

    def balances(self) -> dict[Key, int]:
        """Every non-zero balance now."""

        return {key: value for key, value in self._now.items() if value}
