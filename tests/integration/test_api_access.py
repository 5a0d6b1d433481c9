"""Issue 15, acceptance items 3 and 4, on the real server: who may call the HTTP API, and programmes kept apart.

The authorisation matrix is generated, not listed: the endpoints are those the served OpenAPI document
names under ``/v1/programmes/{programme}`` (each found in the API's own tables, :data:`WRITES` and
:data:`READS`, and every entry of those tables served), crossed with every credential (no key, a
malformed key, an unknown key, a real key's id with a wrong secret, a revoked, an expired and another
programme's key, and a valid key of each scope). What each call must get is worked out from the scope
tables of the issue: a key problem is 401, a valid key without the scope 403 (``admin`` may do
everything, ``member:read`` only its member, ``partner:NAME`` only that partner), both as RFC 9457
problem documents; a refused call leaves the ledger (its newest log) and the idempotency records as they
were. An allowed call is not refused for access (it may still fail for business reasons).

Also: a key of programme A refused on every endpoint of programme B served beside it, and the same
write on each landing on its own ledger only; the Idempotency-Key contract through HTTP (missing,
replayed, reused for another body, and raced by concurrent requests).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import httpx
import psycopg
import pytest

from loyalty_accounts.api.keys import FIXED_SCOPES
from loyalty_accounts.api.reads import READS
from loyalty_accounts.api.writes import WRITES, Write
from loyalty_accounts.app import create_app
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.vocabulary.amounts import Money
from support.api_server import RunningApi, running_api

pytestmark = pytest.mark.integration

PREFIX = "/v1/programmes/{programme}"
MEMBER, OTHER_MEMBER, ORDER = "alice", "bob", "o-1"
PARTNER, STRANGER = "skyway", "cloudair"
"""The chart's partner, and one it does not have."""
PATH_VALUES = {"member": MEMBER, "order_id": ORDER, "partner": PARTNER}
"""What the matrix puts in the paths' parameters."""
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}
WHOLE_SCOPES = tuple(s for s in FIXED_SCOPES if s != "member:read")
"""The scopes not bound to a member or a partner (from the API's own list)."""


def _usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


# A valid body for each write, and for the read that takes one (the quote); ``t`` makes the ids the call's own.
# A hold, its capture and its void share one hold id per credential, so that each can succeed in turn.
BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "earn": lambda t: {"customer": MEMBER, "order_id": f"api-o-{t}", "amount": _usd("10.00")},
    "refund": lambda t: {"customer": MEMBER, "order_id": ORDER, "refund_id": f"api-rf-{t}", "amount": _usd("1.00")},
    "hold": lambda t: {"customer": MEMBER, "hold_id": f"api-h-{t}", "points": 5},
    "capture": lambda t: {"customer": MEMBER, "hold_id": f"api-h-{t}", "points": 2},
    "void": lambda t: {"customer": MEMBER, "hold_id": f"api-h-{t}"},
    "redeem": lambda t: {"customer": MEMBER, "redemption_id": f"api-r-{t}", "points": 5, "reward": "mug"},
    "exchange_out": lambda t: {"customer": MEMBER, "exchange_id": f"api-xo-{t}", "partner": PARTNER, "partner_points": 1},
    "exchange_in": lambda t: {"customer": MEMBER, "exchange_id": f"api-xi-{t}", "partner": PARTNER, "partner_points": 1},
    "transfer": lambda t: {"customer": MEMBER, "to_customer": OTHER_MEMBER, "transfer_id": f"api-t-{t}", "points": 1},
    "convert": lambda t: {"customer": MEMBER, "conversion_id": f"api-c-{t}", "points": 100},
    "adjust": lambda t: {"customer": MEMBER, "adjustment_id": f"api-a-{t}", "direction": "credit", "points": 5, "reason": "goodwill"},
    "engage": lambda t: {"customer": MEMBER, "event": "review_written", "key": f"api-e-{t}"},
    "release": lambda t: {"customer": MEMBER},
    "expire": lambda t: {"customer": MEMBER},
    "POST /quote": lambda t: {"customer": MEMBER, "order_id": f"api-q-{t}", "amount": _usd("10.00")},
}


