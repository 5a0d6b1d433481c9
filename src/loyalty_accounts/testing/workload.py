"""A seeded generator of programme operations for soak runs: :func:`generate` gives the same list for the same seed.

Operations draw from a small pool of customers (so they collide on the
same buckets, counters and orders), amounts from small to too large,
instants from now back a few months (some over a year back, so release and
expiry have work, and a few a day in the future, which must be refused),
and include exact repeats of earlier commands (same key, same body: a
replay) and conflicting ones (same key, another body: a duplicate).

Each :class:`Op` is one call of the Python API: a command, or a sweep
(``release`` / ``expire``) as of an instant. ``base`` is the "now" the
instants are drawn around; pass the moment the run starts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from ..operations import (
    AdjustCommand,
    CaptureCommand,
    Command,
    ConvertCommand,
    EarnCommand,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
    VoidCommand,
)
from ..vocabulary.amounts import Money

__all__ = ["Op", "generate", "WEIGHTS"]

WEIGHTS: dict[str, int] = {
    "earn": 24, "engage": 9, "redeem": 9, "hold": 8, "capture": 6, "void": 4, "transfer": 5, "refund": 6,
    "adjust": 4, "convert": 3, "exchange_out": 3, "exchange_in": 3, "release": 2, "expire": 1,
    "repeat": 6, "conflict": 4,
}
"""Relative frequency of each kind of operation (``repeat``: an earlier command again; ``conflict``: its key, another body)."""

LIVE = datetime(2000, 1, 1, tzinfo=timezone.utc)
"""Placeholder instant of an op dated when it is called (its ``at`` is a processing field: not in the fingerprint)."""
CATEGORIES = (None, "groceries", "electronics", "fashion", "travel", "gift_cards", "books")
CHANNELS = (None, "app", "web", "store")
EVENTS = ("sign_up", "referral_completed", "review_written", "app_login")


@dataclass(frozen=True)
class Op:
    """One call: ``command`` (None for a sweep), or the sweep ``kind`` as of ``as_of``."""

    index: int
    kind: str
    command: Command | None = None
    as_of: datetime | None = None
    note: str = ""
    live: bool = False
    """Dated when it is called (``at`` / ``as_of`` set to the clock then), as a caller acting now would."""

    def dated_now(self, now: datetime) -> Op:
        """The op as called at ``now``: a live op's ``at`` (or sweep's ``as_of``) is ``now``; others unchanged."""

        if not self.live:
            return self
        if self.command is None:
            return Op(self.index, self.kind, None, now, self.note)
        return Op(self.index, self.kind, self.command.model_copy(update={"at": now}), None, self.note)

    @property
    def reference(self) -> str | None:
        """The reference its transaction carries (None: a sweep or a void, whose revert carries none)."""
        if self.command is None or isinstance(self.command, VoidCommand):
            return None
        return self.command.reference()

    @property
    def fingerprint(self) -> str | None:
        return None if self.command is None else self.command.fingerprint()

    def describe(self) -> str:
        if self.command is None:
            return f"#{self.index} {self.kind} as of {self.as_of:%Y-%m-%dT%H:%M:%SZ}"
        fields = self.command.model_dump(mode="json", exclude={"unstated"})
        return f"#{self.index} {self.kind}{' (' + self.note + ')' if self.note else ''} {fields}"


class _Draw:
    def __init__(self, seed: int, base: datetime, customers: int) -> None:
        self.r = random.Random(seed)
        self.base = base.replace(microsecond=0)
        self.customers = [f"c{i}" for i in range(customers)]
        self.ops: list[Op] = []
        self.orders: list[EarnCommand] = []
        self.holds: list[HoldCommand] = []
        self.n = 0

    def key(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def customer(self) -> str:
        return self.r.choice(self.customers)

    def at(self, *, old: bool = False) -> datetime:
        """An instant: a year back (``old`` only), a day ahead, weeks back, or now (:data:`LIVE`)."""
        x = self.r.random()
        if old and x < 0.06:
            return self.base - timedelta(days=self.r.uniform(366, 400))
        if x < 0.01:
            return self.base + timedelta(days=1)  # must be refused: beyond any clock skew
        if x < 0.25:
            return self.base - timedelta(seconds=self.r.randint(3600, 120 * 86400))
        if old:
            return self.base - timedelta(seconds=self.r.randint(0, 60))
        return LIVE

    def points(self, high: int = 400) -> int:
        return self.r.randint(1, high)


def _earn(d: _Draw) -> Op:
    amount = Decimal(d.r.randint(100, 30000)) / 100
    cmd = EarnCommand(
        customer=d.customer(), order_id=d.key("o"), amount=Money(amount=amount, currency="USD"),
        ordered_at=d.at(old=True), category=d.r.choice(CATEGORIES), channel=d.r.choice(CHANNELS),
    )
    d.orders.append(cmd)
    return Op(0, "earn", cmd)


def _refund(d: _Draw) -> Op:
    if not d.orders or d.r.random() < 0.05:
        order = EarnCommand(customer=d.customer(), order_id=d.key("missing"), amount=Money(amount=Decimal(10), currency="USD"),
                            ordered_at=d.base)
    else:
        order = d.r.choice(d.orders)
    share = Decimal(d.r.choice((10, 25, 50, 60, 100))) / 100
    amount = max(Decimal("0.01"), (order.amount.amount * share).quantize(Decimal("0.01")))
    at = d.at()
    if at != LIVE and d.r.random() > 0.1:
        at = max(order.ordered_at, at)
    cmd = RefundCommand(customer=order.customer, order_id=order.order_id, refund_id=d.key("rf"),
                        amount=Money(amount=amount, currency="USD"), at=at)
    return Op(0, "refund", cmd)


def _hold(d: _Draw) -> Op:
    cmd = HoldCommand(customer=d.customer(), hold_id=d.key("h"), points=d.points(300), at=d.at())
    d.holds.append(cmd)
    return Op(0, "hold", cmd)


def _hold_for(d: _Draw) -> HoldCommand:
    if not d.holds or d.r.random() < 0.05:
        return HoldCommand(customer=d.customer(), hold_id=d.key("nohold"), points=1, at=d.base)
    return d.r.choice(d.holds)


def _capture(d: _Draw) -> Op:
    hold = _hold_for(d)
    points = d.r.randint(1, hold.points + (20 if d.r.random() < 0.15 else 0))
    if hold.at == LIVE:
        at = LIVE
    else:
        at = min(d.base, hold.at + timedelta(minutes=d.r.uniform(0, 45)))
    return Op(0, "capture", CaptureCommand(customer=hold.customer, hold_id=hold.hold_id, points=points, at=at))


def _void(d: _Draw) -> Op:
    hold = _hold_for(d)
    return Op(0, "void", VoidCommand(customer=hold.customer, hold_id=hold.hold_id))


def _spend(d: _Draw, kind: str) -> Op:
    c = d.customer()
    if kind == "redeem":
        return Op(0, kind, RedeemCommand(customer=c, redemption_id=d.key("r"), points=d.points(), at=d.at()))
    if kind == "convert":
        return Op(0, kind, ConvertCommand(customer=c, conversion_id=d.key("cv"), points=100 * d.r.randint(1, 4), at=d.at()))
    if kind == "transfer":
        to = d.r.choice([x for x in d.customers if x != c])
        return Op(0, kind, TransferCommand(customer=c, to_customer=to, transfer_id=d.key("t"), points=d.points(300), at=d.at()))
    if kind == "adjust":
        direction = d.r.choice(("credit", "debit"))
        return Op(0, kind, AdjustCommand(customer=c, adjustment_id=d.key("a"), direction=direction,
                                         points=d.points(200), reason="goodwill", at=d.at()))
    model = ExchangeOutCommand if kind == "exchange_out" else ExchangeInCommand
    return Op(0, kind, model(customer=c, exchange_id=d.key("x"), partner="skyway", partner_points=d.r.randint(10, 120), at=d.at()))


def _engage(d: _Draw) -> Op:
    return Op(0, "engage", EngageCommand(customer=d.customer(), event=d.r.choice(EVENTS), key=d.key("e"), at=d.at()))


def _sweep(d: _Draw, kind: str) -> Op:
    if d.r.random() < 0.2:
        return Op(0, kind, as_of=d.base - timedelta(days=d.r.randint(1, 20)))
    return Op(0, kind, as_of=LIVE, live=True)


_CHANGES = {"points": lambda v: v + 100, "partner_points": lambda v: v + 1,
            "amount": lambda v: Money(amount=v.amount + Decimal("1.00"), currency=v.currency)}


def _again(d: _Draw, conflict: bool) -> Op | None:
    keyed = [op for op in d.ops if op.reference is not None and not isinstance(op.command, EngageCommand)]
    if not keyed:
        return None
    original = d.r.choice(keyed)
    assert original.command is not None
    if not conflict:
        return Op(0, original.kind, original.command, note=f"repeat of #{original.index}")
    for name, change in _CHANGES.items():
        if name in type(original.command).model_fields:
            changed = original.command.model_copy(update={name: change(getattr(original.command, name))})
            return Op(0, original.kind, type(original.command).model_validate(changed.model_dump()),
                      note=f"conflicts with #{original.index}")
    return None


def generate(seed: int, count: int, *, base: datetime, customers: int = 6) -> list[Op]:
    """``count`` operations drawn with ``seed`` around ``base`` over ``customers`` customers (c0, c1...)."""

    d = _Draw(seed, base, customers)
    kinds, weights = zip(*WEIGHTS.items())
    while len(d.ops) < count:
        kind = d.r.choices(kinds, weights)[0]
        if kind == "earn":
            op: Op | None = _earn(d)
        elif kind == "refund":
            op = _refund(d)
        elif kind == "hold":
            op = _hold(d)
        elif kind == "capture":
            op = _capture(d)
        elif kind == "void":
            op = _void(d)
        elif kind == "engage":
            op = _engage(d)
        elif kind in ("release", "expire"):
            op = _sweep(d, kind)
        elif kind in ("repeat", "conflict"):
            op = _again(d, kind == "conflict")
        else:
            op = _spend(d, kind)
        if op is not None:
            live = op.live or getattr(op.command, "at", None) == LIVE
            d.ops.append(Op(len(d.ops), op.kind, op.command, op.as_of, op.note, live))
    return d.ops
