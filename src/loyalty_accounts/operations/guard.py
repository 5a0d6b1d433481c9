"""Guard: the checks the ledger makes inside every transaction an operation posts (template ``guard``).

Formance v2.4.12 checks one thing by itself when it posts: that no source
goes below what its overdraft allows, reading and locking the source
balances in the same database transaction that writes the postings
(``internal/storage/ledger/balances.go``, ``GetBalances``: ``SELECT ... FOR
UPDATE`` on the ``accounts_volumes`` rows). Everything else an operation
decides (what a customer's buckets held at a date, what a campaign has
already paid, how much debt is left, how much of an order is refunded) it
decides from reads made before the post. The guard turns "nothing changed
since those reads" into a check of that same kind, so the ledger decides it
while it posts:

**Sequence.** Each customer has an operation counter
(``customers:{c}:sequence``, a negative count in the control asset). The
executor reads it before anything else; every transaction it posts on the
customer takes one unit out of it with the overdraft bounded by the count
read plus one. If another operation of the customer posted in between, the
counter is one lower and the leg fails with ``INSUFFICIENT_FUND``: the plan
is stale, and the executor reads again and plans again. Per customer,
operations therefore take effect one at a time, each planned on exactly the
state it is posted on, whatever the interleaving of processes, retries and
lost responses. The counter must have a balance row before it is relied on:
the server locks only rows that exist (a never-used account reads 0 unlocked,
so two first posts could both pass), hence :class:`OpenControlCommand`.

**Closed period.** ``program:control:closed`` holds minus the instant through
which the books are closed (microseconds since the epoch; 0: nothing closed).
Every guarded transaction takes one unit out of it with the overdraft bounded
by its own instant in microseconds and puts it straight back: the mark is
unchanged, and a transaction dated at or before the closed-through instant
fails. Closing a period (:mod:`.period_close`) moves the mark under the same
lock, so a close and a post cannot pass each other.

Worked example: c42 has 4 operations so far, nothing is closed, a redeem
dated 2026-06-01T10:00:00Z is guarded with::

    customers:c42:sequence    -1 CTL → program:control:sequence   +1  (may go down to -5)
    program:control:closed    -1 CTL → world                      +1  (may go down to -1780308000000000)
    world                     -1 CTL → program:control:closed     +1

    metadata sequence="c42=5"
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

from ..chart import Chart
from ..errors import UnknownEntity
from ..numscript import BoundScript, Catalogue, combine, monetary
from ..types import TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import utc
from .reading import Reading

TEMPLATE = "guard"
EXECUTOR_TEMPLATES = (TEMPLATE,)
"""Templates the executor appends to operations' scripts: no operation of the registry posts them alone."""
SEQUENCE_KEY = "sequence"
"""The metadata key a guarded transaction records its customers' operation numbers under: ``c42=5[,c77=12]``."""

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def microseconds(instant: datetime) -> int:
    """``instant`` as whole microseconds since 1970-01-01T00:00:00Z (the ledger's time resolution)."""

    return (utc(instant) - EPOCH) // _MICROSECOND


def from_microseconds(value: int) -> datetime:
    """The instant ``value`` microseconds after the epoch, in UTC."""

    return EPOCH + value * _MICROSECOND


class GuardState(Frozen):
    """What the guard read: operations posted per customer and the closed-through instant.

    ``counts`` maps each customer whose counter has a balance row to the
    operations posted on them so far (a customer missing from it has none,
    and a counter to open); ``closed_through`` is None while nothing is
    closed; ``mark_opened`` says whether the closed-period mark has its row.
    """

    counts: Mapping[str, int]
    closed_through: datetime | None
    mark_opened: bool

    def count(self, customer: str) -> int:
        """Operations posted on ``customer`` so far."""

        return self.counts.get(customer, 0)

    def to_open(self, chart: Chart, customers: Sequence[str]) -> tuple[str, ...]:
        """The control accounts a transaction on ``customers`` needs opened first (no balance row yet)."""

        missing = [chart.sequence(customer) for customer in dict.fromkeys(customers) if customer not in self.counts]
        return tuple(missing if self.mark_opened else [*missing, chart.period_closed()])


def _control_balance(reading: Reading, address: str) -> int | None:
    """The control-asset balance of ``address``; None when the account has no row for it."""

    try:
        volume = reading.ledger.account(address).volumes.get(reading.chart.control_asset)
    except UnknownEntity:
        return None
    return None if volume is None else volume.balance


def _closed_through(mark: int | None) -> datetime | None:
    """The closed-through instant the mark's balance stands for (minus µs since the epoch; 0 or no row: none)."""

    return from_microseconds(-mark) if mark else None


def read_closed_through(reading: Reading) -> datetime | None:
    """The instant the books are closed through (the closed-period mark); None when nothing is closed."""

    return _closed_through(_control_balance(reading, reading.chart.period_closed()))


def _with_mark(reading: Reading, counts: Mapping[str, int]) -> GuardState:
    mark = _control_balance(reading, reading.chart.period_closed())
    return GuardState(counts=counts, closed_through=_closed_through(mark), mark_opened=mark is not None)


def read_guard(reading: Reading, customers: Sequence[str]) -> GuardState:
    """The guard's state for a transaction on ``customers``: read before any other read of the operation."""

    counts: dict[str, int] = {}
    for customer in dict.fromkeys(customers):
        balance = _control_balance(reading, reading.chart.sequence(customer))
        if balance is not None:
            counts[customer] = -balance
    return _with_mark(reading, counts)


def read_every_guard(reading: Reading) -> GuardState:
    """The guard's state for every customer at once (one listing), for a programme-wide sweep."""

    chart = reading.chart
    counts: dict[str, int] = {}
    for account in reading.ledger.accounts(chart.kind_filter("customer_sequence")):
        parsed = chart.parse(account.address)
        volume = account.volumes.get(chart.control_asset)
        if parsed is not None and parsed.kind == "customer_sequence" and volume is not None:
            counts[parsed.values["customer"]] = -volume.balance
    return _with_mark(reading, counts)


def guarded(
    plan: TransactionPlan,
    chart: Chart,
    catalogue: Catalogue,
    state: GuardState,
    customers: Sequence[str],
    *,
    at: datetime,
    offset: int = 0,
) -> TransactionPlan:
    """``plan`` with the guard legs for ``customers`` appended, dated ``at`` for the closed-period check.

    ``offset`` is how many earlier plans of the same customers go in the same
    bulk request before this one (a sweep's second bucket of a customer
    expects the count after the first).
    """

    asset = chart.control_asset
    unique = list(dict.fromkeys(customers))
    numbers = {customer: state.count(customer) + 1 + offset for customer in unique}
    legs = catalogue.bind(
        TEMPLATE,
        {
            "guard_step": [monetary(asset, 1) for _ in unique],
            "guard_sequence": [chart.sequence(customer) for customer in unique],
            "guard_expected": [monetary(asset, numbers[customer]) for customer in unique],
            "guard_counted": chart.sequence_counterpart(),
            "guard_tick": monetary(asset, 1),
            "guard_bound": monetary(asset, microseconds(at)),
            "guard_closed": chart.period_closed(),
        },
    )
    script = combine(BoundScript(script=plan.script, vars=plan.vars), legs)
    metadata = dict(plan.metadata)
    if unique:
        metadata[SEQUENCE_KEY] = ",".join(f"{customer}={number}" for customer, number in numbers.items())
    return plan.model_copy(update={"script": script.script, "vars": dict(script.vars), "metadata": metadata})
