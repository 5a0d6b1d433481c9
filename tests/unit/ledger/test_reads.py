"""Reads at the HTTP edge: point-in-time parameters out, big integers and cursors in.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from ledgersupport import (
    BASE,
    BIG,
    TX_URL,
    body_of,
    cursor,
    error,
    make_client,
    ok,
    tx_json,
)

from loyalty_accounts.ledger.reads import PAGE_SIZE
from loyalty_accounts.errors import UnknownEntity

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


# -- server and schemas --------------------------------------------------------


@pytest.mark.parametrize(("gateway", "path"), [(False, "/_/info"), (True, "/api/ledger/_/info")])
def test_server_version_reads_info(router: respx.Router, gateway: bool, path: str) -> None:
    info = {"server": "ledger", "version": "v2.4.12"}  # raw, not wrapped in "data"
    router.get(f"{BASE}{path}").mock(return_value=httpx.Response(200, json=info))
    with make_client(router, gateway=gateway) as client:
        assert client.server_version() == "v2.4.12"


def test_list_schema_versions_follows_cursors(router: respx.Router) -> None:
    def schema(version: str) -> dict[str, Any]:
        return {"version": version, "createdAt": "2024-01-01T00:00:00Z", "chart": {"world": {}}}

    router.get(f"{BASE}/v2/loyalty/schemas").mock(
        side_effect=[cursor([schema("v1")], next_cursor="s-1"), cursor([schema("v2")])]
    )
    with make_client(router) as client:
        assert client.list_schema_versions() == ["v1", "v2"]


# -- accounts, transactions, balances, volumes, logs ---------------------------


def test_accounts_follow_cursors_with_volumes_as_big_ints(router: respx.Router) -> None:
    def account(address: str) -> dict[str, Any]:
        return {
            "address": address,
            "metadata": {"tier": "gold"},
            "effectiveVolumes": {"PTS": {"input": BIG, "output": 1, "balance": BIG - 1}},
        }

    route = router.get(f"{BASE}/v2/loyalty/accounts").mock(
        side_effect=[
            cursor([account("customers:1:points")], next_cursor="c-1"),
            cursor([account("customers:2:points")]),
        ]
    )
    pit = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with make_client(router) as client:
        accounts = list(client.accounts("customers::points", pit=pit))

    first, second = (call.request for call in route.calls)
    assert body_of(first) == {"$match": {"address": "customers::points"}}
    # Effective volumes: with a pit, expand=volumes would follow insertion order.
    assert first.url.params["expand"] == "effectiveVolumes"
    assert first.url.params["pageSize"] == str(PAGE_SIZE)
    assert first.url.params["pit"] == "2024-06-01T00:00:00Z"
    assert second.url.params["cursor"] == "c-1"
    assert [a.address for a in accounts] == ["customers:1:points", "customers:2:points"]
    assert accounts[0].volumes["PTS"].input == BIG and accounts[0].balance("PTS") == BIG - 1
    assert accounts[0].metadata == {"tier": "gold"}


def test_account_reads_one_address_with_volumes(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/accounts/customers:42:points").mock(
        return_value=ok(
            {
                "address": "customers:42:points",
                "metadata": {},
                "effectiveVolumes": {"PTS": {"input": 10, "output": 3, "balance": 7}},
            }
        )
    )
    with make_client(router) as client:
        state = client.account("customers:42:points")
    params = route.calls.last.request.url.params
    assert params["expand"] == "effectiveVolumes" and "pit" not in params
    assert state.balance("PTS") == 7


def test_account_as_of_an_instant_reads_effective_volumes_only(router: respx.Router) -> None:
    # A body as a server could send it with both expansions: insertion-order volumes (a back-dated
    # earn of 100 posted after the pit is missing) and effective ones (it is there). Only the
    # effective ones may be read.
    route = router.get(f"{BASE}/v2/loyalty/accounts/customers:42:points").mock(
        return_value=ok(
            {
                "address": "customers:42:points",
                "metadata": {},
                "volumes": {"PTS": {"input": 0, "output": 0, "balance": 0}},
                "effectiveVolumes": {"PTS": {"input": 100, "output": 30, "balance": 70}},
            }
        )
    )
    with make_client(router) as client:
        state = client.account("customers:42:points", pit=datetime(2026, 6, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    params = route.calls.last.request.url.params
    assert params["expand"] == "effectiveVolumes"
    assert params["pit"] == "2026-06-01T00:00:00Z"
    assert state.balance("PTS") == 70


def test_account_without_effective_volumes_has_none(router: respx.Router) -> None:
    # The server leaves the key out when nothing moved by the pit; "volumes" alone is not read.
    router.get(f"{BASE}/v2/loyalty/accounts/customers:42:points").mock(
        return_value=ok(
            {"address": "customers:42:points", "metadata": {}, "volumes": {"PTS": {"input": 5, "output": 0, "balance": 5}}}
        )
    )
    with make_client(router) as client:
        state = client.account("customers:42:points", pit=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert state.volumes == {} and state.balance("PTS") == 0


def test_unknown_account_is_unknown_entity(router: respx.Router) -> None:
    router.get(f"{BASE}/v2/loyalty/accounts/customers:404:points").mock(
        return_value=error(404, "NOT_FOUND", "account not found")
    )
    with make_client(router) as client, pytest.raises(UnknownEntity):
        client.account("customers:404:points")


def test_transactions_filter_oldest_first_and_follow_cursors(router: respx.Router) -> None:
    route = router.get(TX_URL).mock(
        side_effect=[cursor([tx_json(1, "earn:a")], next_cursor="n-1"), cursor([tx_json(2, "earn:b", amount=BIG)])]
    )
    with make_client(router) as client:
        found = list(
            client.transactions(
                account="customers:42:points",
                metadata={"operation": "earn"},
                start=datetime(2024, 1, 1, tzinfo=timezone.utc),
                end=datetime(2024, 2, 1, tzinfo=timezone.utc),
            )
        )

    first, second = (call.request for call in route.calls)
    assert body_of(first) == {
        "$and": [
            {"$match": {"account": "customers:42:points"}},
            {"$match": {"metadata[operation]": "earn"}},
            {"$gte": {"timestamp": "2024-01-01T00:00:00Z"}},
            {"$lt": {"timestamp": "2024-02-01T00:00:00Z"}},
        ]
    }
    assert first.url.params["reverse"] == "true" and first.url.params["pageSize"] == str(PAGE_SIZE)
    assert second.url.params["cursor"] == "n-1"
    assert [tx.id for tx in found] == [1, 2]
    assert found[1].postings[0].amount == BIG


def test_aggregate_balances_parse_big_ints(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/aggregate/balances").mock(
        return_value=ok({"PTS": BIG, "USD/2": -250})
    )
    with make_client(router) as client:
        balances = client.aggregate_balances("customers:...", use_insertion_date=True)
    request = route.calls.last.request
    assert body_of(request) == {"$match": {"address": "customers:..."}}
    assert request.url.params["useInsertionDate"] == "true"
    assert balances == {"PTS": BIG, "USD/2": -250}
    assert isinstance(balances["PTS"], int)


def test_aggregate_balances_as_of_an_instant_are_effective(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/aggregate/balances").mock(return_value=ok({"PTS": 100}))
    with make_client(router) as client:
        assert client.aggregate_balances("customers:...", pit=datetime(2026, 6, 1, tzinfo=timezone.utc)) == {"PTS": 100}
    params = route.calls.last.request.url.params
    assert params["pit"] == "2026-06-01T00:00:00Z"
    assert "useInsertionDate" not in params and "use_insertion_date" not in params


def test_aggregate_balances_without_filter_covers_every_account(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/aggregate/balances").mock(return_value=ok({"PTS": 0}))
    with make_client(router) as client:
        assert client.aggregate_balances("") == {"PTS": 0}
    assert body_of(route.calls.last.request) == {}


def test_volumes_window_group_by_and_big_ints(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/volumes").mock(
        return_value=cursor([{"account": "customers", "asset": "PTS", "input": BIG, "output": 5, "balance": BIG - 5}])
    )
    with make_client(router) as client:
        rows = client.volumes(
            "customers:...",
            start=datetime(2024, 1, 1, tzinfo=timezone.utc),
            end=datetime(2024, 2, 1, tzinfo=timezone.utc),
            group_by=1,
            insertion_date=True,
        )
    params = route.calls.last.request.url.params
    assert params["startTime"] == "2024-01-01T00:00:00Z" and params["endTime"] == "2024-02-01T00:00:00Z"
    assert params["groupBy"] == "1" and params["insertionDate"] == "true"
    assert rows[0].account == "customers" and rows[0].input == BIG and rows[0].balance == BIG - 5


def test_volumes_up_to_an_instant_are_effective(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/volumes").mock(return_value=cursor([]))
    with make_client(router) as client:
        assert client.volumes("customers:...", end=datetime(2026, 6, 1, tzinfo=timezone.utc)) == []
    params = route.calls.last.request.url.params
    assert params["endTime"] == "2026-06-01T00:00:00Z"
    assert "insertionDate" not in params and "startTime" not in params


def test_transactions_as_of_an_instant_send_the_pit(router: respx.Router) -> None:
    route = router.get(TX_URL).mock(return_value=cursor([tx_json(1, "earn:a")]))
    with make_client(router) as client:
        found = list(client.transactions(metadata={"operation": "hold"}, pit=datetime(2026, 6, 1, tzinfo=timezone.utc)))
    request = route.calls.last.request
    assert request.url.params["pit"] == "2026-06-01T00:00:00Z"
    assert body_of(request) == {"$match": {"metadata[operation]": "hold"}}
    assert [tx.id for tx in found] == [1]


def test_logs_are_read_oldest_first(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/logs").mock(
        side_effect=[
            cursor([{"id": 0, "type": "NEW_TRANSACTION"}], next_cursor="l-1"),
            cursor([{"id": 1, "type": "INSERTED_SCHEMA"}]),
        ]
    )
    with make_client(router) as client:
        logs = list(client.logs())
    assert route.calls[0].request.url.params["sort"] == "id:asc"
    assert [entry["id"] for entry in logs] == [0, 1]


def test_logs_from_an_id_filter_on_the_server(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/logs").mock(return_value=cursor([{"id": 7, "type": "NEW_TRANSACTION"}]))
    with make_client(router) as client:
        logs = list(client.logs(from_id=7))
    request = route.calls.last.request
    assert body_of(request) == {"$gte": {"id": 7}} and request.url.params["sort"] == "id:asc"
    assert [entry["id"] for entry in logs] == [7]


def test_ledger_metadata_is_read_and_written(router: respx.Router) -> None:
    router.get(f"{BASE}/v2/loyalty").mock(
        return_value=ok({"name": "loyalty", "bucket": "_default", "metadata": {"k": "v"}, "id": 3, "addedAt": "2026-06-01T00:00:00Z", "features": {}})
    )
    put = router.put(f"{BASE}/v2/loyalty/metadata").mock(return_value=httpx.Response(204))
    with make_client(router) as client:
        assert client.ledger_metadata() == {"k": "v"}
        client.set_ledger_metadata({"loyalty.log_chain.verified": "{}"})
    assert body_of(put.calls.last.request) == {"loyalty.log_chain.verified": "{}"}
