#!/usr/bin/env python3
"""Time the finance reports on a real Formance Ledger seeded with N customers and about M transactions.

Not a test: it needs a running server (``--ledger-url``, or
``LOYALTY_LEDGER_URL``) and writes a fresh ledger there (``--ledger``,
default ``bench-<random>``). The history is seeded through the project's bulk
path, ``LedgerPort.post_many``, with plans built by the operations, over the
540 days before ``now`` so that some earn cohorts have fully passed expiry:

1. earns (about 55 % of M) spread over the period, priced by the rules file,
   into pending accounts;
2. a release of every pending account whose release date has come;
3. redemptions (about 20 % of M) spread over the period, each from the
   buckets that had been released by then, soonest-expiring first;
4. an expiry run for every bucket whose date has come, on that date.

Then each report runs once against the ledger and its wall time is printed:
liability now and 90 days ago, the roll-forward over the last 30 and 365
days, breakage, reconciliation and one customer's statement.

Exit codes: 0 done, 1 a report or the seeding failed, 2 bad arguments, 3 the
ledger is unreachable (nothing is written then).

    scripts/bench_reports.py --ledger-url http://127.0.0.1:3068 --customers 1000 --transactions 20000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from loyalty_accounts.chart import Chart, load_chart, parse_date_segment  # noqa: E402
from loyalty_accounts.errors import LedgerUnavailable, LoyaltyError  # noqa: E402
from loyalty_accounts.ledger import LedgerClient, LedgerConnection  # noqa: E402
from loyalty_accounts.numscript import Catalogue  # noqa: E402
from loyalty_accounts.operations import (  # noqa: E402
    BucketBalance,
    DatedBucket,
    EarnCommand,
    ExpireCommand,
    PendingBalance,
    RedeemCommand,
    ReleaseCommand,
    Timeline,
    earn,
    expire,
    redeem,
    release,
)
from loyalty_accounts.operations.fifo import allocate, spendable  # noqa: E402
from loyalty_accounts.ports import LedgerPort  # noqa: E402
from loyalty_accounts.reports import FinanceReports  # noqa: E402
from loyalty_accounts.types import TransactionPlan  # noqa: E402
from loyalty_accounts.vocabulary.amounts import Money  # noqa: E402

HISTORY_DAYS = 540
EARN_SHARE = Decimal("0.55")
REDEEM_SHARE = Decimal("0.20")
BATCH = 1000


@dataclass
class Seeded:
    """What the seeding posted, by operation."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    customers: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _post(
    ledger: LedgerPort, plans: Sequence[TransactionPlan], schema_version: str | None, log: Callable[[str], None]
) -> None:
    for start in range(0, len(plans), BATCH):
        chunk = plans[start : start + BATCH]
        ledger.post_many(chunk, schema_version=schema_version)
        log(f"  posted {min(start + BATCH, len(plans))}/{len(plans)}")


def _midnight(chart: Chart, day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=chart.timezone).astimezone(timezone.utc)


def _buckets(ledger: LedgerPort, chart: Chart) -> dict[str, dict[date | None, int]]:
    """Every customer's bucket balances, as the ledger holds them."""

    out: dict[str, dict[date | None, int]] = defaultdict(dict)
    for account in ledger.accounts("customers::points:"):
        owner, expiry = chart.parse_bucket(account.address)
        out[owner][expiry] = account.balance(chart.points_asset)
    return out


def _released_before(chart: Chart, expiry: date | None, day: date) -> bool:
    """Whether the points of a bucket dated ``expiry`` were spendable by ``day`` (released the day before at the latest)."""

    days = chart.policies.expiry_days
    if expiry is None or days is None:
        return True
    earned = expiry - timedelta(days=days)
    released = chart.release_for(earned) or earned
    return released < day


