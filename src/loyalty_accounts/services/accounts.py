"""Accounts: setting the ledger up, a customer's position and history, the programme's own accounts.

Every read names its accounts through the chart's filters
(:meth:`~loyalty_accounts.chart.Chart.customer_filter`...), never by hand,
after the customer id was checked: an empty id must never become a filter
matching every customer.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from ..chart import BASE, PointKind, parse_date_segment, parse_expiry_segment
from ..errors import UnknownEntity
from ..operations import OpenControlCommand
from ..operations.fifo import fifo_key, is_spendable
from ..types import AccountState, PostedTransaction
from ..vocabulary import ids
from ..vocabulary.amounts import from_minor
from ..vocabulary.frozen import Frozen
from .executor import Executor


class Bucket(Frozen):
    expiry: date | None
    points: int
    kind: PointKind = BASE
    """Kind of point (base, bonus, transferred): each kind the chart keeps apart has buckets of its own."""
    due: bool = False
    """Its expiry date has come (programme calendar): no longer spendable, owed until ``loyalty expire`` sweeps it."""


class PendingPoints(Frozen):
    release: date
    expiry: date | None
    points: int
    kind: PointKind = BASE


class HeldPoints(Frozen):
    hold_id: str
    points: int


class CustomerBalance(Frozen):
    """A customer's position, read from the balances of their accounts."""

    customer: str
    spendable: int
    due: int = Field(default=0, description="points past their expiry date, not yet swept: not spendable, still owed")
    pending: int
    held: int
    clawback: int = Field(description="negative when the customer owes points after a refund")
    credit: Decimal
    credit_currency: str
    buckets: tuple[Bucket, ...]
    pending_buckets: tuple[PendingPoints, ...]
    holds: tuple[HeldPoints, ...]

    @property
    def total(self) -> int:
        """Points the programme owes this customer (the liability), debt netted."""

        return self.spendable + self.due + self.pending + self.held + self.clawback


class AccountService:
    """Set-up and the reads of balances and transactions."""

    def __init__(self, executor: Executor, *, bucket: str | None = None) -> None:
        """``bucket``: where :meth:`init` creates the ledger (None: the server's default bucket)."""
        self._executor = executor
        self._bucket = bucket
        self._reading = executor.reading
        self._ledger = executor.ledger
        self._chart = executor.chart

    def init(self) -> dict[str, object]:
        """Create the ledger (in the service's bucket) and apply the chart as its schema; repeating it changes
        nothing, and an existing ledger stays in the bucket it was created in.

        Returns ``{"ledger", "ledger_created", "schema_version", "schema_applied"}``.
        """

        schema_version = self._executor.schema_version
        created = self._ledger.create_ledger(
            metadata={"programme": self._chart.spec.programme.name}, bucket=self._bucket
        )
        applied = self._ledger.insert_schema(schema_version, self._chart.to_formance_schema())
        return {
            "ledger": self._ledger.ledger,
            "ledger_created": created,
            "schema_version": schema_version,
            "schema_applied": applied,
        }

    def balance(self, customer: str, *, pit: datetime | None = None) -> CustomerBalance:
        """The customer's position effective at ``pit`` (default: now, every posted transaction).

        As of a past instant it counts every transaction dated at or before
        it, also those posted later (a back-dated earn is there); a customer
        the ledger knows but who had no movement by then has an empty
        position. A bucket whose expiry date has come by ``pit``'s day in the
        programme's time zone is ``due``, not spendable (what redeem and hold
        can take), until the expiry sweep moves it. Raises UnknownEntity for a
        customer the ledger has never seen.
        """

        chart = self._chart
        accounts = list(self._ledger.accounts(chart.customer_filter(ids.customer_id(customer)), pit=pit))
        if not accounts and (pit is None or not self._reading.known(customer)):
            raise UnknownEntity(f"customer {customer} has no accounts in the ledger")
        pts, money = chart.points_asset, chart.money_asset
        today = chart.local_date(pit or self._executor.clock())
        buckets, pending, holds = [], [], []
        clawback, credit_minor = 0, 0
        for acct in accounts:
            parsed = chart.parse(acct.address)
            if parsed is None:
                continue
            kind, values = parsed.kind, parsed.values
            if kind == "customer_points":
                expiry, point_kind = parse_expiry_segment(values["expiry"])
                due = not is_spendable(expiry, today)
                buckets.append(Bucket(expiry=expiry, points=acct.balance(pts), due=due, kind=point_kind))
            elif kind == "customer_pending":
                release_on = parse_date_segment(values["release"])
                assert release_on is not None
                expiry, point_kind = parse_expiry_segment(values["expiry"])
                pending.append(PendingPoints(release=release_on, expiry=expiry, points=acct.balance(pts), kind=point_kind))
            elif kind == "customer_hold":
                holds.append(HeldPoints(hold_id=values["hold"], points=acct.balance(pts)))
            elif kind == "customer_clawback":
                clawback = acct.balance(pts)
            elif kind == "customer_credit":
                credit_minor = acct.balance(money)
        buckets = [b for b in buckets if b.points]
        buckets.sort(key=lambda b: fifo_key(b.expiry, b.kind))
        pending = sorted((p for p in pending if p.points), key=lambda p: p.release)
        holds = [h for h in holds if h.points]
        return CustomerBalance(
            customer=customer,
            spendable=sum(b.points for b in buckets if not b.due),
            due=sum(b.points for b in buckets if b.due),
            pending=sum(p.points for p in pending),
            held=sum(h.points for h in holds),
            clawback=clawback,
            credit=from_minor(credit_minor, money),
            credit_currency=chart.money_currency,
            buckets=tuple(buckets),
            pending_buckets=tuple(pending),
            holds=tuple(holds),
        )

    def history(self, customer: str) -> list[PostedTransaction]:
        """Every transaction touching the customer's accounts, oldest (first posted) first, whatever its date.

        The opening of the customer's sequence counter (``open_control``)
        moves no points and is left out.
        """

        txs = [
            tx
            for tx in self._ledger.transactions(account=self._chart.customer_filter(ids.customer_id(customer)))
            if tx.metadata.get("operation") != OpenControlCommand.operation
        ]
        if not txs:
            raise UnknownEntity(f"customer {customer} has no transactions in the ledger")
        return txs

    def programme_accounts(self) -> list[AccountState]:
        """Current balances of the programme's and partners' accounts (the other side of every customer)."""

        return [acct for address_filter in self._chart.programme_filters() for acct in self._ledger.accounts(address_filter)]
