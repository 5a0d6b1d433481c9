"""Wire formats on the way out: the create-transaction body and the checks made before sending.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import respx
from ledgersupport import TX_URL, body_of, make_client, make_plan, ok, tx_json

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.ledger import wire


def test_post_sends_script_vars_reference_metadata_and_idempotency_key(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))
    plan = make_plan(timestamp=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))))

    with make_client(router) as client:
        posted = client.post(plan, schema_version="v1")

    request = route.calls.last.request
    assert request.headers["Idempotency-Key"].startswith("loyalty:earn:order-1#")
    assert request.headers["Content-Type"] == "application/json"
    assert request.url.params["schemaVersion"] == "v1"
    body = body_of(request)
    assert body == {
        "metadata": {"command_hash": "hash-1", "operation": "earn", "order": "order-1", "template": "earn_points"},
        "reference": "earn:order-1",
        "script": {"plain": plan.script, "vars": {"amount": "PTS 100", "customer": "customers:42:points"}},
        "timestamp": "2024-05-01T10:00:00.123456Z",  # converted to UTC
    }
    assert list(body["metadata"]) == sorted(body["metadata"])
    assert posted.id == 7 and posted.reference == "earn:order-1" and posted.replayed is False
    assert posted.postings[0].amount == 100


def test_post_body_is_byte_identical_for_equal_plans(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))
    first = make_plan()
    second = first.model_copy(update={"vars": {"amount": "PTS 100", "customer": "customers:42:points"}})
    assert list(first.vars) != list(second.vars)

    with make_client(router) as client:
        client.post(first)
        client.post(second)

    one, two = (call.request for call in route.calls)
    assert one.content == two.content
    assert "timestamp" not in body_of(one)


@pytest.mark.parametrize("bad_filter", ["customers'; drop table x; --", "customers:*", "a::b c"])
def test_address_filters_are_checked_before_sending(router: respx.Router, bad_filter: str) -> None:
    with make_client(router) as client, pytest.raises(InvalidCommand):
        client.aggregate_balances(bad_filter)
    assert not router.calls


def test_a_transaction_carries_the_servers_insertion_instant_when_it_sends_one() -> None:
    tx = wire.transaction(tx_json(3, "earn:order-1"))
    assert tx.inserted_at == datetime(2024, 5, 1, 10, 0, 0, 200000, tzinfo=timezone.utc)
    assert tx.timestamp == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    without = {key: value for key, value in tx_json(3, "earn:order-1").items() if key != "insertedAt"}
    assert wire.transaction(without).inserted_at is None
    assert wire.transaction({**without, "insertedAt": "yesterday"}).inserted_at is None


def test_integers_beyond_python_s_string_limit_are_read_exactly() -> None:
    import httpx

    from loyalty_accounts.ledger.wire import json_body

    huge = "9" * 5000  # 10**5000 - 1, more digits than int() reads from text
    response = httpx.Response(200, content=b'{"data": {"input": ' + huge.encode() + b', "output": 1}}')
    body = json_body(response, "read volumes")
    assert body["data"]["input"] == 10**5000 - 1
    assert body["data"]["output"] == 1
