"""Reconcile's log-chain check on the real server: a second run reads only the logs written since the first.

The ledger is created in a bucket of its own (v2.4.12 gives every ledger of a
bucket triggers on the shared tables, so 1,000 posts into the crowded default
bucket would take far longer) and seeded with earns planned by the operation.
Logs read are counted at the adapter (every log the listing yields) and the
log listing requests at the HTTP transport.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.ledger.log_chain import CHECKPOINT_KEY, LogCheckpoint, checkpoint_from_metadata, checkpoint_metadata
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import EarnCommand, earn
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.rules import Order, load_rules, quote
from loyalty_accounts.types import TransactionPlan
from loyalty_accounts.vocabulary.amounts import Money

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class Counting(httpx.BaseTransport):
    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.requests: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests[f"{request.method} {request.url.path.rsplit('/', 1)[-1]}"] += 1
        return self._inner.handle_request(request)


class CountingClient(LedgerClient):
    logs_read = 0

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        for log in super().logs(from_id=from_id):
            self.logs_read += 1
            yield log


def _own_bucket(url: str, ledger: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(6):
            response = http.post(f"/v2/{ledger}", json={"bucket": ledger})
            if response.status_code < 300:
                return
            assert response.status_code == 500, response.text  # v2.4.12's bucket-migration race: retry
            time.sleep(6)
    pytest.fail(f"could not create ledger {ledger} in its own bucket")


def _earns(chart: Chart, n: int, tag: str, start: datetime) -> list[TransactionPlan]:
    rules = load_rules(ROOT / "rules.yaml", chart=chart)
    catalogue = Catalogue(ROOT / "numscript")
    category, channel = rules.order_fields(None, None)
    plans = []
    for i in range(n):
        at = start + timedelta(seconds=i)
        customer = f"c{i % 50}"
        order = Order(customer=customer, order_id=f"{tag}-{i}", amount=Decimal("12.50"), currency="USD",
                      category=category, channel=channel, ordered_at=at)
        breakdown = quote(rules, order, tier=rules.base_tier.name, campaign_usage={})
        command = EarnCommand(customer=customer, order_id=order.order_id, amount=Money(amount=Decimal("12.50"), currency="USD"), ordered_at=at)
        plan = earn.plan(command, chart, catalogue, breakdown=breakdown)
        assert plan is not None
        plans.append(plan)
    return plans


def test_a_second_reconcile_after_1000_transactions_reads_only_those(ledger_url: str) -> None:
    ledger = f"inc{uuid.uuid4().hex[:10]}"
    _own_bucket(ledger_url, ledger)
    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    counting = Counting()
    with CountingClient(LedgerConnection(url=ledger_url, ledger=ledger), transport=counting) as client:
        version = chart.schema_version()
        client.insert_schema(version, chart.to_formance_schema())
        now = datetime.now(timezone.utc).replace(microsecond=0)
        client.post_many(_earns(chart, 30, "a", now - timedelta(days=3)), schema_version=version)
        service = FinanceReports(client, chart, clock=lambda: datetime.now(timezone.utc))

        first = service.reconcile().check("log_chain")
        assert first.status == "pass" and first.detail.startswith("31 log(s) read"), first  # the schema's log and 30 earns
        assert "no checkpoint yet: every log read" in first.info
        checkpoint = checkpoint_from_metadata(client.ledger_metadata())
        assert checkpoint is not None and checkpoint.hash == list(client.logs(from_id=checkpoint.log_id))[0]["hash"]

        client.post_many(_earns(chart, 1000, "b", now - timedelta(days=2)), schema_version=version)
        client.logs_read = 0
        counting.requests.clear()
        second = service.reconcile().check("log_chain")
        assert second.status == "pass", second
        assert client.logs_read == 1000 + 2  # the checkpoint's anchor and log, then the 1,000 new ones
        assert second.detail.startswith("1002 log(s) read") and f"resumed at the checkpoint (log {checkpoint.log_id})" in second.detail
        # 1,002 logs: 11 pages of 100 on a server with the default page size, fewer where it allows more
        assert 1 <= counting.requests["GET logs"] <= 11
        moved = checkpoint_from_metadata(client.ledger_metadata())
        assert moved is not None and moved.log_id > checkpoint.log_id and moved.previous_id is not None

        client.logs_read = 0
        assert service.reconcile().check("log_chain").status == "pass" and client.logs_read == 2

        # A checkpoint the log disagrees with fails; a full check then replaces it.
        forged = LogCheckpoint(log_id=moved.log_id, hash=checkpoint.hash, previous_id=moved.previous_id)
        client.set_ledger_metadata(checkpoint_metadata(forged))
        broken = service.reconcile().check("log_chain")
        assert broken.status == "fail" and "the log disagrees with the checkpoint" in broken.offending[0]
        client.logs_read = 0
        full = service.reconcile(full_log_check=True).check("log_chain")
        assert full.status == "pass" and client.logs_read == 1031 and full.detail.startswith("1031 log(s) read")
        assert client.ledger_metadata()[CHECKPOINT_KEY] == checkpoint_metadata(moved)[CHECKPOINT_KEY]


def test_liability_read_the_quick_way_is_the_statement_read_at_pit_from_every_account(client: LedgerClient) -> None:
    from loyalty_accounts.reports.liability import liability_of

    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    client.create_ledger()
    version = chart.schema_version()
    client.insert_schema(version, chart.to_formance_schema())
    now = datetime.now(timezone.utc).replace(microsecond=0)
    client.post_many(_earns(chart, 12, "q", now - timedelta(days=400)), schema_version=version)
    service = FinanceReports(client, chart, clock=lambda: now)

    def as_before(pit: datetime) -> Any:
        return liability_of(client, chart, pit, list(client.accounts(chart.customer_filter(), pit=pit)))

    quick = service.liability()
    assert quick == as_before(now) and quick.ties and quick.total_points > 0
    client.post_many(_earns(chart, 3, "later", now + timedelta(hours=1)), schema_version=version)  # dated after now
    after = service.liability()
    assert after == as_before(now) and after.total_points == quick.total_points
    past = now - timedelta(days=400) + timedelta(seconds=5)  # six of the twelve earns
    assert service.liability(past) == as_before(past) and service.liability(past).total_points < quick.total_points
