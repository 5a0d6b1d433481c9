"""Requests per operation on the real server, and the horizon that makes them few.

An operation dated after the customer's latest transaction reads one listing
(the guard's counters, horizon and closed mark, and the accounts its plan
needs) and posts once: two HTTP requests; the next operation of the customer
in the same process posts alone, from what the first left (checked by the
server's sequence leg). One dated before the horizon reads the history too. The horizon row itself must equal the latest instant, on the
server as in the in-memory ledger (tests/unit/services/test_horizon.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from support.programme import T0, earn, programme as repo_programme, rules_without_review, story_clock

from loyalty_accounts.errors import InsufficientPoints
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import RedeemCommand
from loyalty_accounts.operations.guard import microseconds
from loyalty_accounts.testing.bench_wire import Recorder


def programme(ledger, **options):  # type: ignore[no-untyped-def]
    """The repository's programme without its review section: these tests count reads, and a redemption's
    review reads (one listing, see tests/unit/services/test_reviews.py) would be counted too."""

    return repo_programme(ledger, rules=rules_without_review(), **options)


HOUR = timedelta(hours=1)


@pytest.fixture
def requests() -> Iterator[Recorder]:
    """Every HTTP request this process sends while the test runs (the benchmark's recorder)."""

    with Recorder() as recorder:
        yield recorder


def methods(recorder: Recorder) -> Counter[str]:
    """The requests recorded since the last reset, counted by method."""

    return Counter(sent.method for sent in recorder.sent)


def test_an_operation_after_the_horizon_costs_two_requests_then_one(client: LedgerClient, requests: Recorder) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100.00", T0))  # a new customer: openings and a history check
    requests.reset()
    program.earn(earn("c1", "o2", "40.00", T0 + HOUR))  # T0 is outside every capped campaign of rules.yaml
    # the state the first earn left is known to this process: the post alone, checked by the sequence leg
    assert methods(requests) == Counter({"POST": 1})
    requests.reset()
    # the first listing read the customer's buckets along: a spend after the earns posts alone too
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=30, at=T0 + 2 * HOUR))
    assert methods(requests) == Counter({"POST": 1})
    requests.reset()
    program.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=5, at=T0 + 2 * HOUR + HOUR / 4))
    assert methods(requests) == Counter({"POST": 1})
    # another process (a fresh programme) knows nothing: one listing and the post
    other = programme(client, clock=story_clock, pending_days=0)
    requests.reset()
    other.redeem(RedeemCommand(customer="c1", redemption_id="r3", points=5, at=T0 + 2 * HOUR + HOUR / 2))
    assert methods(requests) == Counter({"GET": 1, "POST": 1})
    requests.reset()
    # dated before the horizon: the history from its instant on is read as well
    program.redeem(RedeemCommand(customer="c1", redemption_id="r0", points=10, at=T0 + HOUR + HOUR / 2))
    assert methods(requests)["POST"] >= 1 and methods(requests)["GET"] >= 2
    horizon = client.account(program.chart.horizon("c1")).balance(program.chart.control_asset)
    assert horizon == -microseconds(T0 + 2 * HOUR + HOUR / 2)
    assert program.balance("c1").spendable == 140 - 30 - 5 - 5 - 10


def test_a_guess_made_stale_by_another_process_is_refused_by_the_server(client: LedgerClient) -> None:
    """Two processes on one customer: each posts from what it last knew; the server's sequence leg decides."""

    here = programme(client, clock=story_clock, pending_days=0)
    there = programme(client, clock=story_clock, pending_days=0)
    here.earn(earn("c1", "o1", "100.00", T0))
    here.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=10, at=T0 + HOUR))
    there.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=80, at=T0 + 2 * HOUR))
    with pytest.raises(InsufficientPoints):
        here.redeem(RedeemCommand(customer="c1", redemption_id="r3", points=50, at=T0 + 3 * HOUR))
    assert client.find_by_reference("redeem:r3") is None
    there.earn(earn("c1", "o2", "60.00", T0 + 3 * HOUR))
    assert here.redeem(RedeemCommand(customer="c1", redemption_id="r4", points=70, at=T0 + 4 * HOUR)).points == 70
    assert here.balance("c1").spendable == 0


def test_an_import_chunk_of_known_customers_costs_one_lookup_and_one_bulk_post(
    client: LedgerClient, requests: Recorder, tmp_path: Path
) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    header = "customer,order_id,amount,currency,ordered_at"

    def orders(name: str, first: int, hours: int) -> Path:
        stamp = (T0 + hours * HOUR).isoformat().replace("+00:00", "Z")
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join([header, *(f"c{i},{name}{i},25.00,USD,{stamp}" for i in range(first, first + 5))]) + "\n")
        return path

    assert program.import_orders(orders("a", 0, 1)).posted == 5
    requests.reset()
    # the same customers, later: the chunk's reference lookup, then the bulk post (no second lookup, no reads)
    assert program.import_orders(orders("b", 0, 2)).posted == 5
    assert methods(requests) == Counter({"GET": 1, "POST": 1})


def test_an_import_chunk_of_new_customers_opens_their_controls_first_without_looking_them_up(
    client: LedgerClient, tmp_path: Path
) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    stamp = (T0 + HOUR).isoformat().replace("+00:00", "Z")
    path = tmp_path / "new.csv"
    rows = [f"n{i},new{i},25.00,USD,{stamp}" for i in range(4)]
    path.write_text("\n".join(["customer,order_id,amount,currency,ordered_at", *rows]) + "\n")
    with Recorder() as recorder:
        assert program.import_orders(path).posted == 4
    sent = [(s.method, s.path.rsplit("/", 1)[-1], s.query + s.content) for s in recorder.sent]
    posts = [body for method, _, body in sent if method == "POST"]
    # two bulk requests: the openings, answered before the orders are sent, then the orders
    assert len(posts) == 2 and b"open_control:" in posts[0] and b"earn:new0" in posts[1]
    assert b"open_control:" not in posts[1]
    # the openings' references are not looked up first: the guard read just found the counters without a row
    assert not any(b"open_control" in body for method, _, body in sent if method == "GET")
    control = program.chart.control_asset
    for i in range(4):
        assert client.account(program.chart.sequence(f"n{i}")).volumes.get(control) is not None
        balance = program.balance(f"n{i}")
        assert balance.spendable + balance.pending == 25
