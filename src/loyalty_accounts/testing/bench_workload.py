"""The benchmark's workload: commands, an order file, and bulk bodies cloned from one recorded post.

Pure and deterministic for a given seed (no clock, no I/O except writing the
order file ``scripts/bench.py`` asks for).

Cloning (:func:`clone_post`): the liability report needs 10⁴–10⁵ accounts, far
more than the project could post one by one in a benchmark. One earn is posted
through the project for a template customer and order whose ids appear
nowhere else in the body; its recorded JSON is then copied with those ids
replaced, so every seeded transaction is the project's own Numscript, vars and
metadata for another customer.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..operations import EarnCommand, RedeemCommand
from ..vocabulary.amounts import Money
from ..vocabulary.frozen import Frozen

__all__ = [
    "ORDER_COLUMNS",
    "OrderRow",
    "customer_ids",
    "earn_commands",
    "redeem_commands",
    "order_rows",
    "write_orders_csv",
    "clone_post",
    "bulk_body",
]

ORDER_COLUMNS = ("customer", "order_id", "amount", "currency", "ordered_at")
"""The order file's header: EarnCommand's fields, as ``LoyaltyProgram.import_orders`` reads them."""


class OrderRow(Frozen):
    """One line of the order file; ``amount`` a decimal string with two places, ``ordered_at`` ISO 8601 UTC."""

    customer: str
    order_id: str
    amount: str
    currency: str
    ordered_at: str


def customer_ids(prefix: str, count: int) -> list[str]:
    """``count`` customer ids ``{prefix}c00000``...; ids are valid CustomerIds (letters, digits, ``-``)."""

    return [f"{prefix}c{i:05d}" for i in range(count)]


STEP = timedelta(milliseconds=1)
"""Between two commands of a workload: each is dated after the one before it."""


def _amount(rng: random.Random) -> Money:
    return Money(amount=Decimal(rng.randint(500, 25_000)).scaleb(-2), currency="USD")


def earn_commands(
    prefix: str, count: int, customers: Sequence[str], at: datetime, *, seed: int = 1
) -> list[EarnCommand]:
    """``count`` earns ``{prefix}o00000``... dated from ``at`` on, one millisecond apart (each after the one
    before, as live orders are), customers taken in turn, amounts 5.00–250.00 USD.

    Raises ValueError when ``customers`` is empty and ``count`` is not 0.
    """

    if count and not customers:
        raise ValueError("earn commands need at least one customer")
    rng = random.Random(seed)
    return [
        EarnCommand(
            customer=customers[i % len(customers)], order_id=f"{prefix}o{i:05d}", amount=_amount(rng), ordered_at=at + i * STEP
        )
        for i in range(count)
    ]


def redeem_commands(prefix: str, count: int, customers: Sequence[str], at: datetime, *, points: int = 1) -> list[RedeemCommand]:
    """``count`` redemptions of ``points`` each, ``{prefix}r00000``..., customers taken in turn, dated from
    ``at`` on, one millisecond apart."""

    if count and not customers:
        raise ValueError("redeem commands need at least one customer")
    return [
        RedeemCommand(customer=customers[i % len(customers)], redemption_id=f"{prefix}r{i:05d}", points=points, at=at + i * STEP)
        for i in range(count)
    ]


def order_rows(count: int, *, prefix: str, customers: int, start: datetime, seed: int = 1) -> Iterator[OrderRow]:
    """``count`` orders over ``customers`` customers, one second apart from ``start`` (UTC), in time order.

    Streams: nothing is held, so a 100,000-order file costs no memory to write.
    """

    if customers < 1:
        raise ValueError("orders need at least one customer")
    rng = random.Random(seed)
    for i in range(count):
        money = _amount(rng)
        at = start + timedelta(seconds=i)
        yield OrderRow(
            customer=f"{prefix}c{rng.randrange(customers):05d}",
            order_id=f"{prefix}o{i:06d}",
            amount=f"{money.amount:.2f}",
            currency=money.currency,
            ordered_at=at.isoformat().replace("+00:00", "Z"),
        )


def write_orders_csv(path: Path, rows: Iterator[OrderRow]) -> int:
    """Write ``rows`` as CSV with the :data:`ORDER_COLUMNS` header; the number of orders written."""

    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ORDER_COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, column) for column in ORDER_COLUMNS])
            written += 1
    return written


def clone_post(template: bytes, replacements: Mapping[str, str]) -> dict[str, Any]:
    """The recorded post body ``template`` with every occurrence of each key replaced by its value.

    The keys must be tokens that occur nowhere else by accident (the template customer and order
    ids); replacing inside the JSON text reaches the vars, metadata and reference alike. Raises
    ValueError when a key does not occur in the template (it would clone nothing).
    """

    text = template.decode("utf-8")
    for old, new in replacements.items():
        if old not in text:
            raise ValueError(f"{old!r} does not occur in the recorded post")
        text = text.replace(old, new)
    body: dict[str, Any] = json.loads(text)
    return body


def bulk_body(posts: Sequence[Mapping[str, Any]], *, key_prefix: str) -> list[dict[str, Any]]:
    """A ``/_bulk`` request body creating ``posts`` (single-post bodies), each with an idempotency key."""

    return [
        {"action": "CREATE_TRANSACTION", "ik": f"{key_prefix}:{post['reference']}", "data": dict(post)} for post in posts
    ]
