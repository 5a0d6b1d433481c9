"""Requests per operation on the real server, and the horizon that makes them few.

An operation dated after the customer's latest transaction reads one listing
(the guard's counters, horizon and closed mark, and the accounts its plan
needs) and posts once: two HTTP requests. One dated before it reads the
history too. The horizon row itself must equal the latest instant, on the
server as in the in-memory ledger (tests/unit/services/test_horizon.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Iterator

import httpx
import pytest
from support.programme import T0, earn, programme

from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import RedeemCommand
from loyalty_accounts.operations.guard import microseconds

HOUR = timedelta(hours=1)


@pytest.fixture
def requests() -> Iterator[Counter[str]]:
    """Every HTTP request this process sends while the test runs, counted by method."""

    seen: Counter[str] = Counter()
    send = httpx.Client.send

    def counting(self: httpx.Client, request: httpx.Request, *args: object, **kwargs: object) -> httpx.Response:
        seen[request.method] += 1
        return send(self, request, *args, **kwargs)  # type: ignore[arg-type]

    httpx.Client.send = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        httpx.Client.send = send  # type: ignore[method-assign]


def test_an_operation_after_the_horizon_costs_two_requests(client: LedgerClient, requests: Counter[str]) -> None:
    program = programme(client, pending_days=0)
    program.earn(earn("c1", "o1", "100.00", T0))  # a new customer: openings and a history check
    requests.clear()
    program.earn(earn("c1", "o2", "40.00", T0 + HOUR))  # T0 is outside every capped campaign of rules.yaml
    assert requests == Counter({"GET": 1, "POST": 1})
    requests.clear()
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=30, at=T0 + 2 * HOUR))
    assert requests == Counter({"GET": 1, "POST": 1})
    requests.clear()
    # dated before the horizon: the history from its instant on is read as well
    program.redeem(RedeemCommand(customer="c1", redemption_id="r0", points=10, at=T0 + HOUR + HOUR / 2))
    assert requests["POST"] == 1 and requests["GET"] >= 2
    horizon = client.account(program.chart.horizon("c1")).balance(program.chart.control_asset)
    assert horizon == -microseconds(T0 + 2 * HOUR)
    assert program.balance("c1").spendable == 140 - 30 - 10
