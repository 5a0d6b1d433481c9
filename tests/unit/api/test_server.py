"""The HTTP API in process (FastAPI's TestClient) over in-memory keys, idempotency records and ledgers.

Two programmes are served, ``loyalty`` and ``airline``, each an :class:`App` on its own FakeLedger. What
is checked: refusals (401, 400, 403, 409, 411, 413) post nothing; a write's answer is kept for its
Idempotency-Key and replayed byte for byte, and one that says nothing (503, 500) releases the key;
problem documents never repeat an email; the OpenAPI document lists every write; the request log says
nothing personal.
"""

from __future__ import annotations

import json
import logging
import warnings
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterator

import pytest
from support.fake_api import FakeApiContext, IdempotencyRow
from support.fake_ledger import FakeLedger
from support.programme import ROOT

from loyalty_accounts.api.idempotency import LEASE
from loyalty_accounts.api.problems import PROBLEM_BASE
from loyalty_accounts.api.server import MAX_BODY, create_api
from loyalty_accounts.api.writes import WRITES
from loyalty_accounts.app import App
from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import LedgerUnavailable, UnknownEntity
from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.rules import load_rules
from loyalty_accounts.settings import load_settings
from loyalty_accounts.vocabulary.amounts import Money
from loyalty_accounts.vocabulary.ids import CUSTOMER_PATTERN

with warnings.catch_warnings():  # starlette's TestClient warns that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
EARN = {"customer": "c42", "order_id": "o-1001", "amount": {"amount": "20.00", "currency": "USD"}}
EMAIL = "ann.lee@example.com"
PROBLEM = "application/problem+json"
CHART = load_chart(ROOT / "chart_of_accounts.yaml")
RULES = load_rules(ROOT / "rules.yaml", chart=CHART)
"""Parsed once for the module: each test's Apps are given them instead of reading the files again."""


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Served:
    """The API over two programmes; :meth:`key` makes keys, :meth:`post` writes, :meth:`posted` counts postings."""

    def __init__(self) -> None:
        settings = load_settings(chart=ROOT / "chart_of_accounts.yaml", rules=ROOT / "rules.yaml", ledger_name="loyalty")
        self.ledgers = {name: FakeLedger(name) for name in ("loyalty", "airline")}
        self.apps = {}
        for name, ledger in self.ledgers.items():
            app = App(settings.model_copy(update={"ledger_name": name}), ledger=lambda ledger=ledger: ledger)
            vars(app).update(chart=CHART, rules=RULES)  # App's cached properties, already made
            app.program.init()
            self.apps[name] = app
        self.clock = Clock()
        self.context = FakeApiContext(settings, self.apps, clock=self.clock)
        self.client = TestClient(create_api(self.context))

    def key(self, *scopes: str, programme: str = "loyalty", expires_in: timedelta = timedelta(days=1), member: str | None = None) -> str:
        _, text = self.context.keys().create(
            programme=programme, scopes=scopes, label="test", expires_at=NOW + expires_in, now=NOW, member=member, partners=("skyway",)
        )
        return text

    def post(self, path: str, body: Any = EARN, *, key: str | None, idem: str | None = "k-1", programme: str = "loyalty", **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if idem is not None:
            headers["Idempotency-Key"] = idem
        if "content" not in kwargs:
            kwargs["json"] = body
        return self.client.post(f"/v1/programmes/{programme}{path}", headers=headers, **kwargs)

    def posted(self, programme: str = "loyalty") -> tuple[int, int]:
        """Postings attempted and transactions held by ``programme``'s ledger."""

        ledger = self.ledgers[programme]
        return ledger.posts, len(ledger.txs)


@pytest.fixture
def served() -> Iterator[Served]:
    api = Served()
    with api.client:
        yield api


def problem_of(response: Any, status: int, name: str) -> dict[str, Any]:
    """The response's problem document, checked to be one of ``status`` and type ``name`` for its request."""

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    doc = response.json()
    assert doc["type"] == PROBLEM_BASE + name
    assert doc["status"] == status
    # The route's template, never the path as sent (it may hold what the caller typed); none off every route.
    assert "instance" not in doc or doc["instance"].startswith("/v1/")
    if "/programmes/" in response.request.url.path and "instance" in doc:
        assert "{programme}" in doc["instance"]
    assert doc["title"] and doc["detail"]
    return doc


# -- authentication ------------------------------------------------------------------------------


def refused_keys(served: Served) -> dict[str, str | None]:
    valid = served.key("admin")
    key_id, secret = valid.split("_", 2)[1:]
    revoked = served.key("admin")
    served.context.keys().revoke(revoked.split("_")[1], NOW, programme="loyalty")
    return {
        "none": None,
        "malformed": "lk_nothing",
        "unknown": f"lk_{'0' * 16}_{secret}",
        "wrong secret": f"lk_{key_id}_{('B' if secret[0] == 'A' else 'A') + secret[1:]}",
        "revoked": revoked,
        "expired": served.key("admin", expires_in=timedelta(hours=1)),  # the test moves the clock to its expiry
        "other programme": served.key("admin", programme="airline"),
    }


@pytest.mark.parametrize("case", ["none", "malformed", "unknown", "wrong secret", "revoked", "expired", "other programme"])
def test_a_write_without_a_valid_key_is_401_and_posts_nothing(served: Served, case: str) -> None:
    keys = refused_keys(served)
    if case == "expired":
        served.clock.now = NOW + timedelta(hours=1)
    before = served.posted()
    response = served.post("/earn", key=keys[case])
    problem_of(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert served.posted() == before
    assert served.context.idempotency_store.rows == {}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "lk_0123456789abcdef_x", ""])