def seed(
    ledger: LedgerPort,
    chart: Chart,
    catalogue: Catalogue,
    *,
    customers: int,
    transactions: int,
    rng: random.Random,
    now: datetime,
    schema_version: str | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> Seeded:
    """Seed the history described in the module docstring; every plan comes from an operation."""

    from loyalty_accounts.rules import Order, load_rules, quote

    rules = load_rules(chart=chart)
    category, channel = rules.order_fields(None, None)
    seeded = Seeded(customers=[f"b{i:06d}" for i in range(customers)])
    first = now - timedelta(days=HISTORY_DAYS)
    last = now - timedelta(days=1)
    span = (last - first).total_seconds()

    # 1. Earns, oldest first.
    n_earns = max(1, int(transactions * EARN_SHARE))
    instants = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(n_earns))
    plans: list[TransactionPlan] = []
    for i, ordered_at in enumerate(instants):
        ordered_at = ordered_at.replace(microsecond=0)
        customer = rng.choice(seeded.customers)
        amount = Decimal(rng.randint(100, 30000)).scaleb(-2)
        order = Order(
            customer=customer,
            order_id=f"o-{i:08d}",
            amount=amount,
            currency="USD",
            category=category,
            channel=channel,
            ordered_at=ordered_at,
        )
        breakdown = quote(rules, order, tier=rules.base_tier.name, campaign_usage={})
        command = EarnCommand(
            customer=customer, order_id=order.order_id, amount=Money(amount=amount, currency="USD"), ordered_at=ordered_at
        )
        plan = earn.plan(command, chart, catalogue, breakdown=breakdown)
        if plan is not None:
            plans.append(plan)
    log(f"earn: {len(plans)} transactions")
    _post(ledger, plans, schema_version, log)
    seeded.counts["earn"] = len(plans)

    # 2. Release every pending account whose date has come, on that date.
    today = chart.local_date(now)
    plans = []
    for account in ledger.accounts("customers::pending::"):
        parsed = chart.parse(account.address)
        points = account.balance(chart.points_asset)
        if parsed is None or points <= 0:
            continue
        release_on = parse_date_segment(parsed.values["release"])
        if release_on is None or release_on > today:
            continue
        as_of = min(_midnight(chart, release_on) + timedelta(hours=2), now)
        # The bench refunds nothing: a pending account keeps all it holds from its release run on.
        holds = Timeline(since=as_of, current=points)
        pending = PendingBalance(release=release_on, expiry=parse_date_segment(parsed.values["expiry"]), timeline=holds)
        plans.extend(release.plan(ReleaseCommand(customer=parsed.values["customer"], as_of=as_of), chart, catalogue, [pending]))
    log(f"release: {len(plans)} transactions")
    _post(ledger, plans, schema_version, log)
    seeded.counts["release"] = len(plans)

    buckets = _buckets(ledger, chart)

    # 3. Redemptions spread over the period, oldest first, each from the buckets that existed then
    #    (released before that day, not yet due), less what earlier redemptions took.
    n_redeems = int(transactions * REDEEM_SHARE)
    when = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(n_redeems))
    plans = []
    holders = sorted(buckets)
    for i, at in enumerate(when):
        if not holders:
            break
        at = at.replace(microsecond=0)
        day = chart.local_date(at)
        customer = rng.choice(holders)
        balances = [
            BucketBalance(expiry=e, points=max(0, p)) for e, p in buckets[customer].items() if _released_before(chart, e, day)
        ]
        available = sum(b.points for b in spendable(balances, day))
        if available <= 0:
            continue
        points = rng.randint(1, available)
        for taken in allocate(spendable(balances, day), points, customer=customer):
            buckets[customer][taken.expiry] -= taken.points
        command = RedeemCommand(customer=customer, redemption_id=f"r-{i:08d}", points=points, at=at)
        plans.append(redeem.plan(command, chart, catalogue, balances))
    log(f"redeem: {len(plans)} transactions")
    _post(ledger, plans, schema_version, log)
    seeded.counts["redeem"] = len(plans)

    # 4. Expiry runs: each due bucket on its own date, from the balances the ledger now holds.
    buckets = _buckets(ledger, chart)
    plans = []
    for customer in sorted(buckets):
        for expiry, points in sorted(buckets[customer].items(), key=lambda item: (item[0] is None, item[0] or date.max)):
            if expiry is None or expiry > today or points <= 0:
                continue
            as_of = min(_midnight(chart, expiry) + timedelta(hours=3), now)
            bucket = [DatedBucket(expiry=expiry, timeline=Timeline(since=as_of, current=points))]
            plans.extend(expire.plan(ExpireCommand(customer=customer, as_of=as_of), chart, catalogue, bucket))
    log(f"expire: {len(plans)} transactions")
    _post(ledger, plans, schema_version, log)
    seeded.counts["expire"] = len(plans)
    return seeded


