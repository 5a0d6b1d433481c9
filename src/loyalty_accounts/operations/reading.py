"""What an operation may read: a read-only view of the ledger, with the chart and the rules.

Each registry entry (:mod:`.entry`) reads the state its pure plan needs
through a :class:`Reading`; the reads several operations share (a customer's
buckets, the clawback debt, the qualifying points a tier is made of) live
here, the ones only one operation needs in that operation's module.

Layering: operations sit below the ledger port (:mod:`loyalty_accounts.ports`,
layer 5) and the HTTP adapter, so the reads they need are declared here as
:class:`LedgerReader`, the read-only part of ``LedgerPort`` with the same
signatures and meaning (current state unless ``pit``; see the port's
docstring). Every ``LedgerPort`` is a ``LedgerReader``; nothing here can post.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Callable, Iterator, Mapping, Protocol, Sequence

from ..chart import Chart, address_matches, parse_date_segment, parse_expiry_segment
from ..errors import InvalidCommand, UnknownEntity
from ..rules import Rules, first_qualifying_day, qualification_window
from ..vocabulary.instants import day_start
from ..types import AccountState, PostedTransaction, VolumeRow
from ..vocabulary.frozen import Frozen
from .fifo import BucketBalance
from .timeline import Timeline, timelines

_TICK = timedelta(microseconds=1)
"""The ledger's time resolution: a read up to just before an instant stops this much earlier."""