def test_an_authorization_header_that_is_no_bearer_key_is_401(served: Served, header: str) -> None:
    response = served.client.post("/v1/programmes/loyalty/earn", json=EARN, headers={"Authorization": header, "Idempotency-Key": "k-1"})
    problem_of(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_scheme_is_case_insensitive(served: Served) -> None:
    key = served.key("pos:earn")
    response = served.client.post("/v1/programmes/loyalty/earn", json=EARN, headers={"Authorization": f"bearer {key}", "Idempotency-Key": "k-1"})
    assert response.status_code == 201, response.text


def test_a_key_of_one_programme_writes_nothing_on_another(served: Served) -> None:
    airline = served.key("admin", programme="airline")
    loyalty = served.key("admin")
    before = {name: served.posted(name) for name in served.ledgers}
    problem_of(served.post("/earn", key=airline, programme="loyalty"), 401, "unauthenticated")
    problem_of(served.post("/earn", key=loyalty, programme="airline"), 401, "unauthenticated")
    assert {name: served.posted(name) for name in served.ledgers} == before
    assert served.post("/earn", key=airline, programme="airline").status_code == 201
    assert served.posted("airline")[0] == before["airline"][0] + 1
    assert served.posted("loyalty") == before["loyalty"]


def test_a_programme_not_served_is_404(served: Served) -> None:
    key = served.key("admin", programme="nowhere")
    problem_of(served.post("/earn", key=key, programme="nowhere"), 404, "not-found")


# -- the Idempotency-Key ----------------------------------------------------------------------------


@pytest.mark.parametrize("idem", [None, "", "has space", "x" * 129])
def test_a_write_without_a_well_formed_idempotency_key_is_400(served: Served, idem: str | None) -> None:
    before = served.posted()
    doc = problem_of(served.post("/earn", key=served.key("pos:earn"), idem=idem), 400, "invalid-request")
    assert "Idempotency-Key" in doc["detail"]
    assert served.posted() == before


def test_a_valid_earn_is_201_with_its_summary(served: Served) -> None:
    app = served.apps["loyalty"]
    command = EarnCommand(customer="c42", order_id="o-1001", amount=Money(amount=Decimal("20.00"), currency="USD"), ordered_at=NOW)
    points = app.program.quote(command).points
    before = served.posted()
    response = served.post("/earn", key=served.key("pos:earn"))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in response.headers
    earned = [tx for tx in served.ledgers["loyalty"].txs if tx.reference == "earn:o-1001"]
    assert len(earned) == 1
    assert response.json() == {
        "operation": "earn", "reference": "earn:o-1001", "replayed": False, "points": points, "transactions": [earned[0].id], "note": None,
    }
    assert points > 0
    assert served.posted()[0] == before[0] + 1
    assert earned[0].timestamp == NOW


def test_the_same_key_and_body_replay_the_stored_answer(served: Served) -> None:
    key = served.key("pos:earn")
    first = served.post("/earn", key=key)
    after_first = served.posted()
    reformatted = '{ "amount" : {"currency":"USD", "amount":"20.00"},\n "order_id":"o-1001", "customer":"c42" }'
    for again in (served.post("/earn", key=key), served.post("/earn", key=key, content=reformatted, headers={"content-type": "application/json"})):
        assert again.status_code == first.status_code == 201
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
    assert served.posted() == after_first


def test_another_body_or_path_with_the_same_key_is_409(served: Served) -> None:
    key = served.key("admin")
    served.post("/earn", key=key)
    after_first = served.posted()
    other = {**EARN, "amount": {"amount": "25.00", "currency": "USD"}}
    doc = problem_of(served.post("/earn", other, key=key), 409, "idempotency-conflict")
    assert "o-1001" in doc["detail"]
    problem_of(served.post("/holds", {"customer": "c42", "hold_id": "h-1", "points": 5}, key=key), 409, "idempotency-conflict")
    assert served.posted() == after_first


def test_an_idempotency_key_belongs_to_its_api_key(served: Served) -> None:
    served.post("/earn", key=served.key("pos:earn"))
    after_first = served.posted()
    again = served.post("/earn", key=served.key("pos:earn"))  # the same Idempotency-Key, another API key: it runs
    assert again.status_code == 200, again.text  # and the ledger's own exactly-once answers with the original
    assert again.json()["replayed"] is True
    assert "idempotent-replayed" not in again.headers
    assert served.posted() == after_first


def test_a_request_still_in_progress_is_409_until_its_lease_passes(served: Served) -> None:
    key = served.key("pos:earn")
    # The first request with this key was recorded and never answered (a crash, or still running).
    served.post("/earn", key=key, idem="k-0")
    started = served.context.idempotency_store.rows[("loyalty", key.split("_")[1], "k-0")]
    served.context.idempotency_store.rows[("loyalty", key.split("_")[1], "k-1")] = IdempotencyRow(
        digest=started.digest, operation="earn", business_key="o-1001", state="in_progress", started_at=NOW
    )
    before = served.posted()
    served.clock.now = NOW + LEASE - timedelta(seconds=1)
    doc = problem_of(served.post("/earn", key=key), 409, "idempotency-conflict")
    assert "still being processed" in doc["detail"]
    assert served.posted() == before
    served.clock.now = NOW + LEASE
    taken_over = served.post("/earn", key=key)
    assert taken_over.status_code == 200 and taken_over.json()["replayed"] is True  # earn:o-1001 was posted by k-0
    assert served.posted() == before


def test_an_answer_that_says_nothing_releases_the_key(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    key = served.key("pos:earn")
    ledger = served.ledgers["loyalty"]

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise LedgerUnavailable("ledger unavailable: connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(ledger, "post", unreachable)
        patch.setattr(ledger, "post_many", unreachable)
        problem_of(served.post("/earn", key=key), 503, "ledger-unavailable")
    assert served.context.idempotency_store.rows == {}
    retry = served.post("/earn", key=key)
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert [tx.reference for tx in ledger.txs].count("earn:o-1001") == 1


def test_a_programme_whose_ledger_is_not_made_yet_answers_404_without_keeping_it(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    key = served.key("pos:earn")
    ledger = served.ledgers["loyalty"]

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise UnknownEntity("ledger loyalty not found", code="LEDGER_NOT_FOUND")

    with monkeypatch.context() as patch:
        patch.setattr(ledger, "post", missing)
        patch.setattr(ledger, "post_many", missing)
        problem_of(served.post("/earn", key=key), 404, "not-found")
    assert served.context.idempotency_store.rows == {}  # `loyalty init`, then the same retry runs
    assert served.post("/earn", key=key).status_code == 201


def test_an_unexpected_error_is_a_500_that_says_nothing_and_releases_the_key(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    key = served.key("pos:earn")
    ledger = served.ledgers["loyalty"]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"bug while posting for {EMAIL}")

    quiet = TestClient(served.client.app, raise_server_exceptions=False)
    with monkeypatch.context() as patch:
        patch.setattr(ledger, "post", broken)
        patch.setattr(ledger, "post_many", broken)
        response = quiet.post("/v1/programmes/loyalty/earn", json=EARN, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "k-1"})
    problem_of(response, 500, "internal")
    assert "bug" not in response.text and "example.com" not in response.text
    assert served.context.idempotency_store.rows == {}
    assert served.post("/earn", key=key).status_code == 201


def test_a_business_refusal_is_a_final_answer_kept_for_its_key(served: Served) -> None:
    key = served.key("admin")
    assert served.post("/engagements", {"customer": "c42", "event": "sign_up", "key": "s-1"}, key=key, idem="e-1").status_code == 201
    after_first = served.posted()
    second = served.post("/engagements", {"customer": "c42", "event": "sign_up", "key": "s-2"}, key=key, idem="e-2")
    problem_of(second, 422, "engagement-limit-reached")
    again = served.post("/engagements", {"customer": "c42", "event": "sign_up", "key": "s-2"}, key=key, idem="e-2")
    assert (again.status_code, again.content, again.headers["content-type"]) == (422, second.content, PROBLEM)
    assert again.headers["idempotent-replayed"] == "true"
    assert served.posted() == after_first


# -- scopes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "path", "body"),
    [
        (("checkout:spend",), "/earn", EARN),
        (("finance:read", "member:read"), "/earn", EARN),
        (("pos:earn",), "/holds", {"customer": "c42", "hold_id": "h-1", "points": 5}),
        (("pos:earn", "checkout:spend"), "/transfers", {"customer": "c42", "to_customer": "c77", "transfer_id": "t-1", "points": 5}),
        (("pos:earn",), "/releases", {}),
        (("partner:skyway",), "/earn", EARN),
    ],
)
def test_a_key_whose_scopes_do_not_cover_the_write_is_403(served: Served, scopes: tuple[str, ...], path: str, body: Any) -> None:
    member = "c42" if "member:read" in scopes else None
    before = served.posted()
    doc = problem_of(served.post(path, body, key=served.key(*scopes, member=member)), 403, "forbidden")
    assert all(s in doc["detail"] for s in scopes)
    assert served.posted() == before
    assert served.context.idempotency_store.rows == {}


def test_a_partner_key_exchanges_with_its_own_partner_only(served: Served) -> None:
    exchange = {"customer": "c42", "exchange_id": "x-1", "partner": "skyway", "partner_points": 100}
    before = served.posted()
    problem_of(served.post("/exchanges/in", {**exchange, "partner": "railco"}, key=served.key("partner:skyway")), 403, "forbidden")
    assert served.posted() == before
    response = served.post("/exchanges/in", exchange, key=served.key("partner:skyway"), idem="x-1")
    assert response.status_code == 201, response.text
    assert response.json()["reference"] == "exchange_in:x-1"


def test_a_member_read_key_reads_its_own_member_only(served: Served) -> None:
    served.post("/earn", key=served.key("pos:earn"))
    served.post("/earn", {**EARN, "customer": "c77", "order_id": "o-1002"}, key=served.key("pos:earn"), idem="k-2")
    key = served.key("member:read", member="c42")
    own = served.client.get("/v1/programmes/loyalty/members/c42/balance", headers={"Authorization": f"Bearer {key}"})
    assert own.status_code == 200, own.text
    assert own.json()["total"] == served.apps["loyalty"].program.balance("c42").total > 0
    other = served.client.get("/v1/programmes/loyalty/members/c77/balance", headers={"Authorization": f"Bearer {key}"})
    problem_of(other, 403, "forbidden")
    problem_of(served.client.get("/v1/programmes/loyalty/members/c42/balance"), 401, "unauthenticated")


# -- request validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {**EARN, "customer": EMAIL},
        {**EARN, EMAIL: "c42"},
        {**EARN, "category": EMAIL},
        {**EARN, "order_id": f"o-1 {EMAIL}"},
        {**EARN, "amount": {"amount": EMAIL, "currency": "USD"}},
        {**EARN, "ordered_at": EMAIL},
        [EMAIL],
        EMAIL,
    ],
)
def test_a_request_validation_error_is_a_400_problem_without_the_email(served: Served, body: Any) -> None:
    before = served.posted()
    response = served.post("/earn", body, key=served.key("pos:earn"))
    doc = problem_of(response, 400, "invalid-request")
    for part in ("ann.lee", "example.com"):
        assert part not in response.text
    assert doc["detail"]
    assert served.posted() == before