def run_reports(service: FinanceReports, now: datetime, customer: str) -> list[tuple[str, float, str]]:
    """Each report once: (name, seconds, one-line result)."""

    def timed(name: str, action: Callable[[], str]) -> tuple[str, float, str]:
        started = time.perf_counter()
        summary = action()
        return name, time.perf_counter() - started, summary

    def liability(as_of: datetime | None) -> str:
        report = service.liability(as_of)
        return f"{report.total_points} points = {report.total_value} {report.currency}, ties={report.ties}"

    def activity(days: int) -> str:
        report = service.activity(now - timedelta(days=days), now)
        return f"closing {report.closing_points}, ties={report.ties}, difference {report.difference}"

    def breakage() -> str:
        report = service.breakage(None, now)
        estimate = f"{report.estimated_points} points at rate {report.rate}" if report.rate is not None else "no estimate"
        return f"realised {report.realised_points} points; {estimate}"

    def reconcile() -> str:
        result = service.reconcile(now)
        return ", ".join(f"{c.name}={c.status}" for c in result.checks)

    def statement() -> str:
        report = service.statement(customer, None, now)
        return f"{len(report.lines)} movements, closing {report.closing_points}"

    return [
        timed("liability (now)", lambda: liability(now)),
        timed("liability (90 days ago)", lambda: liability(now - timedelta(days=90))),
        timed("activity (30 days)", lambda: activity(30)),
        timed("activity (365 days)", lambda: activity(365)),
        timed("breakage", breakage),
        timed("reconcile", reconcile),
        timed(f"statement ({customer})", statement),
    ]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger-url", default=os.environ.get("LOYALTY_LEDGER_URL"), help="Formance Ledger base URL (required; or LOYALTY_LEDGER_URL).")
    parser.add_argument("--ledger", default=f"bench-{uuid.uuid4().hex[:8]}", help="Ledger to create and seed (default: a fresh bench-<random>).")
    parser.add_argument("--customers", type=int, default=1000, help="Number of customers (N).")
    parser.add_argument("--transactions", type=int, default=10000, help="Approximate number of transactions to seed (M).")
    parser.add_argument("--seed", type=int, default=1, help="Random seed (the same seed seeds the same history).")
    parser.add_argument("--chart", type=Path, default=None, help="chart_of_accounts.yaml (default: the repository's).")
    parser.add_argument("--attempts", type=int, default=3, help="Attempts per request before the ledger counts as unreachable.")
    args = parser.parse_args(argv)
    if not args.ledger_url:
        parser.error("--ledger-url (or LOYALTY_LEDGER_URL) is required: this benchmark needs a running ledger")
    if args.customers < 1 or args.transactions < 1 or args.attempts < 1:
        parser.error("--customers, --transactions and --attempts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        connection = LedgerConnection(url=args.ledger_url, ledger=args.ledger, max_attempts=args.attempts)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        chart = load_chart(args.chart)
        catalogue = Catalogue(ROOT / "numscript")
    except LoyaltyError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    with LedgerClient(connection) as client:
        try:
            version = client.server_version()
        except LedgerUnavailable as exc:
            print(f"error: the ledger at {args.ledger_url} is unreachable, nothing was written: {exc.message}", file=sys.stderr)
            return 3
        now = datetime.now(timezone.utc).replace(microsecond=0)
        try:
            log(f"Formance Ledger {version} at {args.ledger_url}; seeding ledger {args.ledger!r}")
            client.create_ledger()
            client.insert_schema(chart.schema_version(), chart.to_formance_schema())
            started = time.perf_counter()
            seeded = seed(
                client,
                chart,
                catalogue,
                customers=args.customers,
                transactions=args.transactions,
                rng=random.Random(args.seed),
                now=now,
                schema_version=chart.schema_version(),
                log=log,
            )
            seconds = time.perf_counter() - started
            counts = ", ".join(f"{op} {n}" for op, n in seeded.counts.items())
            print(f"seeded {seeded.total} transactions for {args.customers} customers in {seconds:.1f} s ({counts})")
            results = run_reports(FinanceReports(client, chart), now, seeded.customers[0])
        except LedgerUnavailable as exc:
            print(f"error: the ledger at {args.ledger_url} became unreachable: {exc.message}", file=sys.stderr)
            return 3
        except LoyaltyError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
    width = max(len(name) for name, _, _ in results)
    print(f"{'report'.ljust(width)}  seconds  result")
    for name, seconds, summary in results:
        print(f"{name.ljust(width)}  {seconds:7.3f}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