class Endpoint(NamedTuple):
    method: str
    path: str
    """Under the programme, with its parameters (``/members/{member}/balance``)."""
    scopes: tuple[str, ...]
    """Who may call it besides admin, as the tables say (``partner:*``: the body's partner)."""
    write: Write | None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, programme: str) -> str:
        return PREFIX.format(programme=programme) + self.path.format(**PATH_VALUES)

    def body(self, tag: str) -> dict[str, Any] | None:
        if self.write is not None:
            return BODIES[self.write.operation](tag)
        return BODIES[self.name](tag) if self.method == "POST" else None

    def needs(self, body: dict[str, Any] | None) -> tuple[str, ...]:
        """The scopes that allow this call (admin aside): the path's and body's names put in."""

        return tuple(
            f"partner:{body['partner']}" if s == "partner:*" and body is not None else s.format(**PATH_VALUES) for s in self.scopes
        )


class Credential(NamedTuple):
    name: str
    authorization: str | None
    """The Authorization header sent (None: none)."""
    scopes: tuple[str, ...] = ()
    """A valid key's scopes; empty for a key that is not valid here."""
    member: str | None = None


def expected_refusal(endpoint: Endpoint, credential: Credential, body: dict[str, Any] | None) -> int | None:
    """401 for a key that is not valid, 403 for a valid key without the scope, None when allowed (the issue's table)."""

    if not credential.scopes:
        return 401
    if "admin" in credential.scopes:
        return None
    for needed in endpoint.needs(body):
        if needed in credential.scopes and (needed != "member:read" or credential.member == MEMBER):
            return None
    return 403


def served_endpoints(api: RunningApi) -> list[Endpoint]:
    """Every endpoint of a programme the OpenAPI document names, with its scopes from the API's tables."""

    document = httpx.get(api.url + "/v1/openapi.json", timeout=10).json()
    writes = {w.path: w for w in WRITES}
    found: list[Endpoint] = []
    outside: set[str] = set()
    for full, operations in document["paths"].items():
        if not full.startswith(PREFIX + "/"):
            outside.add(full)
            continue
        path = full[len(PREFIX):]
        for method in operations:
            method = method.upper()
            write = writes.get(path) if method == "POST" else None
            if write is not None:
                found.append(Endpoint(method, path, (write.scope,), write))
            else:
                assert f"{method} {path}" in READS, f"{method} {full} is served but in neither WRITES nor READS"
                found.append(Endpoint(method, path, READS[f"{method} {path}"], None))
    assert outside == {"/v1/health"}, f"endpoints outside a programme: {sorted(outside)}"
    names = {e.name for e in found}
    assert {f"POST {w.path}" for w in WRITES} | set(READS) == names, "a table's endpoint is not served"
    assert len(found) == len(WRITES) + len(READS) == len(names)
    missing = [e.name for e in found if e.method == "POST" and e.body("x") is None]
    assert not missing, f"no body for {missing}"
    return found


def _admin_refused_keys(api: RunningApi, programme: str) -> list[Credential]:
    """Keys that must be refused (401) whatever the endpoint: each, but for what is wrong with it, an admin key."""

    genuine = api.key(programme, "admin")
    revoked = api.key(programme, "admin")
    api.revoke(revoked)
    expired = api.key(programme, "admin", expires_in=timedelta(seconds=1))
    expired_at = time.monotonic() + 1.2
    foreign = api.key("elsewhere", "admin")
    key_id, secret = genuine.split("_", 2)[1:]  # the secret itself may hold "_"
    wrong_secret = f"lk_{key_id}_{('A' if secret[0] != 'A' else 'B') + secret[1:]}"
    time.sleep(max(0.0, expired_at - time.monotonic()))
    return [
        Credential("no-key", None),
        Credential("malformed", "Bearer lk_not-a-key"),
        Credential("unknown", f"Bearer lk_{'0' * 16}_{'A' * 43}"),
        Credential("wrong-secret", f"Bearer {wrong_secret}"),
        Credential("revoked", f"Bearer {revoked}"),
        Credential("expired", f"Bearer {expired}"),
        Credential("other-programme", f"Bearer {foreign}"),
    ]


def _scoped_keys(api: RunningApi, programme: str) -> list[Credential]:
    """A valid key of ``programme`` for each scope (member:read for the paths' member and for another)."""

    made = [
        Credential("member-read-other", None, ("member:read",), OTHER_MEMBER),
        Credential("member-read-same", None, ("member:read",), MEMBER),
        *(Credential(s.replace(":", "-"), None, (s,)) for s in WHOLE_SCOPES),
        Credential(f"partner-{PARTNER}", None, (f"partner:{PARTNER}",)),
        Credential(f"partner-{STRANGER}", None, (f"partner:{STRANGER}",)),
    ]
    return [c._replace(authorization=f"Bearer {api.key(programme, *c.scopes, member=c.member)}") for c in made]