def test_a_quote_never_repeats_an_email_given_as_a_field(served: Served) -> None:
    key = served.key("pos:earn")
    response = served.client.post("/v1/programmes/loyalty/quote", json={**EARN, EMAIL: 1}, headers={"Authorization": f"Bearer {key}"})
    problem_of(response, 400, "invalid-request")
    assert "example.com" not in response.text


def test_malformed_json_is_a_400_problem(served: Served) -> None:
    text = '{"customer": "' + EMAIL + '", "order_id": '
    response = served.post("/earn", key=served.key("pos:earn"), content=text, headers={"content-type": "application/json"})
    problem_of(response, 400, "invalid-request")
    assert "example.com" not in response.text


@pytest.mark.parametrize("amount", ["20.5", "20.00", "2e1"])
def test_money_as_a_json_number_is_400(served: Served, amount: str) -> None:
    text = json.dumps(EARN).replace('"20.00"', amount)
    response = served.post("/earn", key=served.key("pos:earn"), content=text, headers={"content-type": "application/json"})
    problem_of(response, 400, "invalid-request")
    assert served.posted()[0] == 0


@pytest.mark.parametrize("points", ["70", 70.0, True])
def test_points_are_json_integers(served: Served, points: Any) -> None:
    before = served.posted()
    response = served.post("/holds", {"customer": "c42", "hold_id": "h-1", "points": points}, key=served.key("checkout:spend"))
    doc = problem_of(response, 400, "invalid-request")
    assert "points" in doc["detail"]
    assert served.posted() == before


