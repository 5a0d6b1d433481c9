"""What ``loyalty events`` checks before anything is delivered: webhook URLs, event types, stream positions,
and the webhook bookkeeping of :class:`loyalty_accounts.events.EventService`.

Proves: :func:`webhook_url` takes http(s) URLs with a host and refuses any other scheme, a user or password
(never repeating it), a fragment or a bad port; :func:`event_types` takes known types (de-duplicated, in
order) and names an unknown one; :meth:`EventSource.position` reads ``start``, ``now``, log ids and instants
(a bare date in the programme's time zone, never in the future) from a ledger stub that records what it is
asked; the service keeps a webhook's secret sealed under the registry key (opening to the secret shown once),
refuses a URL or a key before writing anything, scopes webhooks to its programme, replays only backwards
(clearing the dead letters from there), and never delivers to a removed webhook or one another process holds.
The store is the in-memory one (tests/support/fake_delivery_store.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import respx
import yaml
from support.event_logs import leg, new_transaction_log, transaction
from support.fake_delivery_store import FakeDeliveryStore

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.errors import InvalidCommand, OperationRefused, RegistryKeyMismatch, UnknownEntity
from loyalty_accounts.events import EVENT_TYPES, START, EventPosition, EventService, EventSource, events_of_log, webhook_url
from loyalty_accounts.events.service import event_types
from loyalty_accounts.members import RegistryKey

ROOT = Path(__file__).resolve().parents[3]
CHART = load_chart(ROOT / "chart_of_accounts.yaml")
UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = RegistryKey(bytes(range(32)))


class LogStub:
    """The three log reads of a ledger port over given logs; ``asked`` records what ``first_log_since`` was asked."""

    def __init__(self, logs: list[dict[str, Any]]) -> None:
        self.served = logs
        self.asked: list[datetime] = []

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        yield from (log for log in self.served if from_id is None or log["id"] >= from_id)

    def latest_log_id(self) -> int | None:
        return self.served[-1]["id"] if self.served else None

    def first_log_since(self, instant: datetime) -> int | None:
        self.asked.append(instant)
        return next((log["id"] for log in self.served if datetime.fromisoformat(log["date"]) >= instant), None)


def earn_log(log_id: int, member: str, date: str) -> dict[str, Any]:
    tx = transaction(log_id, [leg(CHART.issued_shard(member), CHART.bucket(member, None), 10)], {"operation": "earn"})
    return new_transaction_log(log_id, tx, date=date)


HISTORY = [earn_log(3, "c1", "2026-10-31T22:30:00Z"), earn_log(7, "c2", "2026-10-31T23:30:00Z"), earn_log(9, "c1", "2026-11-02T08:00:00Z")]


def chart_in(zone: str) -> Chart:
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["programme"]["timezone"] = zone
    return Chart.from_yaml(yaml.safe_dump(data), source="variant.yaml")


def stubbed(logs: list[dict[str, Any]] | None = None, chart: Chart = CHART, programme: str = "acme") -> tuple[EventSource, LogStub]:
    """An event source over a ledger stub serving ``logs`` (default: HISTORY), and the stub."""

    stub = LogStub(list(HISTORY if logs is None else logs))
    return EventSource(stub, chart, programme), stub  # type: ignore[arg-type]


def source(logs: list[dict[str, Any]] | None = None, chart: Chart = CHART, programme: str = "acme") -> EventSource:
    return stubbed(logs, chart, programme)[0]


# -- webhook URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://crm.example.net/loyalty-hook", "https://crm.example.net/loyalty-hook"),
        ("http://127.0.0.1:8080/hook?source=loyalty", "http://127.0.0.1:8080/hook?source=loyalty"),
        ("  https://[::1]:9443/h  ", "https://[::1]:9443/h"),
        ("HTTPS://crm.example.net", "https://crm.example.net"),
    ],
)
def test_a_webhook_url_is_http_or_https_with_a_host(given: str, kept: str) -> None:
    assert webhook_url(given) == kept


@pytest.mark.parametrize(
    "given",
    [
        "", "crm.example.net/hook", "ftp://crm.example.net/hook", "file:///etc/passwd", "mailto:ops@example.net",
        "https://", "https:///path", "https://crm.example.net/hook#frag", "http://crm.example.net:0/",
        "http://crm.example.net:99999/", "http://crm.example.net:port/", "http://[::1/",
        "http://exa\nmple.com/x", "http://example.com/x\ty", "http://example.com/a b", "http://a..b/",
        "http://" + "x" * 64 + ".example.com/", "http://example.com/x#", "https://crm.example.net/" + "p" * 2100,
    ],
)
def test_anything_else_is_refused_as_bad_input(given: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        webhook_url(given)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("given", ["https://ops:s3cr3t-pw@crm.example.net/hook", "https://ops@crm.example.net/hook", "https://:s3cr3t-pw@h/"])
def test_a_url_holding_credentials_is_refused_without_repeating_them(given: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        webhook_url(given)
    assert "s3cr3t-pw" not in refused.value.message and "ops@" not in refused.value.message


# -- event types ----------------------------------------------------------------------------------------


def test_no_types_means_every_type() -> None:
    assert event_types(None) is None
    assert event_types([]) is None


def test_types_are_kept_in_order_once_each() -> None:
    assert event_types(["tier.changed", "points.earned", "tier.changed"]) == ("tier.changed", "points.earned")
    assert event_types(list(EVENT_TYPES)) == tuple(EVENT_TYPES)


@pytest.mark.parametrize("unknown", ["points.bogus", "points", "Points.Earned", "earned", ""])
def test_an_unknown_type_is_named(unknown: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        event_types(["points.earned", unknown])
    assert f"--type {unknown}:" in refused.value.message


# -- positions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "log_id"),
    [("start", 0), (" start ", 0), ("now", 9 + 1), ("#7", 7), ("7", 7), ("#0", 0), ("#10", 10)],
)
def test_named_positions(text: str, log_id: int) -> None:
    assert source().position(text, now=NOW) == EventPosition(log_id=log_id, index=0)


def test_now_on_a_ledger_without_logs_is_the_start() -> None:
    assert source([]).position("now") == START


@pytest.mark.parametrize("text", ["#", "#-1", "-1", "#1e3", "#7.1", "yesterday", "log 7", "2026-13-01", "#1234567890123456789", ""])
def test_anything_else_is_refused_with_the_forms_it_takes(text: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        source().position(text, now=NOW)
    assert "start, now, a log id" in refused.value.message


@pytest.mark.parametrize("text", ["#11", "#123456789012345678"])
def test_a_log_after_the_next_one_is_refused_it_would_skip_events(text: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        source().position(text, now=NOW)
    assert "newest log is #9" in refused.value.message  # source()'s newest log, read from the ledger


def test_an_instant_is_the_first_log_written_at_or_after_it() -> None:
    events, stub = stubbed()
    assert events.position("2026-10-31T23:00:00Z", now=NOW) == EventPosition(log_id=7, index=0)
    assert stub.asked == [datetime(2026, 10, 31, 23, 0, tzinfo=UTC)]
    assert events.position("2026-10-31T22:30:00Z", now=NOW) == EventPosition(log_id=3, index=0)  # at it counts


def test_an_instant_after_every_log_is_after_the_newest() -> None:
    assert source().position("2026-11-10T00:00:00Z", now=NOW) == EventPosition(log_id=9 + 1, index=0)


def test_a_bare_date_is_midnight_in_the_programmes_time_zone() -> None:
    paris, paris_stub = stubbed(chart=chart_in("Europe/Paris"))
    assert paris.position("2026-11-01", now=NOW) == EventPosition(log_id=7, index=0)  # 2026-10-31T23:00Z
    assert paris_stub.asked == [datetime(2026, 10, 31, 23, 0, tzinfo=UTC)]
    utc, utc_stub = stubbed()
    assert utc.position("2026-11-01", now=NOW) == EventPosition(log_id=9, index=0)
    assert utc_stub.asked == [datetime(2026, 11, 1, tzinfo=UTC)]


def test_an_instant_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="future"):
        source().position((NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), now=NOW)


def test_events_from_a_position_leave_out_those_before_it_in_its_log() -> None:
    two = new_transaction_log(
        4, transaction(4, [leg(CHART.bucket("c1", None), CHART.bucket("c2", None), 5)], {"operation": "transfer"}), date="2026-11-01T00:00:00Z"
    )
    events = source([HISTORY[0], two, HISTORY[1]])
    told = [(e.log_id, e.index) for e in events.events(EventPosition(log_id=4, index=1))]
    assert told == [(4, 1), (7, 0)]
    assert [(e.log_id, e.index) for e in events.events(START, through=4)] == [(3, 0), (4, 0), (4, 1)]


# -- the service's webhooks -------------------------------------------------------------------------------


@pytest.fixture
def store() -> FakeDeliveryStore:
    return FakeDeliveryStore()


def service(store: FakeDeliveryStore, logs: list[dict[str, Any]] | None = None, programme: str = "acme", key: RegistryKey = KEY) -> EventService:
    return EventService(source(logs, programme=programme), lambda: store, key, key_source="test key", clock=lambda: NOW)  # type: ignore[arg-type,return-value]


def test_a_new_webhooks_secret_is_shown_once_and_kept_sealed(store: FakeDeliveryStore) -> None:
    made = service(store).add_webhook("https://crm.example.net/hook", types=["points.earned"])
    assert re.fullmatch(r"wh_[0-9a-f]{16}", made.webhook.webhook_id)  # as the migration's CHECK wants
    assert made.secret.startswith("whsec_")
    row = store.webhook(made.webhook.webhook_id)
    assert row is not None
    assert made.secret.encode() not in row.sealed_secret
    assert KEY.open_secret(row.sealed_secret, row.webhook_id) == made.secret.encode()
    assert (row.url, row.event_types, row.key_id, row.position) == ("https://crm.example.net/hook", ("points.earned",), KEY.key_id, EventPosition(log_id=10, index=0))
    assert KEY.key_id in store.registry_keys


def test_a_webhook_starts_where_told(store: FakeDeliveryStore) -> None:
    events = service(store)
    assert events.add_webhook("https://h/a", start="start").webhook.position == START
    assert events.add_webhook("https://h/b", start="#7").webhook.position == EventPosition(log_id=7, index=0)


@pytest.mark.parametrize(
    ("url", "types", "start"),
    [("ftp://h/x", None, "now"), ("https://h/x", ["points.bogus"], "now"), ("https://h/x", None, "someday")],
)
def test_bad_input_is_refused_before_anything_is_written(store: FakeDeliveryStore, url: str, types: list[str] | None, start: str) -> None:
    with pytest.raises(InvalidCommand):
        service(store).add_webhook(url, types=types, start=start)
    assert store.hooks == {} and store.registry_keys == {} and store.transactions == 0


def test_a_key_other_than_the_registrys_is_refused(store: FakeDeliveryStore) -> None:
    store.record_key("another-key", NOW)
    with pytest.raises(RegistryKeyMismatch):
        service(store).add_webhook("https://h/x")
    assert store.hooks == {}


def test_webhooks_are_the_programmes_own(store: FakeDeliveryStore) -> None:
    ours = service(store).add_webhook("https://h/ours").webhook
    theirs = service(store, programme="other").add_webhook("https://h/theirs").webhook
    assert [w.webhook_id for w in service(store).webhooks()] == [ours.webhook_id]
    with pytest.raises(UnknownEntity):
        service(store).webhook(theirs.webhook_id)
    with pytest.raises(UnknownEntity):
        service(store).remove_webhook(theirs.webhook_id)
    with pytest.raises(UnknownEntity):
        service(store).webhook("wh_" + "f" * 16)


def test_a_removed_webhook_is_listed_only_when_asked(store: FakeDeliveryStore) -> None:
    events = service(store)
    kept, removed = events.add_webhook("https://h/kept").webhook, events.add_webhook("https://h/removed").webhook
    assert events.remove_webhook(removed.webhook_id).removed_at == NOW
    assert [w.webhook_id for w in events.webhooks()] == [kept.webhook_id]
    assert {w.webhook_id for w in events.webhooks(include_removed=True)} == {kept.webhook_id, removed.webhook_id}


# -- replay --------------------------------------------------------------------------------------------------


def _dead_letters_at(store: FakeDeliveryStore, webhook_id: str, *log_ids: int) -> None:
    for log in HISTORY:
        if log["id"] in log_ids:
            store.dead_letter(webhook_id, events_of_log(log, CHART, "acme")[0], attempts=3, error="HTTP 500", parked_behind=None, at=NOW)


def test_replay_moves_back_and_clears_the_dead_letters_from_there(store: FakeDeliveryStore) -> None:
    events = service(store)
    webhook = events.add_webhook("https://h/x", start="start").webhook
    _dead_letters_at(store, webhook.webhook_id, 3, 7, 9)
    assert events.webhook(webhook.webhook_id).position == EventPosition(log_id=9, index=1)
    done = events.replay(webhook.webhook_id, "#7")
    assert (done.position, done.dropped_dead_letters) == (EventPosition(log_id=7, index=0), 2)
    assert events.webhook(webhook.webhook_id).position == EventPosition(log_id=7, index=0)
    assert [d.position.log_id for d in events.dead_letters(webhook.webhook_id)] == [3]


def test_replay_never_goes_forward(store: FakeDeliveryStore) -> None:
    events = service(store)
    webhook = events.add_webhook("https://h/x", start="#7").webhook
    with pytest.raises(InvalidCommand, match="never forward"):
        events.replay(webhook.webhook_id, "#8")
    assert events.replay(webhook.webhook_id, "#7").position == EventPosition(log_id=7, index=0)  # where it is: allowed


def test_replay_refuses_a_removed_webhook_or_one_being_delivered_to(store: FakeDeliveryStore) -> None:
    events = service(store)
    removed, busy = events.add_webhook("https://h/r").webhook, events.add_webhook("https://h/b").webhook
    events.remove_webhook(removed.webhook_id)
    with pytest.raises(OperationRefused, match="removed"):
        events.replay(removed.webhook_id, "start")
    store.busy.add(busy.webhook_id)
    with pytest.raises(OperationRefused, match="another process"):
        events.replay(busy.webhook_id, "start")
    assert events.webhook(busy.webhook_id).position == EventPosition(log_id=10, index=0)


# -- delivery ------------------------------------------------------------------------------------------------


def test_nothing_is_delivered_to_a_removed_webhook(store: FakeDeliveryStore) -> None:
    events = service(store)
    removed = events.add_webhook("https://h/r", start="start").webhook
    events.remove_webhook(removed.webhook_id)
    with respx.mock(assert_all_called=False) as router:
        route = router.post("https://h/r").mock(return_value=httpx.Response(200))
        with pytest.raises(OperationRefused):
            events.deliver([removed.webhook_id])
        assert events.deliver() == []
    assert route.call_count == 0


def test_a_webhook_another_process_delivers_to_is_skipped_and_the_others_served(store: FakeDeliveryStore) -> None:
    events = service(store)
    busy, free = events.add_webhook("https://h/busy", start="start").webhook, events.add_webhook("https://h/free", start="start").webhook
    store.busy.add(busy.webhook_id)
    with respx.mock(assert_all_called=False) as router:
        to_busy = router.post("https://h/busy").mock(return_value=httpx.Response(200))
        to_free = router.post("https://h/free").mock(return_value=httpx.Response(200))
        runs = {r.webhook_id: r for r in events.deliver()}
    assert to_busy.call_count == 0 and to_free.call_count == len(HISTORY)
    assert runs[busy.webhook_id].delivered == 0 and "another process" in runs[busy.webhook_id].errors[0]
    assert runs[free.webhook_id].delivered == len(HISTORY)
    assert events.webhook(busy.webhook_id).position == START
