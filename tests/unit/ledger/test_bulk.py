"""Bulk posting: chunks, input order, replays recognised up front, element errors, atomic batches.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

import httpx
import pytest
import respx
from ledgersupport import (
    BULK_URL,
    TX_URL,
    body_of,
    bulk_responder,
    cursor,
    lookup_route,
    make_client,
    make_plan,
    tx_json,
)

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    OutcomeUnknown,
)

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


def test_bulk_chunks_by_100_and_keeps_input_order(router: respx.Router) -> None:
    plans = [make_plan(f"earn:order-{i}") for i in range(250)]
    ids = {plan.reference: 1000 + i for i, plan in enumerate(plans)}
    lookups = lookup_route(router, [])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder(ids, reverse=True))

    with make_client(router) as client:
        posted = client.post_many(plans)

    assert bulk.call_count == 3 and lookups.call_count == 3
    sizes = [len(body_of(call.request)) for call in bulk.calls]
    assert sizes == [100, 100, 50]
    first = body_of(bulk.calls[0].request)[0]
    assert first["action"] == "CREATE_TRANSACTION"
    assert first["ik"].startswith("loyalty:earn:order-0#")
    keys = [element["ik"] for call in bulk.calls for element in body_of(call.request)]
    assert len(set(keys)) == 250
    assert first["data"]["script"]["vars"] == {"amount": "PTS 100", "customer": "customers:42:points"}
    params = bulk.calls[0].request.url.params
    assert params["continueOnFailure"] == "true" and "atomic" not in params and "parallel" not in params
    assert body_of(lookups.calls[0].request) == {"$in": {"reference": [p.reference for p in plans[:100]]}}
    assert [tx.reference for tx in posted] == [plan.reference for plan in plans]
    assert [tx.id for tx in posted] == [ids[plan.reference] for plan in plans]


def test_bulk_recognises_replays_before_sending(router: respx.Router) -> None:
    plans = [make_plan("earn:a"), make_plan("earn:b")]
    lookup_route(router, [tx_json(5, "earn:a", command_hash="hash-1")])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({"earn:b": 6}))

    with make_client(router) as client:
        posted = client.post_many(plans)

    assert [e["data"]["reference"] for e in body_of(bulk.calls.last.request)] == ["earn:b"]
    assert [(tx.id, tx.replayed) for tx in posted] == [(5, True), (6, False)]


def test_bulk_refuses_a_reused_reference_before_sending(router: respx.Router) -> None:
    lookup_route(router, [tx_json(5, "earn:a", command_hash="another-command")])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({}))
    with make_client(router) as client, pytest.raises(DuplicateOperation):
        client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert bulk.call_count == 0


def test_bulk_element_error_is_mapped_and_names_the_reference(router: respx.Router) -> None:
    lookup_route(router, [])
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "data": [
                    {"responseType": "CREATE_TRANSACTION", "logID": 1, "data": tx_json(1, "earn:a")},
                    {
                        "responseType": "ERROR",
                        "logID": 0,
                        "errorCode": "INSUFFICIENT_FUND",
                        "errorDescription": "account had insufficient funds",
                    },
                ]
            },
        )
    )
    with make_client(router) as client, pytest.raises(InsufficientPoints) as caught:
        client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert "earn:b" in str(caught.value) and caught.value.code == "INSUFFICIENT_FUND"
    assert caught.value.details["failures"][0]["reference"] == "earn:b"


def test_bulk_element_conflict_is_resolved_like_post(router: respx.Router) -> None:
    lookups = router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "data": [
                    {"responseType": "CREATE_TRANSACTION", "logID": 1, "data": tx_json(1, "earn:a")},
                    {
                        "responseType": "ERROR",
                        "errorCode": "CONFLICT",
                        "errorDescription": 'duplicate reference "earn:b"',
                    },
                ]
            },
        )
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (9, True)]
    assert body_of(lookups.calls.last.request) == {"$match": {"reference": "earn:b"}}


def test_bulk_looked_up_by_the_caller_is_sent_without_a_lookup(router: respx.Router) -> None:
    lookups = lookup_route(router, [])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({"earn:a": 1, "earn:b": 2}))

    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")], looked_up=True)

    assert lookups.call_count == 0 and bulk.call_count == 1
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (2, False)]


def test_a_reference_another_command_took_after_the_lookup_refuses_that_element_only(router: respx.Router) -> None:
    # The caller looked the references up; before the post, another process posted
    # earn:b (a replay of ours) and earn:c for a different command.
    lookups = router.get(TX_URL).mock(
        side_effect=[cursor([tx_json(8, "earn:b")]), cursor([tx_json(9, "earn:c", command_hash="another-command")])]
    )
    conflict = {"responseType": "ERROR", "errorCode": "CONFLICT", "errorDescription": "duplicate reference"}
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400, json={"data": [{"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")}, conflict, conflict]}
        )
    )
    plans = [make_plan("earn:a"), make_plan("earn:b"), make_plan("earn:c")]
    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.post_many(plans, looked_up=True)

    assert lookups.call_count == 2  # one per conflicting element, none up front
    details = caught.value.details
    assert [(f["reference"], f["code"]) for f in details["failures"]] == [("earn:c", "CONFLICT")]
    assert details["posted"] == ["earn:a"] and details["replayed"] == ["earn:b"]
    assert "transaction 9" in caught.value.message


def test_atomic_bulk_resends_the_rest_after_a_resolved_conflict(router: respx.Router) -> None:
    router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    bulk = router.post(BULK_URL).mock(
        side_effect=[
            httpx.Response(
                400,
                json={
                    "data": [
                        {"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")},
                        {"responseType": "ERROR", "errorCode": "CONFLICT", "errorDescription": "duplicate reference"},
                    ]
                },
            ),
            bulk_responder({"earn:a": 2}),
        ]
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")], atomic=True)

    assert bulk.calls[0].request.url.params["atomic"] == "true"
    assert [e["data"]["reference"] for e in body_of(bulk.calls[1].request)] == ["earn:a"]
    assert [(tx.id, tx.replayed) for tx in posted] == [(2, False), (9, True)]


def test_atomic_bulk_over_one_chunk_is_refused(router: respx.Router) -> None:
    with make_client(router) as client, pytest.raises(InvalidCommand):
        client.post_many([make_plan(f"earn:{i}") for i in range(101)], atomic=True)
    assert not router.calls


def test_repeated_reference_in_one_batch(router: respx.Router) -> None:
    lookup_route(router, [])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({"earn:a": 1}))
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:a")])
        with pytest.raises(DuplicateOperation):
            client.post_many([make_plan("earn:a"), make_plan("earn:a", command_hash="other")])
    assert len(body_of(bulk.calls[0].request)) == 1 and bulk.call_count == 1
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (1, True)]


def test_bulk_element_insufficient_funds_with_its_reference_taken_is_a_replay(router: respx.Router) -> None:
    lookups = router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "data": [
                    {"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")},
                    {"responseType": "ERROR", "errorCode": "INSUFFICIENT_FUND", "errorDescription": "insufficient"},
                ]
            },
        )
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (9, True)]
    assert body_of(lookups.calls.last.request) == {"$match": {"reference": "earn:b"}}


def test_bulk_conflict_after_an_unanswered_attempt_is_settled_with_the_same_keys(router: respx.Router) -> None:
    router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    bulk = router.post(BULK_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            httpx.Response(
                400,
                json={
                    "data": [
                        {"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")},
                        {"responseType": "ERROR", "errorCode": "CONFLICT", "errorDescription": "duplicate reference"},
                    ]
                },
            ),
            bulk_responder({"earn:b": 9}),  # b's key is known to the ledger: our first attempt posted it
        ]
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (9, False)]
    recheck = bulk.calls[2].request
    assert [e["data"]["reference"] for e in body_of(recheck)] == ["earn:b"]
    assert body_of(recheck)[0]["ik"] == body_of(bulk.calls[0].request)[1]["ik"]
    assert "atomic" not in recheck.url.params


def test_a_bulk_out_of_retries_is_unknown(router: respx.Router) -> None:
    lookup_route(router, [])
    router.post(BULK_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with make_client(router, max_attempts=2) as client, pytest.raises(OutcomeUnknown):
        client.post_many([make_plan("earn:a")])