# -- limits ---------------------------------------------------------------------------------------------


def test_a_body_over_max_body_is_413_before_it_is_read(served: Served) -> None:
    padding = MAX_BODY + 1 - len(json.dumps({**EARN, "category": ""}))
    text = json.dumps({**EARN, "category": "x" * padding})
    assert len(text.encode()) == MAX_BODY + 1
    before = served.posted()
    response = served.post("/earn", key=served.key("pos:earn"), content=text, headers={"content-type": "application/json"})
    doc = problem_of(response, 413, "too-large")
    assert str(MAX_BODY) in doc["detail"]
    assert served.posted() == before
    at_most = served.post("/earn", key=served.key("pos:earn"), content=text[:-3] + '"}', headers={"content-type": "application/json"})
    assert len(at_most.request.content) == MAX_BODY
    assert at_most.status_code == 400  # read, and refused for what it says (a category of 65,000 letters)


def test_a_body_without_a_length_is_refused_unread(served: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"customer":"c42","order_id":"o-1001","amount":{"amount":"20.00","currency":"USD"},"channel":"'
        for _ in range(2 * MAX_BODY // 1024):
            yield b"x" * 1024
        yield b'"}'

    before = served.posted()
    response = served.post("/earn", key=served.key("pos:earn"), content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    problem_of(response, 411, "length-required")
    assert served.posted() == before


# -- the OpenAPI document and the request log ---------------------------------------------------------


def test_the_openapi_document_lists_every_write(served: Served) -> None:
    document = served.client.get("/v1/openapi.json").json()
    for write in WRITES:
        path = "/v1/programmes/{programme}" + write.path
        assert "post" in document["paths"].get(path, {}), path
        operation = document["paths"][path]["post"]
        assert "201" in operation["responses"]
        assert operation["requestBody"]["required"] is True
        assert write.operation in operation["description"]
    assert served.client.get("/v1/docs").status_code == 200


def test_the_openapi_document_states_the_commands_constraints(served: Served) -> None:
    schemas = served.client.get("/v1/openapi.json").json()["components"]["schemas"]
    hold = schemas["HoldRequest"]
    assert set(hold["required"]) == {"customer", "hold_id", "points"}
    assert hold["properties"]["customer"]["pattern"] == CUSTOMER_PATTERN
    assert hold["properties"]["points"]["exclusiveMinimum"] == 0
    assert hold["additionalProperties"] is False


def test_the_request_log_is_one_json_line_without_body_or_key(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    key = served.key("pos:earn")
    secret = key.split("_", 2)[2]
    with caplog.at_level(logging.INFO, logger="loyalty_accounts.api"):
        served.post("/earn", {**EARN, "customer": "c4242", "order_id": "o-secret-order"}, key=key, idem="idem-text-77")
        served.post("/earn", key=None)
    lines = [r.getMessage() for r in caplog.records if r.name == "loyalty_accounts.api"]
    assert len(lines) == 2
    written, refused = (json.loads(line) for line in lines)
    assert set(written) == {"method", "route", "programme", "status", "ms", "key_id"}
    assert written["method"] == "POST"
    assert written["route"] == "/v1/programmes/{programme}/earn"
    assert written["programme"] == "loyalty"
    assert written["status"] == 201
    assert written["key_id"] == key.split("_")[1]
    assert isinstance(written["ms"], (int, float)) and written["ms"] >= 0
    assert (refused["status"], refused["key_id"]) == (401, None)
    for text in ("c4242", "o-secret-order", "idem-text-77", secret, "USD", "20.00"):
        assert not any(text in line for line in lines), text


def test_the_request_log_leaves_out_the_query_string(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    key = served.key("admin")
    with caplog.at_level(logging.INFO, logger="loyalty_accounts.api"):
        served.client.get("/v1/programmes/loyalty/members/c42/balance?as_of=2026-05-01", headers={"Authorization": f"Bearer {key}"})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "loyalty_accounts.api"]
    logged = json.loads(line)
    assert logged["route"] == "/v1/programmes/{programme}/members/{member}/balance"
    assert "2026-05-01" not in line and "c42" not in line


# -- after a new user's trial: nothing a caller typed comes back, the scope before the request ----------


def test_a_key_without_the_scope_is_refused_before_its_body_is_read(served: Served) -> None:
    finance = served.key("finance:read")
    refused = served.post("/adjustments", {"customer": "c42"}, key=finance, idem="a-1")  # not a valid adjustment either
    problem_of(refused, 403, "forbidden")
    alice = served.key("member:read", member="alice")
    read = served.client.get("/v1/programmes/loyalty/members/bob/history?limit=abc", headers={"Authorization": f"Bearer {alice}"})
    assert read.status_code == 403 and "own member only" in read.json()["detail"]


def test_a_path_holding_an_email_is_not_handed_back(served: Served) -> None:
    key = served.key("finance:read")
    answer = served.client.get(f"/v1/programmes/loyalty/members/{EMAIL}/balance", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code >= 400 and EMAIL not in answer.text
    assert answer.json()["instance"] == "/v1/programmes/{programme}/members/{member}/balance"
    stranger = served.client.get(f"/v1/{EMAIL}")
    assert stranger.status_code == 404 and EMAIL not in stranger.text


def test_a_trailing_slash_is_not_redirected_to_the_callers_host(served: Served) -> None:
    answer = served.client.post("/v1/programmes/loyalty/earn/", json=EARN, headers={"Host": "evil.example"}, follow_redirects=False)
    assert answer.status_code == 404 and "location" not in answer.headers


def test_the_log_names_only_a_served_programme(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="loyalty_accounts.api"):
        served.post("/earn", key=None, programme=EMAIL.replace("@", "-at-"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "loyalty_accounts.api"]
    assert lines and lines[-1]["programme"] == "(not served)"


def test_the_openapi_document_says_how_to_call(served: Served) -> None:
    document = served.client.get("/v1/openapi.json").json()
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for write in WRITES:
        operation = document["paths"]["/v1/programmes/{programme}" + write.path]["post"]
        assert operation["security"] == [{"apiKey": []}]
        assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
        assert "422" not in operation["responses"] and "application/problem+json" in operation["responses"]["400"]["content"]


def test_a_redemption_of_a_catalogue_reward_is_priced_and_out_of_stock_is_its_own_problem(served: Served) -> None:
    from loyalty_accounts.operations.restock import RestockCommand

    program = served.apps["loyalty"].program
    key = served.key("pos:earn", "checkout:spend")
    assert served.post("/earn", {**EARN, "amount": {"amount": "2000.00", "currency": "USD"}}, key=key, idem="e-1").status_code == 201
    program.release(NOW + timedelta(days=30), customer="c42")
    program.restock(RestockCommand(reward="MUG-BLUE", units=1, restock_id="rs-1", at=NOW))
    # after the chargeback window (pending points are not spendable)
    body = {"customer": "c42", "redemption_id": "rd-1", "reward": "MUG-BLUE", "at": (NOW + timedelta(days=30)).isoformat()}
    first = served.post("/redemptions", body, key=key, idem="rd-1")
    assert first.status_code == 201, first.text
    assert first.json()["points"] == 1000  # 12.50 at 80 points per 1.00, from the catalogue
    before = served.posted()
    second = served.post("/redemptions", {**body, "redemption_id": "rd-2"}, key=key, idem="rd-2")
    doc = problem_of(second, 422, "out-of-stock")
    assert "MUG-BLUE is out of stock" in doc["detail"]
    assert served.posted()[1] == before[1]  # nothing posted
