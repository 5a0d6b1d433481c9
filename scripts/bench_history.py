#!/usr/bin/env python3
"""Liability and reconcile on a large history: one earn per customer, seeded by raw bulk posts.

Not a test: it needs a running server (``--ledger-url`` or
``LOYALTY_LEDGER_URL``). Unless ``--ledger`` names a ledger it seeded before
(``--reuse``), it creates a fresh ledger in a bucket of its own (other
ledgers' triggers would otherwise slow every insert) and posts ``--customers``
earns, one per customer, dated over the 540 days before now in ascending
order, each planned by the earn operation and sent as raw ``/_bulk`` chunks of
100 (no reference look-up: every reference is new). Each customer then holds
one pending or spendable account, so the ledger has about that many customer
accounts and logs.

Then it times, printing wall seconds and HTTP requests per step:

- liability now and 90 days ago (``--as-before``: each also read as it was
  before issue 11, every customer account at pit, just before it);
- ``--chain-only``: the log-chain check alone, full then incremental;

``--wide`` seeds a faster shape for 10^5 accounts (see :func:`post_wide`):
earns go at 20-70 a second on a loaded machine, 100-posting transactions at
about 100 accounts a second, metadata logs at about 200 a second.
- reconcile now, three times: a first run (a full log-chain check, which
  writes the checkpoint), a second with nothing new, and one more after
  ``--more`` new earns (only those logs read); ``--full`` runs one full check
  at the end for comparison.

    scripts/bench_history.py --customers 100000
    scripts/bench_history.py --ledger hist-ab12cd34 --reuse
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from loyalty_accounts.chart import Chart, load_chart  # noqa: E402
from loyalty_accounts.ledger import LedgerClient, LedgerConnection, wire  # noqa: E402
from loyalty_accounts.numscript import Catalogue  # noqa: E402
from loyalty_accounts.operations import EarnCommand, earn  # noqa: E402
from loyalty_accounts.reports import FinanceReports  # noqa: E402
from loyalty_accounts.reports.liability import liability_of  # noqa: E402
from loyalty_accounts.reports.log_chain import read_log_chain  # noqa: E402
from loyalty_accounts.rules import Order, Rules, load_rules, quote  # noqa: E402
from loyalty_accounts.types import TransactionPlan  # noqa: E402
from loyalty_accounts.vocabulary.amounts import Money  # noqa: E402

HISTORY_DAYS = 540
CHUNK = 100


class CountingTransport(httpx.BaseTransport):
    """An HTTP transport that counts the requests it sends, by method and first path segment after the ledger."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.counts: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        self.counts[f"{request.method} {parts[2] if len(parts) > 2 else parts[-1]}"] += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def create_in_own_bucket(http: httpx.Client, ledger: str, log: Callable[[str], None]) -> None:
    """Create ``ledger`` in a bucket named after it; retries the v2.4.12 bucket-migration race (500)."""

    for attempt in range(5):
        response = http.post(f"/v2/{ledger}", json={"bucket": ledger.replace("-", "_")})
        if response.status_code < 300:
            return
        if response.status_code == 500 and attempt < 4:
            log(f"  bucket creation answered 500, retrying in 6 s: {response.text[:120]}")
            time.sleep(6)
            continue
        raise RuntimeError(f"cannot create ledger {ledger}: {response.status_code} {response.text[:300]}")


def earn_plans(
    chart: Chart, catalogue: Catalogue, rules: Rules, customers: Sequence[str], *, first: datetime, last: datetime, tag: str, rng: random.Random
) -> list[TransactionPlan]:
    """One earn per customer, dated between ``first`` and ``last`` in ascending order."""

    category, channel = rules.order_fields(None, None)
    span = (last - first).total_seconds()
    instants = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in customers)
    plans: list[TransactionPlan] = []
    for i, (customer, at) in enumerate(zip(customers, instants)):
        at = at.replace(microsecond=0)
        amount = Decimal(rng.randint(100, 30000)).scaleb(-2)
        order = Order(
            customer=customer, order_id=f"{tag}-{i:08d}", amount=amount, currency="USD", category=category, channel=channel, ordered_at=at
        )
        breakdown = quote(rules, order, tier=rules.base_tier.name, campaign_usage={})
        command = EarnCommand(customer=customer, order_id=order.order_id, amount=Money(amount=amount, currency="USD"), ordered_at=at)
        plan = earn.plan(command, chart, catalogue, breakdown=breakdown)
        if plan is not None:
            plans.append(plan)
    return plans


