"""Exactly-once *answers* on the real server: twins, lost responses, the README line run twice.

Formance v2.4.12 checks funds before the reference, so the losing twin of the
same spend sent twice at once is refused for funds although its twin posted
it; the services must answer it with the original. A retry after a lost
response must not call this call's own posting a replay. The same stories run
on the in-memory ledger in tests/unit/test_program_exactly_once.py.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import httpx
import pytest
from support.programme import T0, programme, story_clock, usd
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import EarnCommand, RedeemCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.services.results import OperationResult

ROUNDS = 20


@pytest.fixture
def clients(ledger_url: str, ledger_name: str) -> Iterator[tuple[LedgerClient, LedgerClient]]:
    """Two clients of one ledger, as two processes would have; the trial balance is checked after."""

    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as one:
        with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as two:
            yield one, two
            trial = one.aggregate_balances("")
            assert all(v == 0 for v in trial.values()), f"trial balance broken: {trial}"


def twins(action: Callable[[LoyaltyProgram], OperationResult], programs: tuple[LoyaltyProgram, LoyaltyProgram]) -> list[object]:
    """Run ``action`` on both programmes at the same moment; results or the exceptions raised."""

    start = threading.Barrier(2)

    def run(program: LoyaltyProgram) -> object:
        start.wait()
        try:
            return action(program)
        except Exception as exc:  # noqa: BLE001 - the test reports what each twin got
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, programs))


def assert_one_posting_two_same_answers(outcomes: list[object]) -> None:
    assert all(isinstance(o, OperationResult) for o in outcomes), outcomes
    results = [o for o in outcomes if isinstance(o, OperationResult)]
    assert len({tuple(tx.id for tx in r.transactions) for r in results}) == 1
    assert len(results[0].transactions) == 1
    # One twin posted it; the other is told an earlier call did.
    assert sorted(r.replayed for r in results) == [False, True]


def test_twin_spends_of_the_whole_balance_get_the_same_transaction(clients: tuple[LedgerClient, LedgerClient]) -> None:
    one, two = clients
    first = programme(one, clock=story_clock, pending_days=0)
    second = LoyaltyProgram(two, first.chart, first.catalogue, rules=first.rules)
    for r in range(ROUNDS):
        customer = f"c{r}"
        first.earn(EarnCommand(customer=customer, order_id=f"o{r}", amount=usd("100"), ordered_at=T0))
        spend = RedeemCommand(customer=customer, redemption_id=f"R-{r}", points=100, at=T0)
        assert_one_posting_two_same_answers(twins(lambda p: p.redeem(spend), (first, second)))
        assert first.balance(customer).spendable == 0
    assert len(list(one.transactions(metadata={"operation": "redeem"}))) == ROUNDS
    assert one.account("program:points:redeemed").balance("PTS") == 100 * ROUNDS


def test_twin_awards_of_the_last_slot_get_the_same_transaction(clients: tuple[LedgerClient, LedgerClient]) -> None:
    one, two = clients
    first = programme(one, clock=story_clock, pending_days=0)
    second = LoyaltyProgram(two, first.chart, first.catalogue, rules=first.rules)
    for r in range(ROUNDS):
        customer = f"e{r}"
        # review_written: 50 points, at most 2 a day. The first award makes the day's counter exist
        # (first writes to a new account are another story); the twins then race for the last slot.
        assert first.engage(customer, "review_written", f"W-{r}-a", T0).points == 50
        outcomes = twins(lambda p: p.engage(customer, "review_written", f"W-{r}-b", T0), (first, second))
        assert_one_posting_two_same_answers(outcomes)
        counter = first.chart.engagement_counter(customer, "review_written", first.chart.local_date(T0))
        assert one.account(counter).balance("AWARDS") == -2
        assert first.balance(customer).spendable == 100
    assert len(list(one.transactions(metadata={"operation": "engage"}))) == 2 * ROUNDS


class LoseFirstTransactionResponse(httpx.BaseTransport):
    """Forwards the first transaction POST of an operation to the server, then raises ReadTimeout instead of its answer.

    With ``in_flight``, that first POST is still on its way (in a thread) when
    the timeout is raised, so the client's retry races its own first attempt.
    """

    def __init__(self, *, in_flight: bool = False) -> None:
        self.inner = httpx.HTTPTransport()
        self.in_flight = in_flight
        self.lost = 0
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The openings of the guard's control accounts are posted first; only operations count.
        if request.method == "POST" and request.url.path.endswith("/transactions") and b"open_control:" not in request.read():
            with self.lock:
                lose, self.lost = self.lost == 0, self.lost + 1
            if lose:
                request.read()
                if self.in_flight:
                    thread = threading.Thread(target=lambda: self.inner.handle_request(request).read())
                    thread.start()
                    self.threads.append(thread)
                else:
                    self.inner.handle_request(request).read()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        for thread in self.threads:
            thread.join()
        self.inner.close()


def test_a_lost_response_is_not_a_replay_for_the_call_that_posted(ledger_url: str, ledger_name: str) -> None:
    transport = LoseFirstTransactionResponse()
    connection = LedgerConnection(url=ledger_url, ledger=ledger_name, backoff_initial_s=0.01)
    with LedgerClient(connection, transport=transport) as lossy, LedgerClient(connection) as plain:
        program = programme(lossy, clock=story_clock, pending_days=0)
        command = EarnCommand(customer="c1", order_id="A-1", amount=usd("25.90"), ordered_at=T0)
        first = program.earn(command)
        assert transport.lost == 2  # the lost attempt and its retry
        assert first.replayed is False and first.points == 25
        # A second call of the same command: an earlier call posted it.
        again = LoyaltyProgram(plain, program.chart, program.catalogue, rules=program.rules).earn(command)
        assert again.replayed is True and again.transactions[0].id == first.transactions[0].id
        # Straight through the client too: the same plan posted by another call is a replay.
        assert len(list(plain.transactions(metadata={"operation": "earn"}))) == 1


def test_a_retry_racing_its_own_first_attempt_is_still_not_a_replay(ledger_url: str, ledger_name: str) -> None:
    connection = LedgerConnection(url=ledger_url, ledger=ledger_name, backoff_initial_s=0)
    with LedgerClient(connection) as plain:
        program = programme(plain, clock=story_clock, pending_days=0)
        for r in range(5):
            program.earn(EarnCommand(customer=f"c{r}", order_id=f"o{r}", amount=usd("100"), ordered_at=T0))
            transport = LoseFirstTransactionResponse(in_flight=True)
            with LedgerClient(connection, transport=transport) as lossy:
                racing = LoyaltyProgram(lossy, program.chart, program.catalogue, rules=program.rules)
                # The whole balance: the retry may be refused for funds by its own first attempt.
                result = racing.redeem(RedeemCommand(customer=f"c{r}", redemption_id=f"R-{r}", points=100, at=T0))
            assert result.replayed is False and result.points == 100
            assert program.balance(f"c{r}").spendable == 0
        assert len(list(plain.transactions(metadata={"operation": "redeem"}))) == 5


def test_the_readme_earn_line_twice_a_second_apart_is_one_earn(
    ledger_url: str, ledger_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_URL", ledger_url)
    runner = CliRunner()
    base = ["--ledger", ledger_name]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    line = [*base, "earn", "-c", "alice", "--order", "A-1", "--amount", "25.90", "--json"]
    first = runner.invoke(app, line)
    time.sleep(1)
    second = runner.invoke(app, line)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    # No category or channel: rules.yaml's order_defaults (general ×1 in store): floor(25.90) = 25.
    assert (one["replayed"], one["points"]) == (False, 25)
    assert (two["replayed"], two["points"], two["transactions"]) == (True, 25, one["transactions"])
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as client:
        assert len(list(client.transactions(metadata={"operation": "earn"}))) == 1
