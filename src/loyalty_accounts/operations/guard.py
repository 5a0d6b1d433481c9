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

**Horizon.** ``customers:{c}:horizon`` holds minus the latest instant
(µs since the epoch) any guarded transaction on the customer is dated at.
Each guarded transaction dated after it moves it forward to its own
instant (an unbounded overdraft: only ever down), exactly, since the
sequence leg guarantees the horizon read is the one the post finds. So an
operation dated after the horizon knows that nothing of the customer is
dated later: the current balances are the customer's state at its instant
and at every instant after, and it reads no history
(:class:`~.reading.Snapshot`). Dated at or before it (a back-dated
operation), it reads the transactions dated from its instant on. A
customer without a horizon row (new, or with history older than horizons)
has its transactions dated from the operation's instant on read once
(:func:`resolve_latest`), and the post creates the row.

The guard's reads are one listing (:func:`read_guard`): the counters, the
horizons, the closed-period mark and the accounts the operation itself
watches (``Operation.watch``).

**Closed period.** ``program:control:closed`` holds minus the instant through
which the books are closed (microseconds since the epoch; 0: nothing closed).
Every guarded transaction sends one unit from it to itself with the overdraft
bounded by its own instant in microseconds: the mark is unchanged, and a
transaction dated at or before the closed-through instant fails. Formance
v2.4.12 accepts a posting from an account to itself and checks the source's
overdraft as for any other; no shared account (such as ``@world``) takes a
move, so an earlier-dated transaction has fewer later moves to update
(the ``update_effective_volumes`` trigger of migration 11). Closing a period (:mod:`.period_close`) moves the mark under the same
lock, so a close and a post cannot pass each other.

Worked example: c42 has 4 operations so far, the latest dated
2026-05-31T10:00:00Z (horizon -1780221600000000), nothing is closed; a
redeem dated 2026-06-01T10:00:00Z is guarded with::

    customers:c42:sequence    -1 CTL → program:control:sequence   +1  (may go down to -5)
    customers:c42:horizon     -86400000000 CTL → program:control:horizon  (now -1780308000000000)
    program:control:closed    -1 CTL → program:control:closed     +1  (may go down to -1780308000000000)

    metadata sequence="c42=5"
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

from ..chart import Chart
from ..errors import UnknownEntity
from ..numscript import BoundScript, Catalogue, combine, monetary
from ..types import AccountState, TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import utc
from .reading import Reading, Snapshot

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
    """What the guard read: operations posted per customer, their horizons and the closed-through instant.

    ``counts`` maps each customer whose counter has a balance row to the
    operations posted on them so far (a customer missing from it has none,
    and a counter to open); ``closed_through`` is None while nothing is
    closed; ``mark_opened`` says whether the closed-period mark has its row.
    ``horizons`` holds what each customer's horizon row holds (µs since the
    epoch; no row: 0) and ``latest`` the instant (µs) of the customer's
    latest dated transaction where it is known: read from the horizon row,
    or found by :func:`resolve_latest` for a customer without one.
    ``watched`` are the accounts read with the guard for the operation's
    plan (current volumes).
    """

    counts: Mapping[str, int]
    closed_through: datetime | None
    mark_opened: bool
    horizons: Mapping[str, int] = {}
    latest: Mapping[str, int] = {}
    watched: Mapping[str, AccountState] = {}

    def count(self, customer: str) -> int:
        """Operations posted on ``customer`` so far."""

        return self.counts.get(customer, 0)

    def advanced(self, customers: Sequence[str], at: datetime) -> "GuardState":
        """The state after a guarded transaction on ``customers`` dated ``at`` (for the next plan of a batch)."""

        unique = list(dict.fromkeys(customers))
        counts = {**self.counts, **{c: self.count(c) + 1 for c in unique}}
        moved = {c: max(self.latest[c], microseconds(at)) for c in unique if c in self.latest}
        return self.model_copy(
            update={"counts": counts, "horizons": {**self.horizons, **moved}, "latest": {**self.latest, **moved}}
        )

    def snapshot(self, filters: Sequence[str]) -> Snapshot:
        """What the guard read, for the operation's reads (see :class:`~.reading.Snapshot`)."""

        return Snapshot(
            filters=frozenset(filters),
            accounts=self.watched,
            latest={c: from_microseconds(v) for c, v in self.latest.items()},
            known=frozenset(self.counts),
        )

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


def _control(state: AccountState, asset: str) -> int | None:
    volume = state.volumes.get(asset)
    return None if volume is None else volume.balance