class LedgerReader(Protocol):
    """The reads of :class:`loyalty_accounts.ports.LedgerPort` the operations use (same signatures)."""

    def find_by_reference(self, reference: str) -> PostedTransaction | None: ...

    def get_transaction(self, tx_id: int) -> PostedTransaction: ...

    def transactions(
        self,
        *,
        account: str | None = None,
        metadata: Mapping[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        pit: datetime | None = None,
    ) -> Iterator[PostedTransaction]: ...

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState: ...

    def accounts(self, address_filter: str | Sequence[str], *, pit: datetime | None = None) -> Iterator[AccountState]: ...

    def volumes(
        self,
        address_filter: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        group_by: int | None = None,
        insertion_date: bool = False,
    ) -> list[VolumeRow]: ...


class Dated(Protocol):
    """A command about one customer, dated ``at``."""

    @property
    def customer(self) -> str: ...

    @property
    def at(self) -> datetime: ...


class Snapshot(Frozen):
    """Accounts read with the guard in one listing, and what they stand for.

    ``accounts`` holds, with their current volumes, every account matching
    one of ``filters`` (the operation's watched filters: see
    :attr:`~.entry.Operation.watch`). ``latest`` maps each customer whose
    latest dated transaction is known to that instant (the horizon, see
    :mod:`.guard`). For an instant after it, nothing of that customer is
    dated later, so the current volumes *are* the customer's state at that
    instant and from then on: no history needs reading. ``known`` are the
    customers the ledger has accounts for (their operation counter exists).
    """

    filters: frozenset[str]
    accounts: Mapping[str, AccountState]
    latest: Mapping[str, datetime]
    known: frozenset[str]

    def current(self, customer: str, address_filter: str, instant: datetime) -> list[AccountState] | None:
        """The accounts matching ``address_filter`` as they stand at ``instant`` and after, or None.

        None unless the filter was read in the snapshot and ``instant`` is
        after the customer's latest dated transaction.
        """

        latest = self.latest.get(customer)
        if address_filter not in self.filters or latest is None or instant <= latest:
            return None
        return [state for address, state in self.accounts.items() if address_matches(address, address_filter)]


class Reading:
    """Reads over one ledger, with the chart that names its accounts and the rules (None: no rules file).

    With a :class:`Snapshot` (the executor's guard read), reads it covers are
    answered from it without a request. ``counted`` records the shared
    operation counters read through it (address → count, None: no row; see
    :mod:`.counter`), so that a plan refused on its reads can be told from one
    read while another operation on a shared account committed.
    """

    def __init__(
        self,
        ledger: LedgerReader,
        chart: Chart,
        rules: Rules | None = None,
        *,
        snapshot: Snapshot | None = None,
        counted: dict[str, int | None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.chart = chart
        self.rules = rules
        self.snapshot = snapshot
        self.counted: dict[str, int | None] = {} if counted is None else counted

    def with_snapshot(self, snapshot: Snapshot, counted: dict[str, int | None] | None = None) -> "Reading":
        """The same reads, answered from ``snapshot`` where it covers them; the counters read go to ``counted``
        (a new record when None)."""

        return Reading(self.ledger, self.chart, self.rules, snapshot=snapshot, counted=counted)

    def account_now(self, address: str) -> AccountState | None:
        """One account with its current volumes (None: the ledger has never seen it), from the snapshot
        when it read that address."""

        if self.snapshot is not None and address in self.snapshot.filters:
            return self.snapshot.accounts.get(address)
        try:
            return self.ledger.account(address)
        except UnknownEntity:
            return None

    def accounts_now(self, address_filter: str) -> list[AccountState]:
        """Every account matching ``address_filter`` with its current volumes: from the snapshot when it read
        that filter (no request), else one listing."""

        if self.snapshot is not None and address_filter in self.snapshot.filters:
            return [s for a, s in self.snapshot.accounts.items() if address_matches(a, address_filter)]
        return list(self.ledger.accounts(address_filter))

    def current(self, customer: str, address_filter: str, instant: datetime) -> list[AccountState] | None:
        """:meth:`Snapshot.current`, or None without a snapshot."""

        return None if self.snapshot is None else self.snapshot.current(customer, address_filter, instant)

    def require_rules(self, what: str) -> Rules:
        """The rules; InvalidCommand naming ``what`` when the programme was set up without them."""

        if self.rules is None:
            raise InvalidCommand(
                f"{what} needs the earning rules: this programme was set up without a rules file (--rules / LOYALTY_RULES)"
            )
        return self.rules

    def balance(self, address: str, asset: str) -> int:
        """An account's balance; 0 for an account the ledger has never seen (the server answers 404)."""

        try:
            return self.ledger.account(address).balance(asset)
        except UnknownEntity:
            return 0

    def due_timelines(
        self, address_filter: str, kind: str, due_on: Callable[[Mapping[str, str]], date | None]
    ) -> dict[str, list[tuple[Mapping[str, str], Timeline]]]:
        """Per customer, (segment values, points timeline) of the accounts of ``kind`` a sweep may move.

        Those holding points now whose segments name a day they fall due on
        (``due_on``; None: never, e.g. a ``noexpiry`` bucket). What such an
        account can give as of a run's instant is at most what it holds now,
        so an empty one is not listed. Each timeline starts at the first
        instant of the earliest of those days: a run as of any instant on or
        after an account's own day can tell what the account holds then and
        from then on. Two reads (see :meth:`timelines`).
        """

        asset, zone = self.chart.points_asset, self.chart.timezone
        holding: dict[str, tuple[Mapping[str, str], datetime]] = {}
        current: dict[str, int] = {}
        for acct in self.ledger.accounts(address_filter):
            parsed = self.chart.parse(acct.address)
            points = acct.balance(asset)
            due = due_on(parsed.values) if parsed is not None and parsed.kind == kind else None
            if parsed is not None and due is not None and points > 0:
                holding[acct.address] = (parsed.values, day_start(due, zone))
                current[acct.address] = points
        if not holding:
            return {}
        since = min(start for _, start in holding.values())
        lines = timelines(current, self.ledger.transactions(account=address_filter, start=since + _TICK), asset, since=since)
        by_customer: dict[str, list[tuple[Mapping[str, str], Timeline]]] = defaultdict(list)
        for address, (values, _) in holding.items():
            by_customer[values["customer"]].append((values, lines[address]))
        return dict(by_customer)

    def known(self, customer: str) -> bool:
        """Whether the ledger has any account of the customer (reads one account at most)."""

        return next(iter(self.ledger.accounts(self.chart.customer_filter(customer))), None) is not None

    def require_known(self, customer: str) -> None:
        """UnknownEntity for a customer the ledger has never seen."""

        if not self.known(customer):
            raise UnknownEntity(f"customer {customer} has no accounts in the ledger")

    def timelines(self, address_filter: str, since: datetime) -> dict[str, Timeline]:
        """Every account matching the filter, with its points balance now and its changes dated after ``since``.

        Two reads, whatever the number of accounts: the accounts (current
        volumes) and the transactions touching them dated after ``since``
        (one paged listing, usually empty for an instant that is now).
        """

        current = {a.address: a.balance(self.chart.points_asset) for a in self.ledger.accounts(address_filter)}
        later = self.ledger.transactions(account=address_filter, start=since + _TICK)
        return timelines(current, later, self.chart.points_asset, since=since)

    def at(self, instant: datetime) -> "AsOf":
        """The ledger as an operation dated ``instant`` may take from it (see :class:`AsOf`)."""

        return AsOf(self, instant)

    def qualification_days(self, as_of: datetime) -> tuple[date | None, datetime]:
        """First programme day whose orders count for the tier at ``as_of`` (None: lifetime), and ``as_of``.

        The rules' window is ``[as_of - days, as_of)``; qualifying points are
        kept per order day, so the window starts at the first whole day inside
        it: orders count from that day's midnight (programme time zone) up to,
        not including, ``as_of``.
        """

        rules = self.require_rules("tier")
        _, end = qualification_window(rules, as_of)
        return first_qualifying_day(rules, self.chart.timezone, as_of), end

    def qualifying_points(self, customer: str, as_of: datetime) -> int:
        """Qualifying points (earned from orders, net of refunds) inside the window at ``as_of``, as of then.

        Read as the volumes of the customer's qualifying accounts up to just
        before ``as_of``: the ledger's volume ``endTime`` is inclusive and the
        window is not, so the read stops one microsecond (the ledger's time
        resolution) earlier. Releases, spends, transfers and void returns move
        PTS only, so they never change this figure.
        """

        first, end = self.qualification_days(as_of)
        total = 0
        if (recent := self.current(customer, self.chart.qualifying_filter(customer), as_of)) is not None:
            # Nothing of the customer is dated at or after as_of: the current balances are those up to it.
            for state in recent:
                parsed = self.chart.parse(state.address)
                day = parse_date_segment(parsed.values["day"]) if parsed is not None else None
                if day is not None and (first is None or day >= first):
                    total += state.balance(self.chart.qualifying_asset)
            return total
        for row in self.ledger.volumes(self.chart.qualifying_filter(customer), end=end - _TICK):
            parsed = self.chart.parse(row.account)
            if row.asset != self.chart.qualifying_asset or parsed is None or parsed.kind != "customer_qualifying":
                continue
            day = parse_date_segment(parsed.values["day"])
            if first is None or (day is not None and day >= first):
                total += row.balance
        return total


class AsOf:
    """The ledger as an operation dated ``instant`` may take from it.

    What an account can give at ``instant`` is the lowest balance it has at
    any instant from then on (:mod:`.timeline`), not its balance now: a
    back-dated spend must leave every later instant non-negative too. Each
    customer is read once (:meth:`Reading.timelines` over the customer's
    accounts) and kept for the view's life.
    """

    def __init__(self, reading: Reading, instant: datetime) -> None:
        self.reading = reading
        self.chart = reading.chart
        self.instant = instant
        self._read: dict[str, dict[str, Timeline]] = {}

    def accounts(self, customer: str) -> dict[str, Timeline]:
        """Every account of the customer (address → points timeline since ``instant``)."""

        if customer not in self._read:
            self._read[customer] = self.reading.timelines(self.chart.customer_filter(customer), self.instant)
        return self._read[customer]

    def _recent(self, customer: str, address_filter: str) -> dict[str, Timeline] | None:
        """Timelines of the accounts matching the filter from the snapshot (nothing dated later), or None."""

        states = self.reading.current(customer, address_filter, self.instant)
        if states is None:
            return None
        asset = self.chart.points_asset
        return {s.address: Timeline(since=self.instant, current=s.balance(asset)) for s in states}

    def _lines(self, customer: str, address_filter: str) -> dict[str, Timeline]:
        recent = self._recent(customer, address_filter)
        return recent if recent is not None else self.accounts(customer)

    def available(self, customer: str, address: str) -> int:
        """The points ``address`` (an account of ``customer``) can give at ``instant``: never below 0."""

        line = self._lines(customer, address).get(address)
        return 0 if line is None else max(0, line.lowest_from(self.instant))

    def buckets(self, customer: str, *, spendable_only: bool = True) -> list[BucketBalance]:
        """The customer's buckets that can give points at ``instant``, each with what it can give.

        Every bucket, due for expiry or not (the operations decide which are
        spendable when). With ``spendable_only`` (a spend), a customer
        without accounts is UnknownEntity.
        """

        recent = self._recent(customer, self.chart.buckets_filter(customer))
        if recent is not None and (recent or customer in self._known()):
            lines = recent  # a customer the ledger knows, with these buckets (maybe none)
        else:
            lines = self.accounts(customer)
            if spendable_only and not lines:
                raise UnknownEntity(f"customer {customer} has no accounts in the ledger")
        out = []
        for address, line in lines.items():
            parsed = self.chart.parse(address)
            points = line.lowest_from(self.instant)
            if parsed is not None and parsed.kind == "customer_points" and points > 0:
                out.append(bucket_balance(parsed.values, points))
        return out

    def clawback_balance(self, customer: str) -> int:
        """The clawback balance an earn or award dated ``instant`` may repay against (negative = debt).

        The highest balance of the customer's clawback account from
        ``instant`` on: repaying ``-balance`` keeps it at or below 0 at every
        instant. 0 unless the policy is claw_back.
        """

        if self.chart.policies.refund_shortfall != "claw_back":
            return 0
        address = self.chart.clawback(customer)
        line = self._lines(customer, address).get(address)
        return 0 if line is None else line.highest_from(self.instant)

    def _known(self) -> frozenset[str]:
        snapshot = self.reading.snapshot
        return frozenset() if snapshot is None else snapshot.known


def bucket_balance(values: Mapping[str, str], points: int) -> BucketBalance:
    """A bucket read from the segment values of its address and its points."""

    expiry, kind = parse_expiry_segment(values["expiry"])
    return BucketBalance(expiry=expiry, points=points, kind=kind)


def buckets_watched(command: Dated, chart: Chart) -> tuple[str, ...]:
    """What :func:`customer_buckets` reads: the customer's buckets (an entry's ``watch``)."""

    return (chart.buckets_filter(command.customer),)


def customer_buckets(command: Dated, reading: Reading) -> list[BucketBalance]:
    """The read of an operation that spends a customer's points: the customer's buckets, as of the command's instant."""

    return reading.at(command.at).buckets(command.customer)


def nothing(command: object, reading: Reading) -> None:
    """The read of an operation whose plan needs no state from the ledger."""

    return None
