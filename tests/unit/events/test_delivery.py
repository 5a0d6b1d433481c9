"""Delivering the stream to one webhook (:class:`loyalty_accounts.events.Deliverer`), its receiver mocked with respx.

Proves: every event is POSTed once, in stream order, with its id and type headers and a signature that the
test recomputes over the exact bytes sent; a refusal (non-2xx, or no answer in time) is retried and, after
``max_attempts``, the event is a dead letter and the same member's later events are parked behind it (never
POSTed, in this run or the next) while other members go on; a receiver that cannot be reached stops a single
pass with the position kept before the failing event and nothing dead-lettered, and is waited for when
following; a webhook's type filter skips events without POSTing them; a stop request ends the run without
dead-lettering; a following deliverer ends when its webhook is removed. The store is the in-memory one
(tests/support/fake_delivery_store.py), the stream a list of logs given here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Iterator, Sequence

import httpx
import pytest
import respx
from support.fake_delivery_store import FakeDeliveryStore

from loyalty_accounts.events import START, DeliveryPolicy, DeliveryRun, Deliverer, DomainEvent, EventPosition, WebhookRow, event_id
from loyalty_accounts.events.stream import LogEvents

URL = "https://crm.example.net/loyalty-hook"
SECRET = "whsec_test-secret"
AT = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)
FAST = DeliveryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.002, timeout_s=1.0, poll_s=0.001)


def make_event(log_id: int, index: int, member: str, event_type: str = "points.earned", points: int = 10) -> DomainEvent:
    return DomainEvent(
        id=event_id(hashlib.sha256(f"log {log_id}".encode()).digest(), index), type=event_type, programme="acme",  # type: ignore[arg-type]
        member=member, member_sequence=log_id, log_id=log_id, index=index, transaction_id=log_id,
        reference=f"op:{log_id}", operation="earn", occurred_at=AT, recorded_at=AT, points=points,
        balance_change=points, details={},
    )


class FakeSource:
    """An event source over given logs, read as :meth:`EventSource.logs` reads: from a position on."""

    def __init__(self, logs: Sequence[tuple[int, list[DomainEvent]]]) -> None:
        self.items = list(logs)
        self.reads: list[EventPosition] = []

    def logs(self, start: EventPosition = START) -> Iterator[LogEvents]:
        self.reads.append(start)
        for log_id, events in list(self.items):
            if log_id >= start.log_id:
                yield LogEvents(log_id, [e for e in events if not start.after(e.position)])


def one_per_log(*members: str, types: Sequence[str] | None = None) -> list[tuple[int, list[DomainEvent]]]:
    """A log a member, in order (log ids from 1), each with one event."""

    kinds = types or ["points.earned"] * len(members)
    return [(n, [make_event(n, 0, m, t)]) for n, (m, t) in enumerate(zip(members, kinds), start=1)]


def add_webhook(store: FakeDeliveryStore, types: Sequence[str] | None = None, start: EventPosition = START) -> WebhookRow:
    store.add_webhook("wh_" + "0" * 16, "acme", URL, types, "key1", b"sealed", AT, start)
    row = store.webhook("wh_" + "0" * 16)
    assert row is not None
    return row


def deliver(
    store: FakeDeliveryStore, source: FakeSource, webhook: WebhookRow, *, follow: bool = False,
    policy: DeliveryPolicy = FAST, stop: threading.Event | None = None, outcomes: list[tuple[str, str]] | None = None,
) -> DeliveryRun:
    told = outcomes if outcomes is not None else []
    with httpx.Client() as http:
        deliverer = Deliverer(
            store, source, webhook, SECRET, http=http, policy=policy, clock=lambda: AT, stop=stop,  # type: ignore[arg-type]
            on_event=lambda outcome, event: told.append((outcome, event.id)),
        )
        return deliverer.run(follow=follow)


def position_of(store: FakeDeliveryStore, webhook: WebhookRow) -> EventPosition:
    row = store.webhook(webhook.webhook_id)
    assert row is not None
    return row.position


def signature_is_valid(request: httpx.Request, *, within_s: float = 30) -> bool:
    """Recomputes the ``Loyalty-Signature`` HMAC over the bytes the request carried."""

    fields = dict(part.split("=", 1) for part in request.headers["Loyalty-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + request.content, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) <= within_s


def member_of(request: httpx.Request) -> str:
    return str(json.loads(request.content)["member"])


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def store() -> FakeDeliveryStore:
    return FakeDeliveryStore()


# -- the happy path ---------------------------------------------------------------------------------


def test_every_event_is_posted_once_in_order_signed(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200))
    logs = [(1, [make_event(1, 0, "c42", "points.transferred"), make_event(1, 1, "c77", "points.transferred")]), (2, []), (4, [make_event(4, 0, "c42", "points.redeemed")])]
    sent = [e for _, events in logs for e in events]
    webhook = add_webhook(store)
    outcomes: list[tuple[str, str]] = []
    run = deliver(store, FakeSource(logs), webhook, outcomes=outcomes)
    requests = [call.request for call in route.calls]
    assert [r.content for r in requests] == [e.body() for e in sent]
    assert [(r.headers["Loyalty-Event-Id"], r.headers["Loyalty-Event-Type"]) for r in requests] == [(e.id, e.type) for e in sent]
    assert all(r.headers["Content-Type"] == "application/json" and r.method == "POST" for r in requests)
    assert all(signature_is_valid(r) for r in requests)
    assert (run.delivered, run.dead_lettered, run.parked, run.filtered, run.unreachable) == (len(sent), 0, 0, 0, None)
    assert outcomes == [("delivered", e.id) for e in sent]
    row = store.webhook(webhook.webhook_id)
    assert row is not None and row.delivered == len(sent)
    assert row.position == run.position == EventPosition(log_id=4 + 1, index=0)  # past the newest log read
    assert store.letters == {}


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_acknowledges(router: respx.MockRouter, store: FakeDeliveryStore, status: int) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(status))
    run = deliver(store, FakeSource(one_per_log("c42")), add_webhook(store))
    assert (run.delivered, run.dead_lettered, route.call_count) == (1, 0, 1)


def test_delivery_starts_at_the_webhooks_position(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200))
    logs = [(1, [make_event(1, 0, "a")]), (2, [make_event(2, 0, "b"), make_event(2, 1, "c")]), (3, [make_event(3, 0, "d")])]
    run = deliver(store, FakeSource(logs), add_webhook(store, start=EventPosition(log_id=2, index=1)))
    assert [member_of(c.request) for c in route.calls] == ["c", "d"]
    assert run.delivered == 2


# -- refusals ---------------------------------------------------------------------------------------


def test_a_refusal_then_an_answer_is_delivered_after_two_attempts(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(side_effect=[httpx.Response(500), httpx.Response(200)])
    (event,) = one_per_log("c42")[0][1]
    run = deliver(store, FakeSource(one_per_log("c42")), add_webhook(store))
    assert route.call_count == 2
    first, second = (c.request for c in route.calls)
    assert first.content == second.content == event.body()
    assert first.headers["Loyalty-Event-Id"] == second.headers["Loyalty-Event-Id"] == event.id
    assert signature_is_valid(first) and signature_is_valid(second)
    assert (run.delivered, run.dead_lettered) == (1, 0) and store.letters == {}


def test_a_member_refused_every_time_is_dead_lettered_and_parked_while_others_go_on(
    router: respx.MockRouter, store: FakeDeliveryStore
) -> None:
    route = router.post(URL).mock(side_effect=lambda request: httpx.Response(500 if member_of(request) == "a" else 200))
    logs = one_per_log("a", "b", "a", "b", "a")
    a1, b1, a2, b2, a3 = (events[0] for _, events in logs)
    webhook = add_webhook(store)
    outcomes: list[tuple[str, str]] = []
    run = deliver(store, FakeSource(logs), webhook, outcomes=outcomes)
    posted = [c.request.headers["Loyalty-Event-Id"] for c in route.calls]
    assert posted == [a1.id] * FAST.max_attempts + [b1.id, b2.id]  # a2 and a3 never sent
    assert (run.delivered, run.dead_lettered, run.parked) == (2, 1, 2)
    assert outcomes == [("dead", a1.id), ("delivered", b1.id), ("parked", a2.id), ("delivered", b2.id), ("parked", a3.id)]
    letters = {d.event_id: d for d in store.dead_letters([webhook.webhook_id])}
    assert set(letters) == {a1.id, a2.id, a3.id}
    assert (letters[a1.id].attempts, letters[a1.id].parked_behind) == (FAST.max_attempts, None)
    assert "500" in letters[a1.id].last_error
    assert [(letters[e.id].attempts, letters[e.id].parked_behind) for e in (a2, a3)] == [(0, a1.id), (0, a1.id)]
    assert position_of(store, webhook) == EventPosition(log_id=5 + 1, index=0)


def test_a_parked_member_stays_parked_in_the_next_run(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(side_effect=lambda request: httpx.Response(500 if member_of(request) == "a" else 200))
    source = FakeSource(one_per_log("a"))
    webhook = add_webhook(store)
    deliver(store, source, webhook)
    route.side_effect = None
    route.return_value = httpx.Response(200)  # the receiver is fixed: only replay sends the dead letter again
    later = [make_event(2, 0, "a"), make_event(2, 1, "b")]
    source.items.append((2, later))
    before = route.call_count
    run = deliver(store, source, store.webhook(webhook.webhook_id))  # type: ignore[arg-type]
    assert [c.request.headers["Loyalty-Event-Id"] for c in route.calls[before:]] == [later[1].id]
    assert (run.parked, run.delivered) == (1, 1)
    first = store.dead_letters([webhook.webhook_id])[0].event_id
    assert store.letters[(webhook.webhook_id, later[0].id)].parked_behind == first


@pytest.mark.parametrize("status", [301, 302, 400, 401, 404, 409, 500, 503])
def test_every_other_status_is_a_refusal(router: respx.MockRouter, store: FakeDeliveryStore, status: int) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(status, headers={"Location": URL + "/elsewhere"}))
    run = deliver(store, FakeSource(one_per_log("c42")), add_webhook(store))
    assert (run.delivered, run.dead_lettered, route.call_count) == (0, 1, FAST.max_attempts)
    (letter,) = store.letters.values()
    assert str(status) in letter.last_error


def test_no_answer_in_time_is_a_refusal(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    webhook = add_webhook(store)
    run = deliver(store, FakeSource(one_per_log("c42", "c77")), webhook)
    assert run.unreachable is None
    assert (run.dead_lettered, run.delivered) == (2, 0)  # each member's own event, neither parked behind the other
    assert route.call_count == 2 * FAST.max_attempts
    assert all(d.attempts == FAST.max_attempts and "no answer" in d.last_error for d in store.letters.values())
    assert position_of(store, webhook) == EventPosition(log_id=3, index=0)


# -- a receiver that cannot be reached -----------------------------------------------------------------


def test_an_unreachable_receiver_stops_a_single_pass_with_the_position_kept(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    delivered_first = [True]

    def answer(request: httpx.Request) -> httpx.Response:
        if member_of(request) == "a" and delivered_first[0]:
            delivered_first[0] = False
            return httpx.Response(200)
        raise httpx.ConnectError("connection refused")

    route = router.post(URL).mock(side_effect=answer)
    logs = one_per_log("a", "b", "c")
    first, failing, never = (events[0] for _, events in logs)
    webhook = add_webhook(store)
    run = deliver(store, FakeSource(logs), webhook)
    assert run.unreachable is not None and webhook.webhook_id in run.unreachable and failing.id in run.unreachable
    assert [c.request.headers["Loyalty-Event-Id"] for c in route.calls] == [first.id] + [failing.id] * FAST.max_attempts
    assert never.id not in {c.request.headers["Loyalty-Event-Id"] for c in route.calls}
    assert store.letters == {} and run.dead_lettered == 0 and run.delivered == 1
    kept = position_of(store, webhook)
    assert kept.after(first.position) and not kept.after(failing.position)
    assert run.position is not None and run.position.after(first.position) and not run.position.after(failing.position)


def test_an_unreachable_receiver_is_waited_for_when_following(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    failures = [httpx.ConnectError("connection refused")] * (FAST.max_attempts * 3)
    route = router.post(URL).mock(side_effect=[*failures, httpx.Response(200)])
    stop = threading.Event()
    outcomes: list[tuple[str, str]] = []

    def told(outcome: str, event_id_: str) -> None:
        outcomes.append((outcome, event_id_))
        stop.set()

    with httpx.Client() as http:
        webhook = add_webhook(store)
        deliverer = Deliverer(
            store, FakeSource(one_per_log("c42")), webhook, SECRET, http=http, policy=FAST, clock=lambda: AT,  # type: ignore[arg-type]
            stop=stop, on_event=lambda outcome, event: told(outcome, event.id),
        )
        run = deliverer.run(follow=True)
    assert run.unreachable is None and run.delivered == 1
    assert route.call_count == len(failures) + 1
    assert [o for o, _ in outcomes] == ["delivered"]


# -- filters and stopping -------------------------------------------------------------------------------


def test_a_type_filter_skips_other_events_without_posting(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200))
    kinds = ["points.earned", "points.redeemed", "tier.changed", "points.redeemed", "points.expired"]
    logs = one_per_log("a", "b", "a", "c", "b", types=kinds)
    webhook = add_webhook(store, types=("points.redeemed", "tier.changed"))
    run = deliver(store, FakeSource(logs), webhook)
    wanted = [events[0] for _, events in logs if events[0].type in ("points.redeemed", "tier.changed")]
    assert [c.request.headers["Loyalty-Event-Id"] for c in route.calls] == [e.id for e in wanted]
    assert {c.request.headers["Loyalty-Event-Type"] for c in route.calls} == {"points.redeemed", "tier.changed"}
    assert (run.delivered, run.filtered) == (len(wanted), len(kinds) - len(wanted))
    assert position_of(store, webhook) == EventPosition(log_id=len(kinds) + 1, index=0)


def test_a_stop_while_retrying_ends_the_run_without_a_dead_letter(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    stop = threading.Event()

    def refuse_and_stop(request: httpx.Request) -> httpx.Response:
        stop.set()
        return httpx.Response(500)

    route = router.post(URL).mock(side_effect=refuse_and_stop)
    logs = one_per_log("a", "b")
    webhook = add_webhook(store)
    run = deliver(store, FakeSource(logs), webhook, stop=stop, policy=FAST.model_copy(update={"max_attempts": 50}))
    assert route.call_count == 1
    assert store.letters == {} and (run.dead_lettered, run.delivered, run.unreachable) == (0, 0, None)
    assert position_of(store, webhook) == START
    assert run.position is not None and not run.position.after(logs[0][1][0].position)


def test_a_stop_before_the_run_posts_nothing(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200))
    stop = threading.Event()
    stop.set()
    webhook = add_webhook(store)
    run = deliver(store, FakeSource(one_per_log("a", "b")), webhook, stop=stop)
    assert route.call_count == 0 and run.delivered == 0 and store.letters == {}
    assert position_of(store, webhook) == START


def _run_in_thread(target: Callable[[], DeliveryRun], stop: threading.Event, seconds: float = 10) -> DeliveryRun | None:
    """Runs ``target``; sets ``stop`` and answers None when it has not returned within ``seconds``."""

    result: list[DeliveryRun] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        stop.set()
        thread.join(5)
        return None
    return result[0]


def test_a_following_deliverer_delivers_new_logs_and_ends_when_its_webhook_is_removed(
    router: respx.MockRouter, store: FakeDeliveryStore
) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200))
    source = FakeSource(one_per_log("a"))
    webhook = add_webhook(store)
    stop = threading.Event()

    def told(outcome: str, event: DomainEvent) -> None:
        if event.log_id == 1:  # the first delivered: a new log arrives
            source.items.append((2, [make_event(2, 0, "b")]))
        else:  # the second: the webhook is removed meanwhile
            store.remove_webhook(webhook.webhook_id, AT)

    def follow() -> DeliveryRun:
        with httpx.Client() as http:
            deliverer = Deliverer(store, source, webhook, SECRET, http=http, policy=FAST, clock=lambda: AT, stop=stop, on_event=told)  # type: ignore[arg-type]
            return deliverer.run(follow=True)

    run = _run_in_thread(follow, stop)
    assert run is not None, "the deliverer went on following a removed webhook"
    assert not stop.is_set()
    assert [member_of(c.request) for c in route.calls] == ["a", "b"]
    assert run.delivered == 2


# -- what a hostile receiver or an operator can do meanwhile ----------------------------------------


class _EndlessBody(httpx.SyncByteStream):
    """An answer's body that never ends: reading any of it fails the test."""

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("the deliverer read the answer's body")


