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
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterator, Mapping, Protocol, TypeVar

from ..chart import Chart, parse_date_segment
from ..errors import InvalidCommand, UnknownEntity
from ..rules import Rules, qualification_window
from ..types import AccountState, PostedTransaction, VolumeRow
from .fifo import BucketBalance

T = TypeVar("T")

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

    def accounts(self, address_filter: str, *, pit: datetime | None = None) -> Iterator[AccountState]: ...

    def volumes(
        self,
        address_filter: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        group_by: int | None = None,
        insertion_date: bool = False,
    ) -> list[VolumeRow]: ...


class HasCustomer(Protocol):
    """A command about one customer."""

    @property
    def customer(self) -> str: ...


class Reading:
    """Reads over one ledger, with the chart that names its accounts and the rules (None: no rules file)."""

    def __init__(self, ledger: LedgerReader, chart: Chart, rules: Rules | None = None) -> None:
        self.ledger = ledger
        self.chart = chart
        self.rules = rules

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

    def holding(self, address_filter: str, kind: str) -> Iterator[tuple[Mapping[str, str], int]]:
        """(segment values, points) of every account of one chart kind that holds points."""

        for acct in self.ledger.accounts(address_filter):
            parsed = self.chart.parse(acct.address)
            points = acct.balance(self.chart.points_asset)
            if parsed is not None and parsed.kind == kind and points > 0:
                yield parsed.values, points

    def holding_by_customer(
        self, address_filter: str, kind: str, balance: Callable[[Mapping[str, str], int], T]
    ) -> dict[str, list[T]]:
        """:meth:`holding`, grouped by the accounts' customer segment, each made a ``balance(values, points)``."""

        by_customer: dict[str, list[T]] = defaultdict(list)
        for values, points in self.holding(address_filter, kind):
            by_customer[values["customer"]].append(balance(values, points))
        return by_customer

    def known(self, customer: str) -> bool:
        """Whether the ledger has any account of the customer (reads one account at most)."""

        return next(iter(self.ledger.accounts(self.chart.customer_filter(customer))), None) is not None

    def require_known(self, customer: str) -> None:
        """UnknownEntity for a customer the ledger has never seen."""

        if not self.known(customer):
            raise UnknownEntity(f"customer {customer} has no accounts in the ledger")

    def buckets(self, customer: str, *, spendable_only: bool = True) -> list[BucketBalance]:
        """The customer's buckets with points; the operations decide which are spendable when.

        With ``spendable_only`` (a spend), a customer without buckets must at
        least be known to the ledger, else UnknownEntity.
        """

        out = [bucket_balance(values, points) for values, points in self.holding(self.chart.buckets_filter(customer), "customer_points")]
        if spendable_only and not out:
            self.require_known(customer)
        return out

    def clawback_debt(self, customer: str) -> int:
        """The clawback balance an earn or award repays (negative = debt), read only under claw_back."""

        if self.chart.policies.refund_shortfall != "claw_back":
            return 0
        return self.balance(self.chart.clawback(customer), self.chart.points_asset)

    def qualification_days(self, as_of: datetime) -> tuple[date | None, datetime]:
        """First programme day whose orders count for the tier at ``as_of`` (None: lifetime), and ``as_of``.

        The rules' window is ``[as_of - days, as_of)``; qualifying points are
        kept per order day, so the window starts at the first whole day inside
        it: orders count from that day's midnight (programme time zone) up to,
        not including, ``as_of``.
        """

        start, end = qualification_window(self.require_rules("tier"), as_of)
        if start is None:
            return None, end
        local = start.astimezone(self.chart.timezone)
        first = local.date()
        if local.time() != time(0):
            first += timedelta(days=1)
        return first, end

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
        for row in self.ledger.volumes(self.chart.qualifying_filter(customer), end=end - _TICK):
            parsed = self.chart.parse(row.account)
            if row.asset != self.chart.qualifying_asset or parsed is None or parsed.kind != "customer_qualifying":
                continue
            day = parse_date_segment(parsed.values["day"])
            if first is None or (day is not None and day >= first):
                total += row.balance
        return total


def bucket_balance(values: Mapping[str, str], points: int) -> BucketBalance:
    """A bucket read from the segment values of its address and its points."""

    return BucketBalance(expiry=parse_date_segment(values["expiry"]), points=points)


def customer_buckets(command: HasCustomer, reading: Reading) -> list[BucketBalance]:
    """The read of an operation that spends a customer's points: the customer's buckets."""

    return reading.buckets(command.customer)


def nothing(command: object, reading: Reading) -> None:
    """The read of an operation whose plan needs no state from the ledger."""

    return None
