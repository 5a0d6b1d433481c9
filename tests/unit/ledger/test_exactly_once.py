"""Exactly once: a taken reference is looked up, and ``replayed`` tells an earlier call from this one.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
import respx
from ledgersupport import (
    TX_URL,
    body_of,
    error,
    lookup_route,
    make_client,
    make_plan,
    ok,
    tx_json,
)

from loyalty_accounts.errors import DuplicateOperation

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


# -- idempotency hits ----------------------------------------------------------


def test_idempotency_hit_on_the_first_attempt_means_an_earlier_call(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1"), **{"Idempotency-Hit": "true"}))
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True


# -- conflicts -----------------------------------------------------------------


def test_conflict_with_same_command_hash_is_a_replay(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=error(409, "CONFLICT", 'duplicate reference "earn:order-1"'))
    lookup = lookup_route(router, [tx_json(3, "earn:order-1", command_hash="hash-1")])

    with make_client(router) as client:
        posted = client.post(make_plan())

    assert posted.id == 3 and posted.replayed is True
    request = lookup.calls.last.request
    assert body_of(request) == {"$match": {"reference": "earn:order-1"}}
    assert request.method == "GET"


def test_conflict_with_other_command_hash_is_a_duplicate_operation(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=error(409, "CONFLICT", 'duplicate reference "earn:order-1"'))
    lookup_route(router, [tx_json(3, "earn:order-1", command_hash="another-command")])

    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.post(make_plan())
    assert "earn:order-1" in str(caught.value)


def test_conflict_without_body_is_still_resolved(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=httpx.Response(409))
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True


def test_invalid_idempotency_hash_is_resolved_by_reference(router: respx.Router) -> None:
    router.post(TX_URL).mock(
        return_value=error(
            400,
            "VALIDATION",
            "invalid idempotency hash when using idempotency key 'loyalty:earn:order-1', "
            "has computed 'a' but 'b' is stored",
        )
    )
    lookup_route(router, [tx_json(3, "earn:order-1", command_hash="hash-1")])
    with make_client(router) as client:
        posted = client.post(make_plan(timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    assert posted.id == 3 and posted.replayed is True


def test_insufficient_funds_with_the_reference_taken_by_the_same_command_is_a_replay(router: respx.Router) -> None:
    # v2.4.12 checks funds before the reference: the losing twin of a spend of the whole balance hears this.
    route = router.post(TX_URL).mock(return_value=error(400, "INSUFFICIENT_FUND", "account had insufficient funds"))
    lookup = lookup_route(router, [tx_json(3, "earn:order-1", command_hash="hash-1")])
    with make_client(router) as client:
        posted = client.post(make_plan())
    assert posted.id == 3 and posted.replayed is True
    assert route.call_count == 1 and body_of(lookup.calls.last.request) == {"$match": {"reference": "earn:order-1"}}


def test_insufficient_funds_with_the_reference_taken_by_another_command_is_a_duplicate(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=error(400, "INSUFFICIENT_FUND", "account had insufficient funds"))
    lookup_route(router, [tx_json(3, "earn:order-1", command_hash="another-command")])
    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.post(make_plan())
    assert caught.value.details["transaction_id"] == 3


# -- replayed: this call or an earlier one -------------------------------------


def test_conflict_after_an_unanswered_attempt_that_was_ours_is_not_a_replay(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),  # our attempt, still running on the server...
            error(409, "CONFLICT", "duplicate reference"),  # ...commits before the retry
            ok(tx_json(3, "earn:order-1"), **{"Idempotency-Hit": "true"}),  # same key: the ledger knows it
        ]
    )
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        posted = client.post(make_plan())
    assert posted.id == 3 and posted.replayed is False
    assert route.call_count == 3
    assert len({call.request.headers["Idempotency-Key"] for call in route.calls}) == 1
    assert len({call.request.content for call in route.calls}) == 1


def test_conflict_after_an_unanswered_attempt_that_was_not_ours_is_a_replay(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            error(409, "CONFLICT", "duplicate reference"),
            error(409, "CONFLICT", "duplicate reference"),  # our key is unknown to the ledger: another call posted it
        ]
    )
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True
    assert route.call_count == 3


def test_conflict_after_refused_connections_only_is_a_replay_without_a_recheck(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[httpx.ConnectError("refused"), error(409, "CONFLICT", "duplicate reference")]
    )
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("inserted_at", "replayed"), [("2000-01-01T00:00:00Z", True), ("2999-01-01T00:00:00.5Z", False)]
)
def test_when_the_recheck_gets_no_answer_the_insertion_time_decides(
    router: respx.Router, inserted_at: str, replayed: bool
) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            error(409, "CONFLICT", "duplicate reference"),
            httpx.ReadTimeout("timed out"),
            httpx.ReadTimeout("timed out"),
        ]
    )
    lookup_route(router, [{**tx_json(3, "earn:order-1"), "insertedAt": inserted_at}])
    with make_client(router, max_attempts=2) as client:
        assert client.post(make_plan()).replayed is replayed
    assert route.call_count == 4