def read_guard(reading: Reading, customers: Sequence[str], watch: Sequence[str] = ()) -> GuardState:
    """The guard's state for a transaction on ``customers``, read before any other read of the operation.

    One listing: each customer's operation counter and horizon, the
    closed-period mark and the accounts matching ``watch`` (the operation's
    own reads, answered from :meth:`GuardState.snapshot`).
    """

    chart = reading.chart
    unique = list(dict.fromkeys(customers))
    controls = [*(chart.sequence(c) for c in unique), *(chart.horizon(c) for c in unique), chart.period_closed()]
    found = {state.address: state for state in reading.ledger.accounts([*controls, *watch])}
    asset = chart.control_asset

    def control(address: str) -> int | None:
        state = found.get(address)
        return None if state is None else _control(state, asset)

    counts = {c: -count for c in unique if (count := control(chart.sequence(c))) is not None}
    horizons = {c: -held for c in unique if (held := control(chart.horizon(c))) is not None}
    mark = control(chart.period_closed())
    watched = {address: state for address, state in found.items() if address not in controls}
    return GuardState(
        counts=counts,
        closed_through=_closed_through(mark),
        mark_opened=mark is not None,
        horizons=horizons,
        latest=dict(horizons),
        watched=watched,
    )


def resolve_latest(reading: Reading, state: GuardState, customers: Sequence[str], at: datetime) -> GuardState:
    """``state`` with the latest dated instant of each of ``customers`` whose horizon has no row yet.

    A new customer, or one whose history predates horizons: the customer's
    transactions dated at or after ``at`` are read (none, usually); the
    latest of them is the customer's latest, and with none every earlier
    one is before ``at``, which is all the horizon leg needs (it moves the
    horizon to the later of the latest and ``at``). The sequence leg makes
    the answer exact when the transaction posts.
    """

    latest = dict(state.latest)
    for customer in dict.fromkeys(customers):
        if customer in latest:
            continue
        later = reading.ledger.transactions(account=reading.chart.customer_filter(customer), start=at)
        latest[customer] = max((microseconds(tx.timestamp) for tx in later), default=0)
    return state.model_copy(update={"latest": latest})


def read_every_guard(reading: Reading) -> GuardState:
    """The guard's state for every customer at once (one listing), for a programme-wide sweep."""

    chart = reading.chart
    counts: dict[str, int] = {}
    horizons: dict[str, int] = {}
    mark: int | None = None
    filters = [chart.kind_filter("customer_sequence"), chart.kind_filter("customer_horizon"), chart.period_closed()]
    for account in reading.ledger.accounts(filters):
        parsed = chart.parse(account.address)
        balance = _control(account, chart.control_asset)
        if parsed is None or balance is None:
            continue
        if parsed.kind == "customer_sequence":
            counts[parsed.values["customer"]] = -balance
        elif parsed.kind == "customer_horizon":
            horizons[parsed.values["customer"]] = -balance
        elif parsed.kind == "period_closed":
            mark = balance
    return GuardState(
        counts=counts, closed_through=_closed_through(mark), mark_opened=mark is not None, horizons=horizons, latest=dict(horizons)
    )


def guarded(
    plan: TransactionPlan,
    chart: Chart,
    catalogue: Catalogue,
    state: GuardState,
    customers: Sequence[str],
    *,
    at: datetime,
) -> TransactionPlan:
    """``plan`` with the guard legs for ``customers`` appended, dated ``at``.

    The plan is posted with the timestamp ``at`` whatever it said (a plan
    without one, such as a void's, would otherwise be dated by the server when
    it inserts it, later than the instant the closed-period check and the
    horizon advance name: an operation dated in between would then take the
    customer's current balances for its own instant and spend points the
    void only gives back later).

    Several plans of the same customers in one bulk request: each is guarded
    with the state after the ones before it (:meth:`GuardState.advanced`),
    so a sweep's second bucket of a customer expects the count and the
    horizon the first leaves.
    """

    asset = chart.control_asset
    unique = list(dict.fromkeys(customers))
    numbers = {customer: state.count(customer) + 1 for customer in unique}
    bound = microseconds(at)
    # A customer whose latest instant is unknown (a sweep over history older
    # than horizons) keeps no horizon: every read of it goes to the history.
    advances = {
        customer: max(state.latest[customer], bound) - state.horizons.get(customer, 0)
        for customer in unique
        if customer in state.latest
    }
    advances = {customer: amount for customer, amount in advances.items() if amount > 0}
    legs = catalogue.bind(
        TEMPLATE,
        {
            "guard_step": [monetary(asset, 1) for _ in unique],
            "guard_sequence": [chart.sequence(customer) for customer in unique],
            "guard_expected": [monetary(asset, numbers[customer]) for customer in unique],
            "guard_counted": chart.sequence_counterpart(),
            "guard_tick": monetary(asset, 1),
            "guard_bound": monetary(asset, bound),
            "guard_closed": chart.period_closed(),
            "guard_advance": [monetary(asset, amount) for amount in advances.values()],
            "guard_horizon": [chart.horizon(customer) for customer in advances],
            "guard_horizon_counterpart": chart.horizon_counterpart(),
        },
    )
    script = combine(BoundScript(script=plan.script, vars=plan.vars), legs)
    metadata = dict(plan.metadata)
    if unique:
        metadata[SEQUENCE_KEY] = ",".join(f"{customer}={number}" for customer, number in numbers.items())
    return plan.model_copy(update={"script": script.script, "vars": dict(script.vars), "metadata": metadata, "timestamp": at})
