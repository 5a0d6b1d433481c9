"""Issue 15 on the real server: a day at a shop through the HTTP API and through the CLI, a write retried
after its answer was lost, and the server as an operator runs it.

- The same scripted day (quote, earn at the till, hold at checkout, partial capture, a void, a redemption,
  a partial refund, a partner exchange out and in, a transfer, a release sweep, the finance reports), every
  instant written out, runs on two fresh ledgers: once as HTTP requests (each with the scope a till, a
  checkout, the partner or finance would hold), once as ``loyalty`` commands. The two ledgers hold the
  same transactions, in the same order, with the same references, postings and metadata (the few dated
  by the ledger when posted, a void and the counters opened for a new customer, differ only in that
  date and the horizon counter that records it); each API answer is what the command printed; the
  reports say the same.
- A loopback proxy drops the answer to an earn after the API processed it; the retry with the same
  Idempotency-Key gets the original answer (201, same body) marked ``Idempotent-Replayed``, and the ledger
  holds one transaction; a retry under a new key gets the ledger's replay (200), still one transaction.
- ``loyalty serve`` as its own process: health, the OpenAPI document, the body limit, JSON request logs
  without personal data, a prompt exit 0 on SIGTERM, and ``loyalty key create|list|revoke``; with the
  ledger slowed by a loopback proxy, SIGTERM during a write lets it finish and answer.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import psycopg
import pytest
from support.api_server import running_api
from typer.testing import CliRunner

from loyalty_accounts.api.writes import WRITES
from loyalty_accounts.chart import load_chart
from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.settings import load_settings
from loyalty_accounts.testing.proxy import FaultProxy
from loyalty_accounts.types import PostedTransaction

pytestmark = pytest.mark.integration

_TODAY = datetime.now(timezone.utc).date()
DAY = (_TODAY - timedelta(days=20)).isoformat()
"""The day at the shop: weeks ago, so that every instant of it is in the past and none of its points expires yet."""
EARLIER = (_TODAY - timedelta(days=34)).isoformat()
"""The orders placed a fortnight before the day: released on the day (the chart's 14 days pending)."""
LATER = (_TODAY - timedelta(days=6)).isoformat()
"""A fortnight after the day: its points are released."""


def at(day: str, clock: str) -> str:
    return f"{day}T{clock}:00Z"


@dataclass(frozen=True)
class Step:
    """One thing that happens in the day: a write (``path`` under the programme, its JSON body), said once
    for both ways of doing it; ``cli`` is the same as ``loyalty`` arguments."""

    path: str
    scope: str
    body: dict[str, Any]
    cli: list[str] = field(default_factory=list)
    posts: bool = True
    """False for the quote, which only prices."""


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def earn(customer: str, order: str, amount: str, when: str, category: str | None = None) -> Step:
    body = {"customer": customer, "order_id": order, "amount": _money(amount), "ordered_at": when}
    cli = ["earn", "--customer", customer, "--order", order, "--amount", amount, "--ordered-at", when]
    if category is not None:
        body["category"] = category
        cli += ["--category", category]
    return Step("/earn", "pos:earn", body, cli)


def release(as_of: str) -> Step:
    return Step("/releases", "admin", {"as_of": as_of}, ["release", "--as-of", as_of])


def hold(customer: str, hold_id: str, points: int, when: str) -> Step:
    body = {"customer": customer, "hold_id": hold_id, "points": points, "at": when}
    return Step("/holds", "checkout:spend", body, ["hold", "--customer", customer, "--hold", hold_id, "--points", str(points), "--at", when])


def capture(customer: str, hold_id: str, points: int, when: str) -> Step:
    body = {"customer": customer, "hold_id": hold_id, "points": points, "at": when}
    return Step("/captures", "checkout:spend", body, ["capture", "--customer", customer, "--hold", hold_id, "--points", str(points), "--at", when])


def void(customer: str, hold_id: str) -> Step:
    return Step("/voids", "checkout:spend", {"customer": customer, "hold_id": hold_id}, ["void", "--customer", customer, "--hold", hold_id])


def redeem(customer: str, redemption: str, points: int, reward: str, when: str) -> Step:
    body = {"customer": customer, "redemption_id": redemption, "points": points, "reward": reward, "at": when}
    cli = ["redeem", "--customer", customer, "--redemption", redemption, "--points", str(points), "--reward", reward, "--at", when]
    return Step("/redemptions", "checkout:spend", body, cli)


def refund(customer: str, order: str, refund_id: str, amount: str, when: str) -> Step:
    body = {"customer": customer, "order_id": order, "refund_id": refund_id, "amount": _money(amount), "at": when}
    cli = ["refund", "--customer", customer, "--order", order, "--refund", refund_id, "--amount", amount, "--at", when]
    return Step("/refunds", "pos:earn", body, cli)


def exchange(direction: str, customer: str, exchange_id: str, partner_points: int, when: str) -> Step:
    body = {"customer": customer, "exchange_id": exchange_id, "partner": "skyway", "partner_points": partner_points, "at": when}
    cli = ["exchange", "--customer", customer, "--partner", "skyway", "--exchange", exchange_id,
           "--partner-points", str(partner_points), "--direction", direction, "--at", when]
    return Step(f"/exchanges/{direction}", "partner:skyway", body, cli)


def transfer(sender: str, receiver: str, transfer_id: str, points: int, when: str) -> Step:
    body = {"customer": sender, "to_customer": receiver, "transfer_id": transfer_id, "points": points, "at": when}
    cli = ["transfer", "--from", sender, "--to", receiver, "--transfer", transfer_id, "--points", str(points), "--at", when]
    return Step("/transfers", "admin", body, cli)


def quote(customer: str, order: str, amount: str, when: str, category: str) -> Step:
    body = {"customer": customer, "order_id": order, "amount": _money(amount), "ordered_at": when, "category": category}
    cli = ["quote", "--customer", customer, "--amount", amount, "--at", when, "--category", category]
    return Step("/quote", "pos:earn", body, cli, posts=False)


DAY_STEPS: tuple[Step, ...] = (
    # A fortnight before: the orders whose points become spendable today.
    earn("alice", "o-101", "120.00", at(EARLIER, "09:00")),
    earn("bob", "o-102", "80.00", at(EARLIER, "09:30"), "groceries"),
    earn("carol", "o-103", "300.00", at(EARLIER, "10:00")),
    earn("dan", "o-104", "50.00", at(EARLIER, "11:00")),
    release(at(DAY, "06:00")),
    # The day: the till, the checkout, the partner desk.
    quote("alice", "o-201", "45.00", at(DAY, "09:05"), "groceries"),
    earn("alice", "o-201", "45.00", at(DAY, "09:05"), "groceries"),
    earn("erin", "o-202", "20.00", at(DAY, "09:20")),
    earn("bob", "o-203", "75.50", at(DAY, "09:40"), "fuel"),
    hold("alice", "h-1", 100, at(DAY, "10:00")),
    capture("alice", "h-1", 60, at(DAY, "10:10")),
    redeem("carol", "r-1", 150, "mug", at(DAY, "11:00")),
    refund("alice", "o-101", "rf-1", "30.00", at(DAY, "12:00")),
    exchange("out", "carol", "x-1", 20, at(DAY, "13:00")),
    exchange("in", "dan", "x-2", 25, at(DAY, "13:30")),
    transfer("alice", "bob", "t-1", 10, at(DAY, "14:00")),
    hold("bob", "h-2", 50, at(DAY, "15:00")),
    void("bob", "h-2"),  # a void is dated by the ledger, when it is posted
    # A fortnight later: the day's points become spendable.
    release(at(LATER, "06:00")),
)
AS_OF = at(DAY, "23:00")
"""The end of the day: the liability report's instant."""
EMAIL = "ann.lee@example.com"
LOYALTY = str(Path(sys.executable).with_name("loyalty"))
"""The installed command, beside this interpreter."""


def _registry_env(registry_url: str) -> dict[str, str]:
    """The member registry's settings (the API's registry: the reconciliation screens by it)."""

    return {"LOYALTY_REGISTRY_URL": registry_url, "LOYALTY_REGISTRY_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}


def _cli(ledger_url: str, ledger: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """``loyalty --ledger-url URL --ledger LEDGER ARGS -f json``'s JSON (exit 0 required)."""

    result = CliRunner().invoke(loyalty_app, ["--ledger-url", ledger_url, "--ledger", ledger, *args, "-f", "json"], env=env)
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.output}"
    return json.loads(result.stdout)


def _transactions(ledger_url: str, ledger: str) -> list[PostedTransaction]:
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger)) as client:
        return list(client.transactions())


