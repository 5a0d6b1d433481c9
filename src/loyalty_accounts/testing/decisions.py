"""What the soak model decides for a command, and the records it keeps of holds and orders.

:class:`Post` (with the check of the transaction the ledger posted),
:class:`Nothing` (an answer without a transaction) or :class:`Refuse` (the
error kinds a refusal may carry); :func:`compare` lists the differences
between two net effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Mapping

from .book import Entry

__all__ = ["Post", "Nothing", "Refuse", "Decision", "Hold", "Order_", "compare", "reverse"]


@dataclass(frozen=True)
class Post:
    """The model posts: ``check(entry)`` lists the problems of the ledger's transaction for it."""

    check: Callable[[Entry], list[str]]
    may_be_nothing: bool = False
    """Whether answering without a transaction is allowed too (a refund whose size depends on smaller refunds)."""


@dataclass(frozen=True)
class Nothing:
    """The model posts nothing and answers (an order earning 0 points, a refund too small to reverse a point)."""

    why: str


@dataclass(frozen=True)
class Refuse:
    """The model refuses with one of ``kinds``."""

    kinds: frozenset[str]
    why: str


Decision = Post | Nothing | Refuse


@dataclass
class Hold:
    customer: str
    entry: Entry
    at: datetime
    taken: dict[tuple[date | None, str], int]
    voided: bool = False
    captured: bool = False


@dataclass
class Order_:
    customer: str
    amount: Decimal
    currency: str
    points: int
    ordered_at: datetime
    day: date
    refunded: Decimal = Decimal(0)
    reversed: int = 0


def reverse(order: Order_, total: Decimal) -> int:
    """Points a refund recording ``total`` refunded in all reverses on ``order``: floor(earned x total / amount) - reversed."""

    target = int(Fraction(order.points) * Fraction(total) // Fraction(order.amount))
    return max(0, target - order.reversed)


def compare(actual: Mapping[tuple[str, str], int], expected: Mapping[tuple[str, str], int]) -> list[str]:
    """Differences between two net effects, as readable lines (empty when equal)."""

    keys = sorted({k for k, v in actual.items() if v} | {k for k, v in expected.items() if v})
    return [f"{a} {s}: posted {actual.get((a, s), 0)}, model {expected.get((a, s), 0)}"
            for a, s in keys if actual.get((a, s), 0) != expected.get((a, s), 0)]