def test_an_answers_body_is_never_read(router: respx.MockRouter, store: FakeDeliveryStore) -> None:
    router.post(URL).mock(side_effect=lambda request: httpx.Response(200, stream=_EndlessBody()))
    webhook = add_webhook(store)
    run = deliver(store, FakeSource(one_per_log("c1", "c2")), webhook)
    assert run.delivered == 2 and position_of(store, webhook) == EventPosition(log_id=3, index=0)


def test_a_webhook_removed_during_a_backlog_gets_nothing_more(
    router: respx.MockRouter, store: FakeDeliveryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loyalty_accounts.events.delivery as delivery

    monkeypatch.setattr(delivery, "REMOVAL_CHECK_S", 0.0)  # look at every event
    webhook = add_webhook(store)
    posted: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append(member_of(request))
        if len(posted) == 3:
            store.remove_webhook(webhook.webhook_id, AT)
        return httpx.Response(200)

    router.post(URL).mock(side_effect=answer)
    run = deliver(store, FakeSource(one_per_log(*[f"c{n}" for n in range(10)])), webhook)
    assert posted == ["c0", "c1", "c2"] and run.delivered == 3


def test_a_url_that_cannot_be_used_is_a_refusal_not_a_crash(store: FakeDeliveryStore) -> None:  # no mock: httpx itself refuses the URL
    store.add_webhook("wh_" + "1" * 16, "acme", "http://a..b/hook", None, "key1", b"sealed", AT, START)
    webhook = store.webhook("wh_" + "1" * 16)
    assert webhook is not None
    run = deliver(store, FakeSource(one_per_log("c1")), webhook, policy=FAST.model_copy(update={"max_attempts": 1}))
    assert run.dead_lettered == 1 and "cannot be used" in store.dead_letters([webhook.webhook_id])[0].last_error