class Books:
    """What a call could change: a ledger's newest log and the registry's idempotency records of a programme."""

    def __init__(self, client: LedgerClient, registry: psycopg.Connection, programme: str) -> None:
        self.client, self.registry, self.programme = client, registry, programme

    def state(self) -> tuple[int | None, int]:
        row = self.registry.execute("SELECT count(*) FROM api_idempotency WHERE programme = %s", (self.programme,)).fetchone()
        assert row is not None
        return self.client.latest_log_id(), int(row[0])


def _is_problem(response: httpx.Response) -> str | None:
    """What is wrong with ``response`` as an RFC 9457 problem document (None: nothing)."""

    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"content-type {response.headers.get('content-type')}"
    doc = response.json()
    if doc.get("status") != response.status_code or not doc.get("title") or not doc.get("type") or not set(doc) <= PROBLEM_FIELDS:
        return f"problem document {doc}"
    if response.status_code == 401 and response.headers.get("www-authenticate") != "Bearer":
        return "401 without WWW-Authenticate: Bearer"
    return None


def run_matrix(
    http: httpx.Client,
    programme: str,
    books: Books,
    endpoints: list[Endpoint],
    credentials: list[Credential],
    expect: Callable[[Endpoint, Credential, dict[str, Any] | None], int | None],
) -> Counter[str]:
    """Every endpoint × every credential on ``programme``; the tally of outcomes. Fails listing every call that went wrong."""

    tally: Counter[str] = Counter()
    wrong: list[str] = []
    for endpoint in endpoints:
        for credential in credentials:
            body = endpoint.body(credential.name)
            headers = {"Idempotency-Key": f"m-{uuid.uuid4().hex}"}
            if credential.authorization is not None:
                headers["Authorization"] = credential.authorization
            before = books.state()
            response = http.request(endpoint.method, endpoint.url(programme), json=body, headers=headers)
            after = books.state()
            refusal = expect(endpoint, credential, body)
            call = f"{endpoint.name} with {credential.name}: {response.status_code}"
            tally["requests"] += 1
            if refusal is not None:
                tally[f"refused {refusal}"] += 1
                if response.status_code != refusal:
                    wrong.append(f"{call}, expected {refusal}: {response.text[:200]}")
                elif (problem := _is_problem(response)) is not None:
                    wrong.append(f"{call}: {problem}")
                if after != before:
                    wrong.append(f"{call}: refused, yet (newest log, idempotency records) went {before} -> {after}")
                continue
            tally["allowed"] += 1
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append(f"{call}, expected to be let through: {response.text[:200]}")
                continue
            tally[f"allowed {response.status_code}"] += 1
            log_moved = after[0] != before[0]
            if endpoint.write is None and after != before:
                wrong.append(f"{call}: a read changed (newest log, idempotency records) {before} -> {after}")
            elif endpoint.write is not None:
                if response.status_code == 201 and not log_moved:
                    wrong.append(f"{call}: 201 with nothing new in the ledger")
                if response.status_code >= 400 and log_moved:
                    wrong.append(f"{call}: refused for business reasons, yet the ledger moved {before[0]} -> {after[0]}")
                if response.status_code < 300 and after[1] != before[1] + 1:
                    wrong.append(f"{call}: answered, yet its answer was not kept ({before[1]} -> {after[1]} records)")
                tally["allowed writes posted"] += int(log_moved)
    assert not wrong, f"{len(wrong)} of {tally['requests']} calls went wrong:\n" + "\n".join(wrong)
    return tally


