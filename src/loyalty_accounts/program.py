"""The loyalty programme as a service over a Formance ledger.

Each method takes a validated command, reads from the ledger exactly the state
its plan needs (bucket balances, the hold, the order's earn), builds the plan
with the pure operation, and posts it. Nothing is kept on the Python side: the
ledger is the only book.

Exactly once: before planning, the command's reference is looked up. Found
with the same command fingerprint → the original is returned (``replayed``)
and nothing is posted; found with another fingerprint → ``DuplicateOperation``.
Not found → plan and post; the client resolves a concurrent duplicate the same
way, and the database's unique reference makes two posts impossible.

Never overspent: a plan lists the buckets the balances read say are needed,
but the ledger's own overdraft check decides. If a concurrent spend emptied a
bucket in between, the post fails with ``INSUFFICIENT_FUND`` and the plan is
rebuilt from fresh balances (up to ``PLAN_ATTEMPTS`` times), so the customer either has the
points at the instant of posting or gets :class:`InsufficientPoints`.
Before re-planning or refusing, the reference is looked up once more: the
server checks funds before the reference, so the losing twin of the same
command run twice at once (the whole balance spent, or an engagement
counter's last slot taken) is refused for funds although its twin posted it;
it is answered with the original (``replayed``) instead. The same holds when
the twin posted between the first lookup and the reads a plan is built from
(the plan then refuses, or has nothing left to post).

Pricing: with a rules file (``rules=``), an earn is priced by
:func:`loyalty_accounts.rules.quote` at the order's own instant, with the
customer's tier and campaign usage read from the ledger; the chart prices
nothing. Tiers are read from the qualifying points (QPTS) every earn posts to
``customers:{c}:qualifying:{order day}`` and every refund takes back: the
tier at an instant sums the balances, as of that instant, of the days inside
the rules' qualification window. Engagement awards are limited by counters
the ledger checks when it posts (see :mod:`loyalty_accounts.operations.engage`).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from time import sleep
from typing import Callable, Iterable, Iterator, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from .chart import Chart, parse_date_segment
from .vocabulary.amounts import from_minor
from .errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerUnavailable,
    LoyaltyError,
    OperationRefused,
    OutcomeUnknown,
    UnknownEntity,
)
from .numscript import Catalogue
from .operations import (
    AdjustCommand,
    BucketBalance,
    CaptureCommand,
    Command,
    ConvertCommand,
    EarnCommand,
    EarnRecord,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    ExpireCommand,
    HoldCommand,
    OpenCounterCommand,
    PendingBalance,
    RedeemCommand,
    RefundCommand,
    RefundRecord,
    ReleaseCommand,
    TransferCommand,
    adjust,
    capture,
    convert,
    earn,
    engage,
    exchange_in,
    exchange_out,
    expire,
    hold,
    open_counter,
    redeem,
    refund,
    release,
    transfer,
)
from .vocabulary.amounts import Money
from .ports import LedgerPort
from .rules import (
    EarnBreakdown,
    EngagementLimitReached,
    EngagementRule,
    Order,
    Rules,
    TierStatus,
    check_against_chart,
    engagement_points,
    qualification_window,
    quote,
    tier_change,
    tier_for,
)
from .types import AccountState, PostedTransaction, TransactionPlan

Progress = Callable[[int, int], None]
"""Called with (done, total) while a batch operation posts."""

PLAN_ATTEMPTS = 30
"""Plans tried for one command while the ledger refuses them for funds. Each refusal
means a concurrent spend took planned points first, so what the customer has shrinks
every round and a plan that no longer fits is refused by the plan itself (with the
customer's spendable points). Twenty racers on twenty one-bucket spends needed up to
nineteen re-plans on the v2.4.12 server; three left a third of them refused."""
REPLAN_JITTER_S = 0.01
"""Random wait before a re-plan, times the attempt number (at most 0.2 s): racers that
lost the same bucket do not all re-read and re-post in lockstep."""
SMALL_REFUND_PREFIX = "small_refund:"
_SMALL_REFUND_NOTE = "the refund is too small to reverse a whole point; recorded on the order's earn"
BATCH = 100


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TierChange(_Frozen):
    """How an earn moved its customer's tier at the order's instant (before this order vs after it)."""

    before: str
    after: str
    direction: Literal["upgrade", "downgrade", "changed"]

    def __str__(self) -> str:
        return f"{self.direction}: {self.before} → {self.after}"


class OperationResult(_Frozen):
    """What one command did: the transactions it posted (or found already posted)."""

    operation: str
    reference: str
    replayed: bool
    points: int
    transactions: tuple[PostedTransaction, ...] = ()
    note: str | None = None
    tier_change: TierChange | None = None

    @property
    def posted(self) -> bool:
        return bool(self.transactions) and not self.replayed

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "operation": self.operation,
            "reference": self.reference,
            "replayed": self.replayed,
            "points": self.points,
            "transactions": [tx.id for tx in self.transactions],
            "note": self.note,
        }
        if self.tier_change is not None:
            out["tier_change"] = str(self.tier_change)
        return out


class EarnExplanation(_Frozen):
    """An earn read back from the ledger: its breakdown and the points its postings really moved."""

    order_id: str
    customer: str
    transaction: int
    posted_points: int
    breakdown: EarnBreakdown
    tier_after: str | None = None
    tier_change: TierChange | None = None

    @property
    def adds_up(self) -> bool:
        """The explanation's figures sum exactly to the points posted."""

        return sum((line.points for line in self.breakdown.lines()), Decimal(0)) == self.posted_points


class BatchResult(_Frozen):
    """A programme-wide run (expire, release, void of lapsed holds)."""

    operation: str
    as_of: datetime
    posted: int
    replayed: int
    points: int
    results: tuple[OperationResult, ...] = ()

    def summary(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "as_of": self.as_of.isoformat(),
            "posted": self.posted,
            "replayed": self.replayed,
            "points": self.points,
        }


class Bucket(_Frozen):
    expiry: date | None
    points: int


class PendingPoints(_Frozen):
    release: date
    expiry: date | None
    points: int


class HeldPoints(_Frozen):
    hold_id: str
    points: int


class CustomerBalance(_Frozen):
    """A customer's position, read from the balances of their accounts."""

    customer: str
    spendable: int
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

        return self.spendable + self.pending + self.held + self.clawback


class LoyaltyProgram:
    """The programme's operations and reads over one ledger.

    ``rules`` price earns and engagement and define tiers; a programme
    without them can still do everything else (spend, refund, report) but
    refuses to earn, award or rank, since the chart prices nothing.
    """

    def __init__(
        self, ledger: LedgerPort, chart: Chart, catalogue: Catalogue | None = None, *, rules: Rules | None = None
    ) -> None:
        self.ledger = ledger
        self.chart = chart
        self.catalogue = catalogue or Catalogue()
        self.schema_version = chart.schema_version()
        if rules is not None:
            check_against_chart(rules, chart)
        self.rules = rules

    # -- set-up -------------------------------------------------------------

    def init(self) -> dict[str, object]:
        """Create the ledger and apply the chart as its schema; repeating it changes nothing."""

        created = self.ledger.create_ledger(metadata={"programme": self.chart.spec.programme.name})
        applied = self.ledger.insert_schema(self.schema_version, self.chart.to_formance_schema())
        return {
            "ledger": self.ledger.ledger,
            "ledger_created": created,
            "schema_version": self.schema_version,
            "schema_applied": applied,
        }

    # -- operations ---------------------------------------------------------

    def earn(self, command: EarnCommand) -> OperationResult:
        """Price the order with the rules at its own instant and post its points and qualifying points."""

        rules = self._require_rules("earn")
        reasons: list[str] = []

        def build() -> TransactionPlan | None:
            breakdown, before = self._price(rules, command)
            after = tier_for(rules, before.qualifying_points + breakdown.points)
            if breakdown.reason:
                reasons.append(breakdown.reason)
            return earn.plan(
                command,
                self.chart,
                self.catalogue,
                breakdown=breakdown,
                clawback_balance=self._clawback_debt(command.customer),
                tier_after=after.tier,
                tier_change=tier_change(before, after),
            )

        result = self._once(command, build, no_plan_note="the order earns no points")
        if not result.transactions:
            note = f"{result.note} ({reasons[-1].replace('_', ' ')})" if reasons else result.note
            return result.model_copy(update={"note": note})
        return result.model_copy(update={"tier_change": _tier_change_of(result.transactions[0])})

    def quote(self, command: EarnCommand) -> EarnBreakdown:
        """What the order would earn if posted now: priced at its own instant with the tier and campaign usage the ledger holds; posts nothing."""

        return self._price(self._require_rules("quote"), command)[0]

    def engage(self, customer: str, event: str, key: str, at: datetime) -> OperationResult:
        """Award an engagement event's points, once per ``key``, within the rules' limits.

        The limits are pre-checked from the award counters (a clear refusal
        without a post) and enforced by the ledger when posting: if a
        concurrent award took the last slot in between, the ledger refuses
        ours (``INSUFFICIENT_FUND`` on a counter), the counters are read
        again and the refusal becomes :class:`EngagementLimitReached` —
        unless the concurrent award was this very one (the same key sent
        twice at once): then it is answered with that award (``replayed``).
        """

        rules = self._require_rules("engage")
        command = EngageCommand(customer=customer, event=event, key=key, at=at)

        def build() -> TransactionPlan:
            # Looked up here, after the replay check: a key awarded under an
            # event the rules have since dropped is still recognised.
            rule = rules.engagement.get(command.event)
            if rule is None:
                known = ", ".join(sorted(rules.engagement)) or "none"
                raise InvalidCommand(f"unknown engagement event {event!r} (events: {known})")
            today, ever = self._award_counts(command, rule)
            engagement_points(rules, command.event, already_awarded_today=today, already_awarded_ever=ever)
            return engage.plan(
                command,
                self.chart,
                self.catalogue,
                rule=rule,
                rules_version=rules.version,
                clawback_balance=self._clawback_debt(command.customer),
            )

        try:
            return self._once(command, build)
        except InsufficientPoints:
            raise EngagementLimitReached(
                f"{event} was awarded to {customer} concurrently up to its limit", code="ENGAGEMENT_LIMIT"
            ) from None

    def hold(self, command: HoldCommand) -> OperationResult:
        return self._once(command, lambda: hold.plan(command, self.chart, self.catalogue, self._buckets(command.customer)))

    def capture(self, command: CaptureCommand) -> OperationResult:
        def build() -> TransactionPlan:
            hold_tx = self._hold_transaction(command.customer, command.hold_id)
            if hold_tx.reverted:
                raise OperationRefused(f"hold {command.hold_id} was voided; it cannot be captured")
            expires = hold_tx.metadata.get("expires_at")
            return capture.plan(
                command,
                self.chart,
                self.catalogue,
                hold_tx.postings,
                hold_expires_at=_instant(expires) if expires else None,
            )

        return self._once(command, build)

    def void(self, customer: str, hold_id: str) -> OperationResult:
        """Revert the hold: every point goes back to the bucket it came from."""

        hold_tx = self._hold_transaction(customer, hold_id)
        reference = f"void:{hold_id}"
        if hold_tx.reverted:
            return OperationResult(operation="void", reference=reference, replayed=True, points=self._held(hold_tx))
        if self.ledger.find_by_reference(f"capture:{hold_id}") is not None:
            raise OperationRefused(f"hold {hold_id} was captured; it can no longer be voided")
        try:
            reversal = self.ledger.revert(
                hold_tx.id,
                metadata={"operation": "void", "customer": customer, "hold_id": hold_id},
                schema_version=self.schema_version,
            )
        except DuplicateOperation as exc:
            if exc.code != "ALREADY_REVERT":
                raise
            return OperationResult(operation="void", reference=reference, replayed=True, points=self._held(hold_tx))
        except InsufficientPoints:
            # The hold account was emptied between our reads and the revert: by a
            # capture, or by a void that got there first. Say which.
            if self.ledger.get_transaction(hold_tx.id).reverted:
                return OperationResult(operation="void", reference=reference, replayed=True, points=self._held(hold_tx))
            if self.ledger.find_by_reference(f"capture:{hold_id}") is not None:
                raise OperationRefused(f"hold {hold_id} was captured; it can no longer be voided") from None
            raise
        return OperationResult(
            operation="void", reference=reference, replayed=False, points=self._held(hold_tx), transactions=(reversal,)
        )

    def void_lapsed(self, as_of: datetime, *, progress: Progress | None = None) -> BatchResult:
        """Void every hold whose TTL has passed by ``as_of`` and that is neither captured nor voided now.

        Reads the current state (no ``pit``): a hold captured or voided after
        ``as_of`` is settled and must not be voided again.
        """

        lapsed = [
            tx
            for tx in self.ledger.transactions(metadata={"operation": "hold"})
            if not tx.reverted
            and _instant(tx.metadata["expires_at"]) <= as_of
            and self.ledger.find_by_reference(f"capture:{tx.metadata['hold_id']}") is None
        ]
        results = []
        for done, tx in enumerate(lapsed, start=1):
            results.append(self.void(tx.metadata["customer"], tx.metadata["hold_id"]))
            if progress:
                progress(done, len(lapsed))
        return _batch("void", as_of, results)

    def redeem(self, command: RedeemCommand) -> OperationResult:
        return self._once(command, lambda: redeem.plan(command, self.chart, self.catalogue, self._buckets(command.customer)))

    def transfer(self, command: TransferCommand) -> OperationResult:
        return self._once(
            command, lambda: transfer.plan(command, self.chart, self.catalogue, self._buckets(command.customer))
        )

    def exchange_out(self, command: ExchangeOutCommand) -> OperationResult:
        return self._once(
            command, lambda: exchange_out.plan(command, self.chart, self.catalogue, self._buckets(command.customer))
        )

    def exchange_in(self, command: ExchangeInCommand) -> OperationResult:
        return self._once(command, lambda: exchange_in.plan(command, self.chart, self.catalogue))

    def convert(self, command: ConvertCommand) -> OperationResult:
        return self._once(command, lambda: convert.plan(command, self.chart, self.catalogue, self._buckets(command.customer)))

    def adjust(self, command: AdjustCommand) -> OperationResult:
        def build() -> TransactionPlan:
            buckets = self._buckets(command.customer) if command.direction == "debit" else ()
            return adjust.plan(command, self.chart, self.catalogue, buckets)

        return self._once(command, build)

    def refund(self, command: RefundCommand) -> OperationResult:
        """Reverse the order's points in proportion to the refunded amount.

        A refund too small to reverse a whole point posts no transaction, yet
        its amount must count towards later refunds of the order (three
        refunds of a third each reverse everything). It is recorded as
        metadata on the order's earn transaction, under its refund id.
        """

        earn_tx = self.ledger.find_by_reference(f"earn:{command.order_id}")
        if earn_tx is None:
            raise UnknownEntity(f"order {command.order_id} has no earn in the ledger")
        note_key = f"{SMALL_REFUND_PREFIX}{command.refund_id}"
        fingerprint = command.fingerprint()
        recorded = earn_tx.metadata.get(note_key)
        if recorded is not None:
            if json.loads(recorded).get("command_hash") != fingerprint:
                raise DuplicateOperation(f"refund {command.refund_id} was already recorded with different content")
            return OperationResult(
                operation=command.operation, reference=command.reference(), replayed=True, points=0, note=_SMALL_REFUND_NOTE
            )

        def build() -> TransactionPlan | None:
            current = self.ledger.get_transaction(earn_tx.id)
            record = EarnRecord.from_metadata(current.metadata)
            if record.customer != command.customer:
                raise InvalidCommand(f"order {command.order_id} belongs to another customer, not {command.customer}")
            return refund.plan(
                command,
                self.chart,
                self.catalogue,
                earn=record,
                previous_refunds=self._refunds_of(command.order_id, current),
                buckets=self._buckets(command.customer, spendable_only=False),
            )

        result = self._once(command, build, no_plan_note=_SMALL_REFUND_NOTE)
        if not result.transactions:
            note = {
                "amount": str(command.amount.amount),
                "currency": command.amount.currency,
                "command_hash": fingerprint,
            }
            self.ledger.add_transaction_metadata(
                earn_tx.id, {note_key: json.dumps(note, sort_keys=True)}, schema_version=self.schema_version
            )
        return result

    def _refunds_of(self, order_id: str, earn_tx: PostedTransaction) -> list[RefundRecord]:
        """Every earlier refund of the order: posted ones and the small ones noted on its earn."""

        posted = [
            RefundRecord.from_metadata(tx.metadata)
            for tx in self.ledger.transactions(metadata={"operation": "refund", "order_id": order_id})
        ]
        small = []
        for key, value in earn_tx.metadata.items():
            if key.startswith(SMALL_REFUND_PREFIX):
                note = json.loads(value)
                small.append(
                    RefundRecord(
                        refund_id=key[len(SMALL_REFUND_PREFIX):],
                        amount=Money(amount=Decimal(note["amount"]), currency=note["currency"]),
                        points=0,
                    )
                )
        return posted + small

    def release(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Move pending points whose release date has come into their buckets.

        Plans on the current balances (no ``pit``), the ones the ledger checks
        the postings against, even for a past ``as_of``.
        """

        by_customer: dict[str, list[PendingBalance]] = defaultdict(list)
        flt = f"customers:{customer}:pending::" if customer else "customers::pending::"
        for values, points in self._holding(flt, "customer_pending"):
            release_on = parse_date_segment(values["release"])
            assert release_on is not None  # the chart's pattern admits dates only
            by_customer[values["customer"]].append(
                PendingBalance(release=release_on, expiry=parse_date_segment(values["expiry"]), points=points)
            )
        plans: list[TransactionPlan] = []
        for cust, pending in sorted(by_customer.items()):
            plans.extend(release.plan(ReleaseCommand(customer=cust, as_of=as_of), self.chart, self.catalogue, pending))
        return self._post_batch("release", as_of, plans, progress)

    def expire(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Drain every bucket whose expiry date has come into the expired account.

        One transaction per bucket, referenced by bucket and as-of instant: a
        second run finds the buckets empty (or the references taken) and
        posts nothing new. Like :meth:`release`, it plans on the current
        balances, the ones the ledger checks the postings against.
        """

        by_customer: dict[str, list[BucketBalance]] = defaultdict(list)
        flt = f"customers:{customer}:points:" if customer else "customers::points:"
        for values, points in self._holding(flt, "customer_points"):
            by_customer[values["customer"]].append(BucketBalance(expiry=parse_date_segment(values["expiry"]), points=points))
        plans: list[TransactionPlan] = []
        for cust, buckets in sorted(by_customer.items()):
            plans.extend(expire.plan(ExpireCommand(customer=cust, as_of=as_of), self.chart, self.catalogue, buckets))
        return self._post_batch("expire", as_of, plans, progress)

    # -- reads --------------------------------------------------------------

    def tier(self, customer: str, as_of: datetime) -> TierStatus:
        """The customer's tier at ``as_of``: from qualifying points earned inside the window, as of then."""

        rules = self._require_rules("tier")
        if not self._known(customer):
            raise UnknownEntity(f"customer {customer} has no accounts in the ledger")
        return tier_for(rules, self.qualifying_points(customer, as_of))

    def qualification_days(self, as_of: datetime) -> tuple[date | None, datetime]:
        """First programme day whose orders count for the tier at ``as_of`` (None: lifetime), and ``as_of``.

        The rules' window is ``[as_of - days, as_of)``; qualifying points are
        kept per order day, so the window starts at the first whole day inside
        it: orders count from that day's midnight (programme time zone) up to,
        not including, ``as_of``.
        """

        start, end = qualification_window(self._require_rules("tier"), as_of)
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
        for row in self.ledger.volumes(f"customers:{customer}:qualifying:", end=end - _TICK):
            parsed = self.chart.parse(row.account)
            if row.asset != self.chart.qualifying_asset or parsed is None or parsed.kind != "customer_qualifying":
                continue
            day = parse_date_segment(parsed.values["day"])
            if first is None or (day is not None and day >= first):
                total += row.balance
        return total

    def explain(self, order_id: str) -> EarnExplanation:
        """The breakdown an order's earn recorded, with the points its postings moved."""

        tx = self.ledger.find_by_reference(f"earn:{order_id}")
        if tx is None:
            raise UnknownEntity(f"order {order_id} has no earn in the ledger")
        if "r_ver" not in tx.metadata:
            raise UnknownEntity(f"order {order_id} was earned before the rules file priced earns: it has no breakdown")
        breakdown = EarnBreakdown.from_metadata(tx.metadata)
        issued = self.chart.issued_shard(tx.metadata["customer"])
        posted = sum(p.amount for p in tx.postings if p.asset == self.chart.points_asset and p.source == issued)
        return EarnExplanation(
            order_id=order_id,
            customer=tx.metadata["customer"],
            transaction=tx.id,
            posted_points=posted,
            breakdown=breakdown,
            tier_after=tx.metadata.get("tier_after"),
            tier_change=_tier_change_of(tx),
        )

    def balance(self, customer: str, *, pit: datetime | None = None) -> CustomerBalance:
        """The customer's position effective at ``pit`` (default: now, every posted transaction).

        As of a past instant it counts every transaction dated at or before
        it, also those posted later (a back-dated earn is there); a customer
        the ledger knows but who had no movement by then has an empty
        position. Raises UnknownEntity for a customer the ledger has never seen.
        """
        accounts = list(self.ledger.accounts(f"customers:{customer}:...", pit=pit))
        if not accounts and (pit is None or not self._known(customer)):
            raise UnknownEntity(f"customer {customer} has no accounts in the ledger")
        pts, money = self.chart.points_asset, self.chart.money_asset
        buckets, pending, holds = [], [], []
        clawback, credit_minor = 0, 0
        for acct in accounts:
            parsed = self.chart.parse(acct.address)
            if parsed is None:
                continue
            kind, values = parsed.kind, parsed.values
            if kind == "customer_points":
                buckets.append(Bucket(expiry=parse_date_segment(values["expiry"]), points=acct.balance(pts)))
            elif kind == "customer_pending":
                release_on = parse_date_segment(values["release"])
                assert release_on is not None
                pending.append(
                    PendingPoints(release=release_on, expiry=parse_date_segment(values["expiry"]), points=acct.balance(pts))
                )
            elif kind == "customer_hold":
                holds.append(HeldPoints(hold_id=values["hold"], points=acct.balance(pts)))
            elif kind == "customer_clawback":
                clawback = acct.balance(pts)
            elif kind == "customer_credit":
                credit_minor = acct.balance(money)
        buckets = [b for b in buckets if b.points]
        buckets.sort(key=lambda b: (b.expiry is None, b.expiry or date.max))
        pending = sorted((p for p in pending if p.points), key=lambda p: p.release)
        holds = [h for h in holds if h.points]
        return CustomerBalance(
            customer=customer,
            spendable=sum(b.points for b in buckets),
            pending=sum(p.points for p in pending),
            held=sum(h.points for h in holds),
            clawback=clawback,
            credit=from_minor(credit_minor, money),
            credit_currency=self.chart.money_currency,
            buckets=tuple(buckets),
            pending_buckets=tuple(pending),
            holds=tuple(holds),
        )

    def history(self, customer: str) -> list[PostedTransaction]:
        """Every transaction touching the customer's accounts, oldest (first posted) first, whatever its date."""

        txs = list(self.ledger.transactions(account=f"customers:{customer}:..."))
        if not txs:
            raise UnknownEntity(f"customer {customer} has no transactions in the ledger")
        return txs

    def programme_accounts(self) -> list[AccountState]:
        """Current balances of the programme's and partners' accounts (the other side of every customer)."""

        return [*self.ledger.accounts("program:..."), *self.ledger.accounts("partners:...")]

    # -- internals ----------------------------------------------------------

    def _require_rules(self, what: str) -> Rules:
        if self.rules is None:
            raise InvalidCommand(
                f"{what} needs the earning rules: this programme was set up without a rules file (--rules / LOYALTY_RULES)"
            )
        return self.rules

    def _price(self, rules: Rules, command: EarnCommand) -> tuple[EarnBreakdown, TierStatus]:
        """The order's breakdown and the customer's tier just before it, both at the order's instant."""

        category, channel = rules.order_fields(command.category, command.channel)
        order = Order(
            customer=command.customer,
            order_id=command.order_id,
            amount=command.amount.amount,
            currency=command.amount.currency,
            category=category,
            channel=channel,
            ordered_at=command.ordered_at,
        )
        self.chart.order_currency(order.currency)
        before = tier_for(rules, self.qualifying_points(command.customer, command.ordered_at))
        usage = self._campaign_usage(rules, command.customer, command.ordered_at)
        return quote(rules, order, tier=before.tier, campaign_usage=usage), before

    def _campaign_usage(self, rules: Rules, customer: str, instant: datetime) -> dict[str, int]:
        """Points each campaign with a per-customer cap active at ``instant`` already gave this customer.

        Summed from the charges recorded in the breakdowns of the customer's
        earns placed during those campaigns, whatever order they were posted
        in: a cap is a budget over the campaign's life, so an order arriving
        late must not find it refilled.
        """

        capped = [c for c in rules.campaigns_at(instant) if c.cap_per_customer is not None]
        if not capped:
            return {}
        wanted = {c.id for c in capped}
        usage: dict[str, int] = defaultdict(int)
        earns = self.ledger.transactions(
            metadata={"operation": "earn", "customer": customer},
            start=min(c.start for c in capped),
            end=max(c.end for c in capped),
        )
        for tx in earns:
            if "r_ver" not in tx.metadata:
                continue
            for campaign, charged in EarnBreakdown.from_metadata(tx.metadata).campaign_charges().items():
                if campaign in wanted:
                    usage[campaign] += charged
        return dict(usage)

    def _award_counts(self, command: EngageCommand, rule: EngagementRule) -> tuple[int, int]:
        """(awards today, awards ever) of the command's event to its customer, from the award counters.

        A counter the rule limits but the ledger has never moved is opened
        first (:mod:`~loyalty_accounts.operations.open_counter`): the ledger's
        bound on a counter holds under concurrency only once the counter has a
        balance row. A counter the rules do not keep (no such limit) reads 0.
        """

        asset = self.chart.awards_asset
        day = self.chart.local_date(command.at)
        counts: dict[date | None, int] = {}
        for counter_day, limit in ((day, rule.per_day), (None, rule.per_customer)):
            address = self.chart.engagement_counter(command.customer, command.event, counter_day)
            try:
                volume = self.ledger.account(address).volumes.get(asset)
            except UnknownEntity:
                volume = None
            if volume is None and limit is not None:
                opening = OpenCounterCommand(customer=command.customer, event=command.event, day=counter_day)
                self.ledger.post(open_counter.plan(opening, self.chart, self.catalogue), schema_version=self.schema_version)
            counts[counter_day] = -volume.balance if volume else 0
        # "ever" is at least "today" (a per-day limit alone keeps no "ever" counter).
        return counts[day], max(counts[None], counts[day])

    def _clawback_debt(self, customer: str) -> int:
        """The clawback balance an earn or award repays (negative = debt), read only under claw_back."""

        if self.chart.policies.refund_shortfall != "claw_back":
            return 0
        return self._balance(self.chart.clawback(customer), self.chart.points_asset)

    def _balance(self, address: str, asset: str) -> int:
        """An account's balance; 0 for an account the ledger has never seen (the server answers 404)."""

        try:
            return self.ledger.account(address).balance(asset)
        except UnknownEntity:
            return 0

    def _once(
        self,
        command: Command,
        build: Callable[[], TransactionPlan | None],
        *,
        no_plan_note: str | None = None,
    ) -> OperationResult:
        reference = command.reference()
        fingerprint = command.fingerprint()
        existing = self.ledger.find_by_reference(reference)
        if existing is not None:
            return self._replay(command, reference, fingerprint, existing)
        for attempt in range(1, PLAN_ATTEMPTS + 1):
            # The balances, counters or earlier refunds read for the plan may already
            # include this very command, posted by another caller since the lookup
            # above: a refusal or an empty plan is then its replay, not the answer.
            try:
                plan = build()
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError:
                if (meanwhile := self._posted_meanwhile(command, reference, fingerprint)) is not None:
                    return meanwhile
                raise
            if plan is None:
                if (meanwhile := self._posted_meanwhile(command, reference, fingerprint)) is not None:
                    return meanwhile
                return OperationResult(operation=command.operation, reference=reference, replayed=False, points=0, note=no_plan_note)
            try:
                tx = self.ledger.post(plan, schema_version=self.schema_version)
            except InsufficientPoints:
                # Balances moved between our read and the post and the ledger
                # refused. Funds are checked before the reference, so the mover
                # may be this very command run by another caller: then answer
                # with its transaction. Otherwise read again and re-plan.
                if (meanwhile := self._posted_meanwhile(command, reference, fingerprint)) is not None:
                    return meanwhile
                if attempt == PLAN_ATTEMPTS:
                    raise InsufficientPoints(
                        f"{reference}: concurrent spends took the points planned for it {PLAN_ATTEMPTS} times in a row; "
                        "nothing was posted: run the same command again",
                        code="INSUFFICIENT_FUND",
                    ) from None
                sleep(random.uniform(0, min(0.2, REPLAN_JITTER_S * attempt)))
                continue
            return OperationResult(
                operation=command.operation,
                reference=reference,
                replayed=tx.replayed,
                points=_points_of(tx, self.chart.points_asset),
                transactions=(tx,),
            )
        raise AssertionError("unreachable")

    def _posted_meanwhile(self, command: Command, reference: str, fingerprint: str) -> OperationResult | None:
        """The replay of ``command`` if its reference has been taken since it was first looked up, else None.

        Raises DuplicateOperation when another command took it.
        """

        existing = self.ledger.find_by_reference(reference)
        return None if existing is None else self._replay(command, reference, fingerprint, existing)

    def _replay(self, command: Command, reference: str, fingerprint: str, existing: PostedTransaction) -> OperationResult:
        if existing.metadata.get("command_hash") != fingerprint:
            raise DuplicateOperation(
                f"{reference} was already used for a different {command.operation}; "
                "use a new business key for a new operation"
            )
        return OperationResult(
            operation=command.operation, reference=reference, replayed=True, points=_points_of(existing, self.chart.points_asset), transactions=(existing,)
        )

    def _post_batch(self, operation: str, as_of: datetime, plans: Sequence[TransactionPlan], progress: Progress | None) -> BatchResult:
        results: list[OperationResult] = []
        for start in range(0, len(plans), BATCH):
            chunk = plans[start : start + BATCH]
            for plan, tx in zip(chunk, self.ledger.post_many(chunk, schema_version=self.schema_version)):
                results.append(
                    OperationResult(
                        operation=operation, reference=plan.reference, replayed=tx.replayed, points=_points_of(tx, self.chart.points_asset), transactions=(tx,)
                    )
                )
            if progress:
                progress(len(results), len(plans))
        return _batch(operation, as_of, results)

    def _buckets(self, customer: str, *, spendable_only: bool = True) -> list[BucketBalance]:
        """The customer's buckets with points; the operations decide which are spendable when."""

        out = [
            BucketBalance(expiry=parse_date_segment(values["expiry"]), points=points)
            for values, points in self._holding(f"customers:{customer}:points:", "customer_points")
        ]
        if spendable_only and not out and not self._known(customer):
            raise UnknownEntity(f"customer {customer} has no accounts in the ledger")
        return out

    def _holding(self, address_filter: str, kind: str) -> Iterator[tuple[Mapping[str, str], int]]:
        """(segment values, points) of every account of one chart kind that holds points."""

        for acct in self.ledger.accounts(address_filter):
            parsed = self.chart.parse(acct.address)
            points = acct.balance(self.chart.points_asset)
            if parsed is not None and parsed.kind == kind and points > 0:
                yield parsed.values, points

    def _known(self, customer: str) -> bool:
        return any(True for _ in _first(self.ledger.accounts(f"customers:{customer}:...")))

    def _held(self, hold_tx: PostedTransaction) -> int:
        return sum(
            p.amount
            for p in hold_tx.postings
            if (parsed := self.chart.parse(p.destination)) is not None and parsed.kind == "customer_hold"
        )

    def _hold_transaction(self, customer: str, hold_id: str) -> PostedTransaction:
        tx = self.ledger.find_by_reference(f"hold:{hold_id}")
        if tx is None:
            raise UnknownEntity(f"hold {hold_id} does not exist")
        if tx.metadata.get("customer") != customer:
            raise InvalidCommand(f"hold {hold_id} belongs to another customer, not {customer}")
        return tx


_TICK = timedelta(microseconds=1)


def _tier_change_of(tx: PostedTransaction) -> TierChange | None:
    """The tier change an earn recorded in its metadata, if any."""

    meta = tx.metadata
    direction = meta.get("tier_change")
    if direction not in ("upgrade", "downgrade", "changed") or "r_tier" not in meta or "tier_after" not in meta:
        return None
    return TierChange(before=meta["r_tier"], after=meta["tier_after"], direction=direction)  # type: ignore[arg-type]


def _first(items: Iterable[AccountState]) -> Iterator[AccountState]:
    for item in items:
        yield item
        return


def _points_of(tx: PostedTransaction, asset: str) -> int:
    """Points an operation moved: its own metadata when it says, else its largest points posting."""

    meta = tx.metadata.get("points")
    if meta is not None and meta.isdigit():
        return int(meta)
    return max((p.amount for p in tx.postings if p.asset == asset), default=0)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _batch(operation: str, as_of: datetime, results: Sequence[OperationResult]) -> BatchResult:
    return BatchResult(
        operation=operation,
        as_of=as_of,
        posted=sum(1 for r in results if not r.replayed and r.transactions),
        replayed=sum(1 for r in results if r.replayed),
        points=sum(r.points for r in results if not r.replayed),
        results=tuple(results),
    )


__all__ = [
    "BatchResult",
    "CustomerBalance",
    "EarnExplanation",
    "LoyaltyProgram",
    "OperationResult",
    "TierChange",
]
