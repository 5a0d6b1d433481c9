"""A scripted programme history for the finance-report tests, on any ledger port.

``Books`` makes the reads a service would make to plan each operation and
posts the operations' own plans, so the same story runs on the in-memory
ledger (tests/unit/reports/) and on the real server
(tests/integration/test_reports.py). Earns are priced at one point per
dollar so the expected figures can be worked out by hand.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import (
    BucketBalance,
    CaptureCommand,
    EarnCommand,
    ExpireCommand,
    HoldCommand,
    Reading,
    RedeemCommand,
    RefundCommand,
    ReleaseCommand,
    capture,
    earn,
    expire,
    hold,
    redeem,
    refund,
    release,
)
from loyalty_accounts.ports import LedgerPort
from loyalty_accounts.rules import EarnBreakdown
from loyalty_accounts.types import PostedTransaction, TransactionPlan
from loyalty_accounts.vocabulary.amounts import Money

UTC = timezone.utc

# A posting made outside the operations (what a manual fix by another client looks like).
MOVE = """vars {
  monetary $amount
  account $from
  account $to
}
send $amount (
  source = $from allowing unbounded overdraft
  destination = $to
)
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def priced(amount: str) -> EarnBreakdown:
    """A USD order at 1 point per dollar, floored, with no category, tier or campaign effect."""

    value = Decimal(amount)
    return EarnBreakdown(
        rules_version="test-1",
        amount=value,
        currency="USD",
        category="general",
        channel="store",
        tier="member",
        rate=Decimal(1),
        category_multiplier=Decimal(1),
        tier_multiplier=Decimal(1),
        rounding="floor",
        points=int(value),
    )


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


@dataclass
class Books:
    ledger: LedgerPort
    chart: Chart
    catalogue: Catalogue
    schema_version: str | None = None

    def post(self, plan: TransactionPlan | None) -> PostedTransaction:
        assert plan is not None
        return self.ledger.post(plan, schema_version=self.schema_version)

    def reading(self) -> Reading:
        """The operations' own reads over these books (no rules: earns are priced here)."""

        return Reading(self.ledger, self.chart)

    def buckets(self, customer: str, when: str) -> list[BucketBalance]:
        """What each of the customer's buckets can give at ``when``, as a service would read it."""

        return self.reading().at(at(when)).buckets(customer, spendable_only=False)

    def earn(self, customer: str, order: str, amount: str, when: str) -> PostedTransaction:
        clawback = self.ledger.aggregate_balances(self.chart.clawback(customer)).get("PTS", 0)
        command = EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at(when))
        return self.post(earn.plan(command, self.chart, self.catalogue, breakdown=priced(amount), clawback_balance=clawback))

    def release(self, customer: str, when: str) -> None:
        command = ReleaseCommand(customer=customer, as_of=at(when))
        for plan in release.plan(command, self.chart, self.catalogue, release.read(self.reading(), customer).get(customer, [])):
            self.post(plan)

    def redeem(self, customer: str, rid: str, points: int, when: str) -> PostedTransaction:
        command = RedeemCommand(customer=customer, redemption_id=rid, points=points, at=at(when))
        return self.post(redeem.plan(command, self.chart, self.catalogue, self.buckets(customer, when)))

    def expire(self, customer: str, when: str) -> None:
        command = ExpireCommand(customer=customer, as_of=at(when))
        for plan in expire.plan(command, self.chart, self.catalogue, expire.read(self.reading(), customer).get(customer, [])):
            self.post(plan)

    def hold(self, customer: str, hid: str, points: int, when: str) -> PostedTransaction:
        command = HoldCommand(customer=customer, hold_id=hid, points=points, at=at(when))
        return self.post(hold.plan(command, self.chart, self.catalogue, self.buckets(customer, when)))

    def capture(self, held: PostedTransaction, points: int, when: str) -> PostedTransaction:
        meta = held.metadata
        command = CaptureCommand(customer=meta["customer"], hold_id=meta["hold_id"], points=points, at=at(when))
        expires = datetime.fromisoformat(meta["expires_at"].replace("Z", "+00:00"))
        return self.post(capture.plan(command, self.chart, self.catalogue, held.postings, hold_expires_at=expires))

    def void(self, held: PostedTransaction) -> PostedTransaction:
        """A void as the programme makes it: a revert of the hold, labelled."""

        meta = {"operation": "void", "customer": held.metadata["customer"], "hold_id": held.metadata["hold_id"]}
        return self.ledger.revert(held.id, metadata=meta, schema_version=self.schema_version)

    def refund(self, customer: str, order: str, rid: str, amount: str, when: str) -> PostedTransaction:
        command = RefundCommand(customer=customer, order_id=order, refund_id=rid, amount=usd(amount), at=at(when))
        return self.post(refund.OPERATION.plan(command, self.chart, self.catalogue, refund.read(command, self.reading())))

    def manual(self, source: str, destination: str, points: int, when: str, *, reference: str = "manual-1") -> PostedTransaction:
        plan = TransactionPlan(
            operation="manual",
            template="none",
            script=MOVE,
            vars={"amount": f"PTS {points}", "from": source, "to": destination},
            reference=reference,
            command_hash="manual",
            timestamp=at(when),
        )
        return self.post(plan)


def history_to_first_hold(b: Books) -> dict[str, PostedTransaction]:
    """The story both suites share, up to c1's hold h-1 (60 points, lapsing 10:30)."""

    b.earn("c1", "o-1", "100.00", "2025-01-10T12:00:00")
    b.earn("c2", "o-2", "50.00", "2025-01-20T09:00:00")
    b.release("c1", "2025-01-25T02:00:00")
    b.redeem("c1", "r-1", 30, "2025-02-01T10:00:00")
    b.release("c2", "2025-02-04T02:00:00")
    b.expire("c1", "2026-01-21T03:00:00")
    b.expire("c2", "2026-01-21T03:00:00")
    b.earn("c4", "o-6", "30.00", "2026-02-01T10:00:00")
    b.release("c4", "2026-02-16T02:00:00")
    b.redeem("c4", "r-2", 30, "2026-02-20T10:00:00")
    o3 = b.earn("c1", "o-3", "200.00", "2026-03-01T10:00:00")
    b.refund("c4", "o-6", "rf-1", "30.00", "2026-03-02T10:00:00")
    b.release("c1", "2026-03-16T02:00:00")
    h1 = b.hold("c1", "h-1", 60, "2026-03-20T10:00:00")
    return {"o-3": o3, "h-1": h1}


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def server_books(url: str, ledger_name: str) -> Iterator[Books]:
    """Books on a new ledger of a real server, with the repository's chart applied as its schema."""

    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    with LedgerClient(LedgerConnection(url=url, ledger=ledger_name)) as client:
        assert client.create_ledger() is True
        client.insert_schema(chart.schema_version(), chart.to_formance_schema())
        yield Books(client, chart, Catalogue(ROOT / "numscript"), chart.schema_version())