def post_raw(http: httpx.Client, ledger: str, plans: Sequence[TransactionPlan], schema_version: str, log: Callable[[str], None]) -> None:
    """Post ``plans`` through ``/_bulk`` in chunks of 100, one after the other; any refused element is an error."""

    started = time.perf_counter()
    for start in range(0, len(plans), CHUNK):
        elements = [
            {"action": "CREATE_TRANSACTION", "ik": plan.reference, "data": wire.post_body(plan).model_dump(mode="json", by_alias=True, exclude_none=True)}
            for plan in plans[start : start + CHUNK]
        ]
        _bulk(http, ledger, elements, schema_version)
        done = min(start + CHUNK, len(plans))
        if done % 5000 < CHUNK or done == len(plans):
            rate = done / (time.perf_counter() - started)
            log(f"  posted {done}/{len(plans)} ({rate:.0f}/s)")


def post_wide(http: httpx.Client, ledger: str, customers: int, extra_logs: int, schema_version: str, now: datetime, log: Callable[[str], None]) -> None:
    """The fast shape for 10^5 accounts: transactions of 100 plain postings, one points account each, then
    ``extra_logs`` metadata logs on them (each a log, no move). Neither is an operation of the programme:
    reconcile's transaction_metadata check fails on them; liability and the log chain are what it is for."""

    started, first = time.perf_counter(), now - timedelta(days=HISTORY_DAYS)
    batches = (customers + CHUNK - 1) // CHUNK
    for k in range(batches):
        postings = [
            {"source": f"program:points:issued:{i % 8}", "destination": f"customers:w{k * CHUNK + i:07d}:points:noexpiry", "amount": 100 + i, "asset": "PTS"}
            for i in range(min(CHUNK, customers - k * CHUNK))
        ]
        at = (first + timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ")  # ascending: nothing back-dated
        _bulk(http, ledger, [{"action": "CREATE_TRANSACTION", "data": {"postings": postings, "force": True, "timestamp": at}}], schema_version)
        if (k + 1) % 50 == 0 or k + 1 == batches:
            log(f"  wide: {(k + 1) * CHUNK} accounts ({(k + 1) * CHUNK / (time.perf_counter() - started):.0f}/s)")
    for start in range(0, extra_logs, CHUNK):
        _bulk(http, ledger, [
            {"action": "ADD_METADATA", "data": {"targetType": "TRANSACTION", "targetId": 1 + (start + i) % batches, "metadata": {"n": str(start + i)}}}
            for i in range(min(CHUNK, extra_logs - start))
        ], schema_version)
        if (start // CHUNK + 1) % 100 == 0:
            log(f"  metadata logs: {start + CHUNK}")


def _bulk(http: httpx.Client, ledger: str, elements: list[dict[str, Any]], schema_version: str) -> None:
    response = http.post(f"/v2/{ledger}/_bulk", params={"schemaVersion": schema_version}, json=elements, timeout=120)
    failed = [item for item in response.json().get("data", []) if item.get("responseType") == "ERROR"]
    if response.status_code >= 300 or failed:
        raise RuntimeError(f"bulk refused: {response.status_code} {json.dumps(failed)[:400]}")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger-url", default=os.environ.get("LOYALTY_LEDGER_URL"))
    parser.add_argument("--ledger", default=f"hist-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--reuse", action="store_true", help="The ledger was seeded before: seed nothing.")
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--wide", action="store_true", help="Seed the fast shape instead of earns: 100 plain postings a transaction (see post_wide).")
    parser.add_argument("--extra-logs", type=int, default=0, help="With --wide: metadata logs added after the transactions.")
    parser.add_argument("--more", type=int, default=1000, help="New earns posted before the third reconcile.")
    parser.add_argument("--full", action="store_true", help="Also time one reconcile with a forced full log-chain check.")
    parser.add_argument("--seed-only", action="store_true", help="Seed and stop.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-before", action="store_true", help="Also time liability read as before issue 11 (every account at pit).")
    parser.add_argument("--chain-only", action="store_true", help="Also time the log-chain check alone, full then incremental.")
    parser.add_argument("--no-reconcile", action="store_true", help="Stop after the liability (and log-chain) steps.")
    parser.add_argument("--no-liability", action="store_true", help="Skip the liability steps.")
    args = parser.parse_args(argv)
    if not args.ledger_url:
        parser.error("--ledger-url (or LOYALTY_LEDGER_URL) is required")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    chart = load_chart(None)
    catalogue = Catalogue(ROOT / "numscript")
    rules = load_rules(chart=chart)
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    counter = CountingTransport()
    connection = LedgerConnection(url=args.ledger_url, ledger=args.ledger)
    with httpx.Client(base_url=args.ledger_url, timeout=60) as http, LedgerClient(connection, transport=counter) as client:
        version = chart.schema_version()
        if not args.reuse:
            log(f"creating ledger {args.ledger!r} in its own bucket; seeding {args.customers} {'accounts' if args.wide else 'earns'}")
            create_in_own_bucket(http, args.ledger, log)
            client.insert_schema(version, chart.to_formance_schema())
            if args.wide:
                started = time.perf_counter()
                post_wide(http, args.ledger, args.customers, args.extra_logs, version, now, log)
                print(f"seeded {args.customers} accounts and {args.extra_logs} metadata logs in {time.perf_counter() - started:.1f} s")
        if not args.reuse and not args.wide:
            customers = [f"h{i:07d}" for i in range(args.customers)]
            plans = earn_plans(chart, catalogue, rules, customers, first=now - timedelta(days=HISTORY_DAYS), last=now - timedelta(days=1), tag="o", rng=rng)
            started = time.perf_counter()
            post_raw(http, args.ledger, plans, version, log)
            print(f"seeded {len(plans)} earns in {time.perf_counter() - started:.1f} s")
        if args.seed_only:
            return 0
        service = FinanceReports(client, chart)
        rows: list[tuple[str, float, int, str]] = []

        def timed(name: str, action: Callable[[], str]) -> None:
            counter.counts.clear()
            started = time.perf_counter()
            summary = action()
            seconds = time.perf_counter() - started
            requests = sum(counter.counts.values())
            rows.append((name, seconds, requests, summary))
            log(f"{name}: {seconds:.3f} s, {requests} requests ({dict(counter.counts)}) {summary}")

        def liability(as_of: datetime | None) -> str:
            report = service.liability(as_of)
            return f"{report.total_points} points, ties={report.ties}"

        def liability_as_before(as_of: datetime | None) -> str:
            """The statement read as it was before issue 11: aggregates and every customer account at pit."""
            pit = as_of or datetime.now(timezone.utc)
            report = liability_of(client, chart, pit, list(client.accounts(chart.customer_filter(), pit=pit)))
            return f"{report.total_points} points, ties={report.ties}"

        def log_chain(full: bool) -> str:
            check = read_log_chain(client, full=full)
            return f"{check.status}: {check.detail[:60]}"

        def reconcile(full: bool = False) -> str:
            result = service.reconcile(None, full_log_check=full) if full else service.reconcile(None)
            chain = result.check("log_chain")
            bad = [c.name for c in result.checks if c.status != "pass"]
            return f"log_chain={chain.status} ({chain.detail[:90]}); not pass: {bad}"

        past = now - timedelta(days=90)
        if not args.no_liability:
            if args.as_before:
                timed("liability (now), as before", lambda: liability_as_before(None))
            timed("liability (now)", lambda: liability(None))
            if args.as_before:
                timed("liability (90 days ago), as before", lambda: liability_as_before(past))
            timed("liability (90 days ago)", lambda: liability(past))
        if args.chain_only:
            timed("log chain only (--full)", lambda: log_chain(True))
            timed("log chain only (incremental)", lambda: log_chain(False))
        if args.no_reconcile:
            return _print(args.ledger, rows)
        timed("reconcile (1st)", reconcile)
        timed("reconcile (2nd, nothing new)", reconcile)
        extra = [f"n{i:07d}" for i in range(args.more)]
        tag = f"m{uuid.uuid4().hex[:6]}"
        post_raw(http, args.ledger, earn_plans(chart, catalogue, rules, extra, first=now - timedelta(hours=1), last=now, tag=tag, rng=rng), version, log)
        timed(f"reconcile (3rd, {args.more} new)", reconcile)
        if args.full:
            timed("reconcile (--full)", lambda: reconcile(True))
    return _print(args.ledger, rows)


def _print(ledger: str, rows: Sequence[tuple[str, float, int, str]]) -> int:
    width = max(len(r[0]) for r in rows)
    print(f"ledger {ledger}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'step'.ljust(width)}  seconds  requests  result")
    for name, seconds, requests, summary in rows:
        print(f"{name.ljust(width)}  {seconds:7.3f}  {requests:8d}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
