"""What an Idempotency-Key is bound to: the header checked, and the request's digest (method, path, JSON body).

The store's decisions (new, replay, conflict, busy) are exercised over HTTP in test_server.py and against
PostgreSQL by the integration suite.
"""

from __future__ import annotations

import json

import pytest

from loyalty_accounts.api.idempotency import idempotency_key, request_digest
from loyalty_accounts.errors import InvalidCommand

PATH = "/v1/programmes/shop/earn"
BODY = {"customer": "c42", "order_id": "o-1001", "amount": {"amount": "20.00", "currency": "USD"}, "category": "café"}


def digest(text: str, path: str = PATH, method: str = "POST") -> bytes:
    return request_digest(method, path, json.loads(text))


# -- request_digest ---------------------------------------------------------------------


def test_key_order_and_whitespace_do_not_change_the_digest() -> None:
    compact = json.dumps(BODY, separators=(",", ":"), ensure_ascii=False)
    spread = '{\n  "category" : "caf\\u00e9",\n  "amount": {"currency": "USD",  "amount": "20.00"},\n\t"order_id": "o-1001", "customer": "c42"\n}'
    assert json.loads(spread) == BODY
    assert digest(spread) == digest(compact)
    assert len(digest(compact)) == 32


@pytest.mark.parametrize(
    "changed",
    [
        {**BODY, "customer": "c43"},
        {**BODY, "amount": {"amount": "20.01", "currency": "USD"}},
        {**BODY, "amount": {"amount": "20.00", "currency": "EUR"}},
        {**BODY, "channel": "web"},
        {k: v for k, v in BODY.items() if k != "category"},
        {**BODY, "order_id": ["o-1001"]},
        {**BODY, "amount": {"amount": 20, "currency": "USD"}},
    ],
)
def test_a_changed_value_changes_the_digest(changed: dict) -> None:
    assert request_digest("POST", PATH, changed) != request_digest("POST", PATH, BODY)


def test_the_path_and_the_method_count() -> None:
    same = request_digest("POST", PATH, BODY)
    assert request_digest("POST", "/v1/programmes/airline/earn", BODY) != same
    assert request_digest("POST", "/v1/programmes/shop/refunds", BODY) != same
    assert request_digest("PUT", PATH, BODY) != same
    assert request_digest("POST", PATH, BODY) == same


def test_an_empty_body_is_not_an_absent_one() -> None:
    assert request_digest("POST", "/v1/programmes/shop/releases", {}) != request_digest("POST", "/v1/programmes/shop/releases", None)


# -- idempotency_key ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["k", "till-12-000481", "A.b_c:d-9", "x" * 128, "2026-05-01T10:00:00Z"])
def test_a_well_formed_key_is_itself(text: str) -> None:
    assert idempotency_key(text) == text


def test_blanks_around_a_key_are_not_part_of_it() -> None:
    assert idempotency_key("  till-12-1\t") == "till-12-1"


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_key_says_every_write_needs_one(text: str | None) -> None:
    with pytest.raises(InvalidCommand, match="every write needs an Idempotency-Key header"):
        idempotency_key(text)


@pytest.mark.parametrize("text", ["x" * 129, "till 12", "a/b", "key*", "café", "a\nb", "k=1", "{uuid}"])
def test_a_malformed_key_is_refused(text: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        idempotency_key(text)
    assert caught.value.message.startswith("Idempotency-Key: 1 to 128 of")
