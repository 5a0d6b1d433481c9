"""The client's other writes: the ledger and its schemas, reverts, transaction metadata.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

import httpx
import pytest
import respx
from ledgersupport import BASE, TX_URL, body_of, error, make_client, ok, tx_json

from loyalty_accounts.errors import DuplicateOperation

# -- ledger and schemas --------------------------------------------------------


def test_create_ledger_true_then_false_when_it_exists(router: respx.Router) -> None:
    route = router.post(f"{BASE}/v2/loyalty").mock(
        side_effect=[httpx.Response(204), error(400, "LEDGER_ALREADY_EXISTS", "ledger already exists")]
    )
    with make_client(router) as client:
        assert client.create_ledger(metadata={"programme": "loyalty"}) is True
        assert client.create_ledger() is False
    assert body_of(route.calls[0].request) == {"metadata": {"programme": "loyalty"}}


def test_create_ledger_names_its_bucket_when_given_one(router: respx.Router) -> None:
    route = router.post(f"{BASE}/v2/loyalty").mock(return_value=httpx.Response(204))
    with make_client(router) as client:
        assert client.create_ledger(metadata={"programme": "loyalty"}, bucket="loyalty") is True
    assert body_of(route.calls[0].request) == {"metadata": {"programme": "loyalty"}, "bucket": "loyalty"}


def test_insert_schema_true_then_false_when_version_exists(router: respx.Router) -> None:
    schema = {
        "chart": {"world": {}, "customers": {"$id": {".pattern": "^[0-9]+$", "points": {}}}},
        "transactions": {"EARN": {"script": "send [PTS 1] (source = @world destination = @customers:1:points)"}},
    }
    route = router.post(f"{BASE}/v2/loyalty/schemas/v1").mock(
        side_effect=[httpx.Response(204), error(409, "SCHEMA_ALREADY_EXISTS", "schema v1 already exists")]
    )
    with make_client(router) as client:
        assert client.insert_schema("v1", schema) is True
        assert client.insert_schema("v1", schema) is False
    assert body_of(route.calls[0].request) == schema


# -- revert --------------------------------------------------------------------


def test_revert_posts_force_and_metadata_with_a_per_call_key(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/12/revert").mock(return_value=ok(tx_json(13, "", amount=100), status=201))
    with make_client(router) as client:
        reversal = client.revert(12, force=True, metadata={"reason": "refund"}, schema_version="v7")
        client.revert(12)

    first, second = (call.request for call in route.calls)
    assert first.url.params["force"] == "true"
    assert first.url.params["schemaVersion"] == "v7"
    assert "schemaVersion" not in second.url.params
    assert body_of(first) == {"metadata": {"reason": "refund"}}
    assert "force" not in second.url.params and second.content == b""
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]
    assert reversal.id == 13 and reversal.reference is None


def test_second_revert_is_a_duplicate_operation(router: respx.Router) -> None:
    router.post(f"{TX_URL}/12/revert").mock(
        return_value=error(400, "ALREADY_REVERT", "transaction 12 already reverted")
    )
    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.revert(12)
    assert caught.value.code == "ALREADY_REVERT"


def test_already_reverted_after_an_unanswered_attempt_is_settled_with_the_calls_own_key(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/12/revert").mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            error(400, "ALREADY_REVERT", "transaction 12 already reverted"),
            ok(tx_json(13, "", amount=100), status=201, **{"Idempotency-Hit": "true"}),
        ]
    )
    with make_client(router) as client:
        reversal = client.revert(12)
    assert reversal.id == 13 and route.call_count == 3
    assert len({call.request.headers["Idempotency-Key"] for call in route.calls}) == 1


# -- metadata ------------------------------------------------------------------


def test_add_transaction_metadata_is_idempotent_by_content(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/7/metadata").mock(return_value=httpx.Response(204))
    with make_client(router) as client:
        client.add_transaction_metadata(7, {"b": "2", "a": "1"}, schema_version="v3")
        client.add_transaction_metadata(7, {"a": "1", "b": "2"})
        client.add_transaction_metadata(7, {"a": "1", "b": "3"})
    first, second, third = (call.request for call in route.calls)
    assert body_of(first) == {"a": "1", "b": "2"}
    assert first.url.params["schemaVersion"] == "v3"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert third.headers["Idempotency-Key"] != first.headers["Idempotency-Key"]