def _cli_day(ledger_url: str, registry_url: str, ledger: str) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The day as ``loyalty`` commands: what each printed, then the liability report and the reconciliation."""

    env = _registry_env(registry_url)
    _cli(ledger_url, ledger, "init", env=env)
    answers = [_cli(ledger_url, ledger, *step.cli, env=env) for step in DAY_STEPS]
    liability = _cli(ledger_url, ledger, "report", "liability", "--as-of", AS_OF, env=env)
    reconciliation = _cli(ledger_url, ledger, "reconcile", env=env)
    return answers, liability, reconciliation


def _api_day(ledger_url: str, registry_url: str, ledger: str) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The day as HTTP requests, each with a key of the scope its desk would hold (finance for the reports)."""

    _cli(ledger_url, ledger, "init")  # a programme's ledger is made by `loyalty init`; the API serves it
    with running_api(ledger_url, registry_url, ledger) as api, httpx.Client(base_url=f"{api.url}/v1/programmes/{ledger}", timeout=60) as http:
        keys: dict[str, str] = {}

        def auth(scope: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {keys.setdefault(scope, api.key(ledger, scope))}"}

        answers = []
        for step in DAY_STEPS:
            headers = auth(step.scope) | ({"Idempotency-Key": f"{step.path.strip('/').replace('/', '.')}-{uuid.uuid4().hex}"} if step.posts else {})
            response = http.post(step.path, json=step.body, headers=headers)
            assert response.status_code == (201 if step.posts else 200), f"{step.path} {step.body}: {response.status_code} {response.text}"
            answers.append(response.json())
        liability = http.get("/reports/liability", params={"as_of": AS_OF}, headers=auth("finance:read"))
        reconciliation = http.get("/reconcile", headers=auth("finance:read"))
        assert liability.status_code == reconciliation.status_code == 200, (liability.text, reconciliation.text)
        return answers, liability.json(), reconciliation.json()


def _microseconds(delta: Any) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _ledger_differences(by_api: list[PostedTransaction], by_cli: list[PostedTransaction], since: datetime) -> list[str]:
    """Where the two ledgers differ, transaction by transaction, in order.

    A transaction dated by the ledger when posted (at or after ``since``: the day's own instants are all
    earlier) has another date in each run, and so another step of the customer's horizon (a control counter
    moved to the instant the transaction was planned at, in microseconds): those steps must differ by the
    dates' difference, give or take the moment between planning and posting; every other posting is the same.
    """

    chart = load_chart(load_settings().chart)

    def horizon(posting: Any) -> bool:
        parsed = chart.parse(posting.source)
        return posting.asset == chart.control_asset and parsed is not None and parsed.kind == "customer_horizon"

    out = [f"{len(by_api)} transactions by HTTP, {len(by_cli)} by the CLI"] if len(by_api) != len(by_cli) else []
    for a, c in zip(by_api, by_cli):
        if (a.id, a.reference, dict(a.metadata), a.reverted) != (c.id, c.reference, dict(c.metadata), c.reverted):
            out.append(f"tx {a.id}/{c.id}: {a.reference} {dict(a.metadata)} / {c.reference} {dict(c.metadata)}")
            continue
        dated_by_ledger = (a.timestamp >= since, c.timestamp >= since)
        if dated_by_ledger == (False, False):
            if (a.timestamp, a.postings) != (c.timestamp, c.postings):
                out.append(f"tx {a.id} {a.reference}: {a.timestamp} {a.postings} / {c.timestamp} {c.postings}")
            continue
        if dated_by_ledger != (True, True):
            out.append(f"tx {a.id} {a.reference}: dated by the ledger in one run only ({a.timestamp} / {c.timestamp})")
            continue
        shift = _microseconds(a.timestamp - c.timestamp)
        steps = [pa.amount - pc.amount for pa, pc in zip(a.postings, c.postings) if horizon(pa) and horizon(pc)]
        if [p.model_copy(update={"amount": 0}) if horizon(p) else p for p in a.postings] != [
            p.model_copy(update={"amount": 0}) if horizon(p) else p for p in c.postings
        ] or any(abs(step - shift) > 1_000_000 for step in steps):
            out.append(f"tx {a.id} {a.reference} (dated {shift} µs apart): {a.postings} / {c.postings}")
    return out


def _liability_figures(document: dict[str, Any]) -> dict[str, Any]:
    """What a liability report says, from the API's document or from `loyalty report liability -f json`."""

    keys = ("points_asset", "currency", "point_value", "total_points", "total_value", "ledger_total_points",
            "listed_total_points", "customers_with_position", "ties", "difference", "accounts_below_zero")
    return {key: document[key] for key in keys} | {
        "as_of": datetime.fromisoformat(document["as_of"]),
        "lines": [(line["state"], line["points"], line["value"], line["customers"]) for line in document["lines"]],
    }


def _reconciliation_figures(document: dict[str, Any]) -> dict[str, Any]:
    """What a reconciliation says (every check's verdict, detail and findings), from either document."""

    return {"ok": document["ok"], "checks": [
        (check.get("name", check.get("check")), check["status"], check["detail"], check["offending"], check["info"])
        for check in document["checks"]
    ]}


def test_a_day_at_a_shop_through_http_gives_the_same_ledger_as_through_the_cli(
    ledger_url: str, registry_url: str
) -> None:
    since = datetime.now(timezone.utc)
    by_cli, by_api = f"c{uuid.uuid4().hex[:12]}", f"a{uuid.uuid4().hex[:12]}"
    cli_answers, cli_liability, cli_reconciliation = _cli_day(ledger_url, registry_url, by_cli)
    api_answers, api_liability, api_reconciliation = _api_day(ledger_url, registry_url, by_api)

    # Each answer over HTTP is what the command printed (the CLI adds the postings, read from the ledger below).
    for step, api_answer, cli_answer in zip(DAY_STEPS, api_answers, cli_answers, strict=True):
        if step.posts:
            assert api_answer == {k: v for k, v in cli_answer.items() if k != "postings"}, step
            assert not api_answer["replayed"] and (api_answer.get("transactions") or api_answer.get("posted")), step
        else:  # the quote: the API answers the price's parts, the CLI its lines; the price is the same
            same = ("points", "rules_version", "tier", "reason")
            assert {k: api_answer[k] for k in same} == {k: cli_answer[k] for k in same}
    quoted = api_answers[DAY_STEPS.index(next(s for s in DAY_STEPS if not s.posts))]
    earned = api_answers[DAY_STEPS.index(next(s for s in DAY_STEPS if s.path == "/earn" and s.body["order_id"] == "o-201"))]
    assert quoted["points"] == earned["points"] >= 90  # 45.00 of groceries at x2 (or more in a campaign): as quoted

    api_txs, cli_txs = _transactions(ledger_url, by_api), _transactions(ledger_url, by_cli)
    assert not _ledger_differences(api_txs, cli_txs, since), "\n".join(_ledger_differences(api_txs, cli_txs, since))
    operations = [tx.metadata.get("operation") for tx in api_txs]
    for operation in ("earn", "release", "hold", "capture", "void", "redeem", "refund", "exchange_out", "exchange_in", "transfer"):
        assert operation in operations, operation
    dated_by_ledger = {tx.reference.split(":")[0] for tx in api_txs if tx.timestamp >= since and tx.reference}
    assert dated_by_ledger == {"open_control", "void"}  # every other transaction is dated by the day's script

    assert _liability_figures(api_liability) == _liability_figures(cli_liability)
    assert api_liability["ties"] is True and api_liability["total_points"] > 0
    held = next(line for line in api_liability["lines"] if line["state"] == "held")
    assert held["points"] == 50  # bob's hold: voided, but the void is dated when posted, after the day
    assert _reconciliation_figures(api_reconciliation) == _reconciliation_figures(cli_reconciliation)  # as of now: each its own
    assert api_reconciliation["ok"] is True, [c for c in api_reconciliation["checks"] if c["status"] != "pass"]
    print(f"day: {len(DAY_STEPS)} steps, {len(api_txs)} transactions equal in both ledgers, "
          f"liability {api_liability['total_points']} points, {len(api_reconciliation['checks'])} reconciliation checks passed")


def _stored_answer(registry_url: str, idempotency_key: str) -> tuple[str, int, bytes]:
    """What the registry kept for ``idempotency_key``: its state, status and answer's bytes."""

    with psycopg.connect(registry_url) as conn:
        row = conn.execute(
            "SELECT state, status, response FROM api_idempotency WHERE idempotency_key = %s", (idempotency_key,)
        ).fetchone()
    assert row is not None, idempotency_key
    return row[0], row[1], bytes(row[2])


def test_a_write_retried_after_its_answer_was_dropped_gets_the_original_and_the_ledger_holds_one_transaction(
    ledger_url: str, registry_url: str, ledger_name: str
) -> None:
    _cli(ledger_url, ledger_name, "init")
    order = {"customer": "fay", "order_id": "o-lost", "amount": _money("64.00"), "ordered_at": at(DAY, "12:30")}
    reference = "earn:o-lost"

    def holding(reference: str) -> list[PostedTransaction]:
        return [tx for tx in _transactions(ledger_url, ledger_name) if tx.reference == reference]

    with running_api(ledger_url, registry_url, ledger_name) as api:
        till = {"Authorization": f"Bearer {api.key(ledger_name, 'pos:earn')}"}
        path = f"/v1/programmes/{ledger_name}/earn"
        with FaultProxy(api.url, seed=15, drop=1.0) as proxy, pytest.raises(httpx.RemoteProtocolError):
            httpx.post(proxy.url + path, json=order, headers=till | {"Idempotency-Key": "till-7.sale-0042"}, timeout=60)
        assert proxy.faults["drop"] == 1 == proxy.requests  # the API answered; the till never saw it
        posted = holding(reference)
        assert len(posted) == 1  # the earn happened before the answer was lost
        before_retries = len(_transactions(ledger_url, ledger_name))
        state, status, stored = _stored_answer(registry_url, "till-7.sale-0042")
        assert (state, status) == ("done", 201)

        retry = httpx.post(api.url + path, json=order, headers=till | {"Idempotency-Key": "till-7.sale-0042"}, timeout=60)
        assert retry.status_code == 201, retry.text
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == stored  # the original answer, byte for byte
        original = retry.json()
        assert (original["reference"], original["transactions"], original["replayed"]) == (reference, [posted[0].id], False)
        assert original["points"] == 64

        fresh = httpx.post(api.url + path, json=order, headers=till | {"Idempotency-Key": "till-7.sale-0042-again"}, timeout=60)
        assert fresh.status_code == 200, fresh.text  # another key: the ledger's own exactly-once answers
        assert "Idempotent-Replayed" not in fresh.headers
        again = fresh.json()
        assert (again["reference"], again["transactions"], again["replayed"], again["points"]) == (reference, [posted[0].id], True, 64)
        assert _stored_answer(registry_url, "till-7.sale-0042-again")[:2] == ("done", 200)

    assert len(holding(reference)) == 1
    assert len(_transactions(ledger_url, ledger_name)) == before_retries  # neither retry posted anything


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``loyalty --ledger LEDGER serve --port PORT`` as its own process, every answer it gave counted."""

    def __init__(self, env: dict[str, str], ledger: str) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.answered = 0
        args = [LOYALTY, "--ledger", ledger, "serve", "--port", self.url.rsplit(":", 1)[1]]
        self.process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.request("GET", "/v1/openapi.json")
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.process.communicate()
                assert time.monotonic() < deadline, "loyalty serve did not start"
                time.sleep(0.05)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, self.url + path, timeout=60, **kwargs)
        self.answered += 1
        return response

    def stop(self) -> tuple[int, float, str]:
        """SIGTERM: the exit code, the seconds it took and what the process wrote on stderr."""

        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, time.monotonic() - started, err


@pytest.fixture
def serve_env(ledger_url: str, registry_url: str, ledger_name: str) -> dict[str, str]:
    """``loyalty serve``'s environment (the session's ledger, a fresh registry and its key), its ledger made."""

    _cli(ledger_url, ledger_name, "init")
    return {**os.environ, "LOYALTY_LEDGER_URL": ledger_url, **_registry_env(registry_url)}


@pytest.fixture
def served(serve_env: dict[str, str], ledger_name: str) -> Iterator[Served]:
    server = Served(serve_env, ledger_name)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.communicate()


def test_loyalty_serve_is_operable_health_openapi_body_limit_logs_without_personal_data_keys_and_sigterm(
    served: Served, serve_env: dict[str, str], ledger_url: str, ledger_name: str
) -> None:
    programme = f"/v1/programmes/{ledger_name}"
    health = served.request("GET", "/v1/health")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok", "checks": {f"ledger {ledger_name}": "ok", "registry": "ok"}}

    paths = served.request("GET", "/v1/openapi.json").json()["paths"]
    for write in WRITES:
        assert "post" in paths[f"/v1/programmes/{{programme}}{write.path}"], write.path
    assert "get" in paths["/v1/programmes/{programme}/reports/liability"] and "get" in paths["/v1/health"]

    # Keys: created (the secret shown once), listed (never the secret), revoked (the next request is 401).
    made = _cli(ledger_url, ledger_name, "key", "create", "--scope", "pos:earn", "--label", "till-7", env=serve_env)
    secret = made["api_key"]
    assert secret.startswith(f"lk_{made['key_id']}_") and made["state"] == "active" and made["programme"] == ledger_name
    listed = _cli(ledger_url, ledger_name, "key", "list", env=serve_env)
    assert [(k["key_id"], k["state"]) for k in listed] == [(made["key_id"], "active")]
    assert secret.split("_", 2)[2] not in json.dumps(listed) and "api_key" not in listed[0]
    till = {"Authorization": f"Bearer {secret}"}

    order = {"customer": "gus", "order_id": "o-serve-1", "amount": _money("30.00"), "ordered_at": at(DAY, "16:00")}
    earned = served.request("POST", f"{programme}/earn", json=order, headers=till | {"Idempotency-Key": "serve-1"})
    assert earned.status_code == 201, earned.text

    too_big = json.dumps({**order, "category": "x" * (64 * 1024)}).encode()
    # With a Content-Length over the limit: 413; chunked (a size that cannot be checked first): 411. Nothing read.
    for body, status, kind in ((too_big, 413, "too-large"), (iter([too_big]), 411, "length-required")):
        refused = served.request("POST", f"{programme}/earn", content=body,
                                 headers=till | {"Idempotency-Key": "serve-2", "Content-Type": "application/json"})
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == status and refused.json()["type"].endswith(f"/{kind}")

    # Personal data in the body and the query string, the key in a header: none of it reaches the log.
    personal = {**order, "order_id": "o-serve-2", "customer": EMAIL}
    invalid = served.request("POST", f"{programme}/earn", params={"email": EMAIL}, json=personal,
                             headers=till | {"Idempotency-Key": "serve-3"})
    assert invalid.status_code == 400 and EMAIL not in invalid.text

    revoked = _cli(ledger_url, ledger_name, "key", "revoke", made["key_id"], env=serve_env)
    assert revoked["state"] == "revoked" and secret.split("_", 2)[2] not in json.dumps(revoked)
    listed = _cli(ledger_url, ledger_name, "key", "list", env=serve_env)
    assert [(k["key_id"], k["state"]) for k in listed] == [(made["key_id"], "revoked")]
    refused = served.request("POST", f"{programme}/earn", json={**order, "order_id": "o-serve-3"}, headers=till | {"Idempotency-Key": "serve-4"})
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer", refused.text

    code, seconds, stderr = served.stop()
    assert code == 0 and seconds < 10, (code, seconds, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[0].startswith(f"serving {ledger_name} on {served.url}/v1")
    logged = [json.loads(line) for line in lines[1:]]  # every other line is a request's JSON
    assert len(logged) == served.answered  # one per request
    assert all(set(entry) == {"method", "route", "programme", "status", "ms", "key_id"} for entry in logged)
    assert [e["status"] for e in logged[-5:]] == [201, 413, 411, 400, 401]
    assert logged[-5]["route"] == "/v1/programmes/{programme}/earn" and logged[-5]["key_id"] == made["key_id"]
    log_text = "\n".join(lines[1:])
    for secret_part in (EMAIL, "ann.lee", "email=", "?", secret, secret.split("_", 2)[2], "Bearer", "gus", "o-serve"):
        assert secret_part not in log_text, secret_part


def test_sigterm_lets_a_write_in_flight_finish_answer_and_keep_its_idempotency_record(
    serve_env: dict[str, str], ledger_url: str, registry_url: str, ledger_name: str
) -> None:
    # Every answer of the ledger to the server is held 0.4 s: an earn (several ledger calls) is slow to finish.
    with FaultProxy(ledger_url, seed=16, delay=1.0, delay_s=0.4) as slow_ledger:
        env = serve_env | {"LOYALTY_LEDGER_URL": slow_ledger.url}
        secret = _cli(ledger_url, ledger_name, "key", "create", "--scope", "pos:earn", "--label", "till-8", env=env)["api_key"]
        server = Served(env, ledger_name)
        try:
            before = slow_ledger.requests
            answers: list[httpx.Response] = []
            order = {"customer": "hal", "order_id": "o-in-flight", "amount": _money("18.00"), "ordered_at": at(DAY, "17:00")}
            writing = threading.Thread(target=lambda: answers.append(server.request(
                "POST", f"/v1/programmes/{ledger_name}/earn", json=order,
                headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "till-8.sale-1"},
            )))
            writing.start()
            deadline = time.monotonic() + 30
            while slow_ledger.requests == before:  # the write has reached the ledger; its answer is being held
                assert time.monotonic() < deadline and writing.is_alive(), "the write never reached the ledger"
                time.sleep(0.01)
            at_signal = slow_ledger.requests - before
            code, seconds, stderr = server.stop()  # SIGTERM now, while the write is in flight
            writing.join(60)
        finally:
            if server.process.poll() is None:
                server.process.kill()
                server.process.communicate()
        calls = slow_ledger.requests - before

    assert code == 0, stderr
    assert [a.status_code for a in answers] == [201], [a.text for a in answers]
    assert calls > at_signal  # the write went on talking to the ledger after the signal
    posted = [tx for tx in _transactions(ledger_url, ledger_name) if tx.reference == "earn:o-in-flight"]
    assert [tx.id for tx in posted] == answers[0].json()["transactions"]
    assert _stored_answer(registry_url, "till-8.sale-1") == ("done", 201, answers[0].content)  # a retry gets it too
    logged = [json.loads(line) for line in stderr.splitlines()[1:] if line.strip()]
    assert logged[-1]["status"] == 201 and logged[-1]["route"] == "/v1/programmes/{programme}/earn"
    print(f"SIGTERM during a write: it finished ({calls - at_signal} of its {calls} ledger calls after the signal, "
          f"{seconds:.1f} s to exit), answered 201, exit 0")