def together(base_url: str, n: int, send: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    """``n`` requests sent at once from threads of their own (each with its own connection); their answers."""

    barrier = threading.Barrier(n)
    answers: list[httpx.Response | None] = [None] * n

    def run(i: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as own:
            barrier.wait()
            answers[i] = send(own, i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(a is not None for a in answers), "a request got no answer"
    return [a for a in answers if a is not None]


def _spendable_history(ledger_url: str, ledger: str) -> None:
    """alice (order o-1) and bob earn 20 days ago, released: their points are spendable now."""

    now = datetime.now(timezone.utc)
    with create_app(ledger_url=ledger_url, ledger_name=ledger) as app:
        app.program.init()
        for n, (customer, amount) in enumerate(((MEMBER, "400.00"), (OTHER_MEMBER, "90.00")), start=1):
            order = EarnCommand(customer=customer, order_id=f"o-{n}", amount=Money(amount=Decimal(amount), currency="USD"), ordered_at=now - timedelta(days=20))
            app.program.earn(order)
        app.program.release(now - timedelta(minutes=1))


@pytest.fixture
def registry(registry_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(registry_url, autocommit=True) as conn:
        yield conn


def test_every_endpoint_with_every_credential_is_refused_or_let_through_as_the_scope_tables_say(
    ledger_url: str, ledger_name: str, registry_url: str, client: LedgerClient, registry: psycopg.Connection
) -> None:
    _spendable_history(ledger_url, ledger_name)
    with running_api(ledger_url, registry_url, ledger_name) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        endpoints = served_endpoints(api)
        credentials = _admin_refused_keys(api, ledger_name) + _scoped_keys(api, ledger_name)
        assert len({c.name for c in credentials}) == len(credentials) == 7 + 2 + len(WHOLE_SCOPES) + 2
        books = Books(client, registry, ledger_name)
        tally = run_matrix(http, ledger_name, books, endpoints, credentials, expected_refusal)

    size = len(endpoints) * len(credentials)
    print(
        f"\nauthorisation matrix: {len(endpoints)} endpoints ({len(WRITES)} writes, {len(READS)} reads) x {len(credentials)} credentials"
        f" = {size} requests; {dict(sorted(tally.items()))}"
    )
    assert tally["requests"] == size
    assert tally["refused 401"] == len(endpoints) * 7  # the seven keys that are not valid here, on every endpoint
    assert tally["refused 403"] > 0 and tally["allowed"] > 0 and tally["allowed writes posted"] > 0
    assert tally["refused 401"] + tally["refused 403"] + tally["allowed"] == size


def test_a_key_of_one_programme_is_refused_on_every_endpoint_of_another_and_each_write_lands_on_its_own_ledger(
    ledger_url: str, ledger_name: str, registry_url: str, registry: psycopg.Connection, tmp_path: Path
) -> None:
    a, b = f"{ledger_name}a", f"{ledger_name}b"
    for name in (a, b):
        _spendable_history(ledger_url, name)
    programmes = tmp_path / "programmes.yaml"
    programmes.write_text(f"programmes:\n  {a}: {{}}\n  {b}: {{}}\n")
    with (
        running_api(ledger_url, registry_url, a, programmes_file=programmes) as api,
        httpx.Client(base_url=api.url, timeout=60) as http,
        LedgerClient(LedgerConnection(url=ledger_url, ledger=a)) as client_a,
        LedgerClient(LedgerConnection(url=ledger_url, ledger=b)) as client_b,
    ):
        endpoints = served_endpoints(api)
        books = {a: Books(client_a, registry, a), b: Books(client_b, registry, b)}
        keys_of_a = _scoped_keys(api, a)
        admin_of_b = [c for c in _scoped_keys(api, b) if c.scopes == ("admin",)]
        refused = run_matrix(http, b, books[b], endpoints, keys_of_a, lambda *_: 401)
        refused += run_matrix(http, a, books[a], endpoints, admin_of_b, lambda *_: 401)
        print(f"\nprogrammes apart: {refused['requests']} calls with a key of the other programme, {refused['refused 401']} refused (401)")
        assert refused["requests"] == refused["refused 401"] == len(endpoints) * (len(keys_of_a) + 1)

        body = BODIES["earn"]("both")
        answers: dict[str, httpx.Response] = {}
        for name, key in ((a, api.key(a, "pos:earn")), (b, api.key(b, "pos:earn"))):
            before = {n: book.state() for n, book in books.items()}
            answers[name] = http.post(f"/v1/programmes/{name}/earn", json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "same-on-both"})
            after = {n: book.state() for n, book in books.items()}
            assert answers[name].status_code == 201 and "idempotent-replayed" not in answers[name].headers, answers[name].text
            assert after[name][0] != before[name][0] and after[name][1] == before[name][1] + 1
            (other,) = set(books) - {name}
            assert after[other] == before[other], f"a write on {name} changed {other}"
        for name, client in ((a, client_a), (b, client_b)):
            summary = answers[name].json()
            found = client.find_by_reference(summary["reference"])
            assert found is not None and [found.id] == summary["transactions"]
            assert all(v == 0 for v in client.aggregate_balances("").values())


def test_the_idempotency_key_contract_through_http(
    ledger_url: str, ledger_name: str, registry_url: str, client: LedgerClient, registry: psycopg.Connection
) -> None:
    _spendable_history(ledger_url, ledger_name)
    with running_api(ledger_url, registry_url, ledger_name) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        auth = {"Authorization": f"Bearer {api.key(ledger_name, 'pos:earn')}"}
        url = f"/v1/programmes/{ledger_name}/earn"
        books = Books(client, registry, ledger_name)
        body = BODIES["earn"]("idem")
        start = books.state()

        for header in ({}, {"Idempotency-Key": "not a key"}, {"Idempotency-Key": "k" * 129}):
            refused = http.post(url, json=body, headers=auth | header)
            assert refused.status_code == 400 and _is_problem(refused) is None, refused.text
            assert refused.json()["type"].endswith("/invalid-request") and "Idempotency-Key" in refused.json()["detail"]
        assert books.state() == start

        first = http.post(url, json=body, headers=auth | {"Idempotency-Key": "k-1"})
        assert first.status_code == 201 and "idempotent-replayed" not in first.headers, first.text
        posted = books.state()
        assert posted[0] != start[0] and posted[1] == start[1] + 1
        # The same request, its keys in another order and laid out otherwise: the original answer, byte for byte.
        again = http.post(
            url, content=json.dumps(dict(reversed(body.items())), indent=2),
            headers=auth | {"Idempotency-Key": "k-1", "Content-Type": "application/json"},
        )
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers.get("idempotent-replayed") == "true"
        assert books.state() == posted

        changed = http.post(url, json=body | {"amount": _usd("11.00")}, headers=auth | {"Idempotency-Key": "k-1"})
        assert changed.status_code == 409 and _is_problem(changed) is None, changed.text
        assert changed.json()["type"].endswith("/idempotency-conflict")
        assert books.state() == posted
        found = client.find_by_reference(first.json()["reference"])
        assert found is not None and [found.id] == first.json()["transactions"]

        # Concurrent requests with one key: one runs; the others get its answer or "still being processed".
        # The server's worker threads each open their registry connection and build the programme's App on their
        # first request: a round of quotes first, so that the race is not won by the one warm thread.
        warm = together(api.url, n := 8, lambda own, i: own.post(f"/v1/programmes/{ledger_name}/quote", json=BODIES["POST /quote"](f"w{i}"), headers=auth))
        assert [r.status_code for r in warm] == [200] * n
        race = BODIES["earn"]("race")
        transactions_before = len(list(client.transactions()))
        answers = together(api.url, n, lambda own, i: own.post(url, json=race, headers=auth | {"Idempotency-Key": "k-race"}))
        assert len(answers) == n
        assert len(list(client.transactions())) == transactions_before + 1
        originals = [r for r in answers if r.status_code == 201]
        busy = [r for r in answers if r.status_code == 409 and "still being processed" in r.json()["detail"]]
        print(f"\nidempotency race: {n} concurrent requests with one key: {len(originals)} original answers, {len(busy)} told it is still being processed")
        assert originals and len(originals) + len(busy) == n, [(r.status_code, r.text) for r in answers]
        assert len({r.content for r in originals}) == 1
        assert all(_is_problem(r) is None for r in busy)
        found = client.find_by_reference(originals[0].json()["reference"])
        assert found is not None and [found.id] == originals[0].json()["transactions"]
        after = http.post(url, json=race, headers=auth | {"Idempotency-Key": "k-race"})
        assert (after.status_code, after.content, after.headers.get("idempotent-replayed")) == (201, originals[0].content, "true")


def test_a_caller_is_refused_before_anything_of_its_request_is_checked(
    ledger_url: str, ledger_name: str, registry_url: str, client: LedgerClient, registry: psycopg.Connection
) -> None:
    """No key with a body or query that is not valid: 401, not the 400 that would describe the request to a stranger;
    a valid key without the scope and without an Idempotency-Key: 403, not a 400 asking for a header that would not help."""

    with create_app(ledger_url=ledger_url, ledger_name=ledger_name) as app:
        app.program.init()
    with running_api(ledger_url, registry_url, ledger_name) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        endpoints = served_endpoints(api)
        books = Books(client, registry, ledger_name)
        before = books.state()
        # member:read of another member: allowed on no endpoint the matrix puts alice in the path of
        unscoped = {"Authorization": f"Bearer {api.key(ledger_name, 'member:read', member=OTHER_MEMBER)}"}
        wrong: list[str] = []
        for endpoint in endpoints:
            url = endpoint.url(ledger_name)
            if endpoint.method == "POST":
                stranger = http.post(url, json={"no_such_field": 1}, headers={"Idempotency-Key": "k-1"})
                without_header = http.post(url, json=endpoint.body("h"), headers=unscoped)
                answers = [(stranger, 401), (without_header, 403)]
            else:
                answers = [(http.get(url, params={"limit": "not-a-number"}), 401)]
            for response, status in answers:
                if response.status_code != status or _is_problem(response) is not None:
                    wrong.append(f"{endpoint.name}: {response.status_code}, expected {status}: {response.text[:200]}")
        assert not wrong, "\n".join(wrong)
        assert books.state() == before
