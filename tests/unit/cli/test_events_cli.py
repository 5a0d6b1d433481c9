"""``loyalty events ...`` on an in-memory ledger that hashes its logs, an in-memory delivery store and a receiver
mocked with respx: output, exit codes, and what reaches the receiver.

Proves: ``tail`` prints exactly the stream's webhook bodies (json), a header and a row per event (csv, table),
from ``--from``; refuses a bad position (2) and a ledger whose logs carry no hash; ``webhook add`` shows the
secret once (never again in ``list``) and refuses a bad URL or type (2) storing nothing; ``deliver`` POSTs the
bodies ``tail`` prints, in order, and exits 1 when events were dead-lettered (listed by ``dead-letters``) and 3
when the receiver cannot be reached; ``replay`` goes back (clearing dead letters), never forward (2).
The history is posted here, so the expected events are known: earns of c1 and c2, a transfer from c1 to c2,
a redemption by c2.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any, Iterator

import httpx
import pytest
import respx
import typer
from support.cli_apps import app_over
from support.event_logs import HashedFakeLedger
from support.fake_delivery_store import FakeDeliveryStore
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme
from typer.testing import CliRunner, Result

from loyalty_accounts.app import App
from loyalty_accounts.cli.events import EVENT_COLUMNS
from loyalty_accounts.cli.events import app as events_app
from loyalty_accounts.events import EventService
from loyalty_accounts.members import RegistryKey
from loyalty_accounts.operations import RedeemCommand, TransferCommand

runner = CliRunner()
KEY = RegistryKey(bytes(range(32)))
URL = "https://crm.example.net/loyalty-hook"
TRANSFERRED, REDEEMED = 7, 4
EXPECTED = [
    ("points.earned", "c1"), ("points.earned", "c2"),
    ("points.transferred", "c1"), ("points.transferred", "c2"),
    ("points.redeemed", "c2"),
]
"""The events of the history :func:`history` posts, in order: (type, member)."""


def history(ledger: FakeLedger) -> dict[str, int]:
    """Two earns, a transfer, a redemption; answers the log id each operation was recorded under."""

    program = programme(ledger, pending_days=0)
    logs: dict[str, int] = {}
    program.earn(earn("c1", "o-1", "40.00"))
    logs["earn c1"] = ledger.latest_log_id() or 0
    program.earn(earn("c2", "o-2", "25.00", at=T0 + timedelta(minutes=1)))
    logs["earn c2"] = ledger.latest_log_id() or 0
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t-1", points=TRANSFERRED, at=T0 + timedelta(minutes=2)))
    logs["transfer"] = ledger.latest_log_id() or 0
    program.redeem(RedeemCommand(customer="c2", redemption_id="r-1", points=REDEEMED, at=T0 + timedelta(minutes=3)))
    logs["redeem"] = ledger.latest_log_id() or 0
    return logs


def cli(port: Any) -> typer.Typer:
    return app_over(port, {}, groups={"events": events_app})


class Setup:
    def __init__(self, ledger: HashedFakeLedger, store: FakeDeliveryStore, logs: dict[str, int]) -> None:
        self.ledger, self.store, self.logs = ledger, store, logs
        self.app = cli(ledger)

    def invoke(self, *args: str) -> Result:
        return runner.invoke(self.app, ["events", *args])

    def ok(self, *args: str) -> str:
        result = self.invoke(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def refused(self, code: int, *args: str) -> str:
        """Runs a command that must exit ``code`` as the CLI exits (not by an error escaping); answers its output."""

        result = self.invoke(*args)
        assert result.exit_code == code, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        return result.output


@pytest.fixture(scope="module")
def posted() -> tuple[HashedFakeLedger, dict[str, int]]:
    ledger = HashedFakeLedger()
    return ledger, history(ledger)


@pytest.fixture
def setup(posted: tuple[HashedFakeLedger, dict[str, int]], monkeypatch: pytest.MonkeyPatch) -> Setup:
    ledger, logs = posted
    store = FakeDeliveryStore()
    monkeypatch.setattr(App, "events", property(lambda app: EventService(app.event_source, lambda: store, KEY)))  # type: ignore[arg-type,return-value]
    return Setup(ledger, store, logs)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- tail -------------------------------------------------------------------------------------------------


def test_tail_json_prints_one_webhook_body_per_event_in_order(setup: Setup) -> None:
    out = setup.ok("tail", "--no-follow", "--from", "start", "-f", "json")
    events = json_lines(out)
    assert [(e["type"], e["member"]) for e in events] == EXPECTED
    assert len({e["id"] for e in events}) == len(EXPECTED)
    assert [e["points"] for e in events[2:]] == [TRANSFERRED, TRANSFERRED, REDEEMED]
    assert [e["balance_change"] for e in events[2:]] == [-TRANSFERRED, TRANSFERRED, -REDEEMED]
    assert [e["log_id"] for e in events] == [setup.logs["earn c1"], setup.logs["earn c2"], setup.logs["transfer"], setup.logs["transfer"], setup.logs["redeem"]]
    for line in out.splitlines():  # each line is a body as sent: compact JSON
        assert line.encode() == json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False).encode()


def test_tail_without_from_and_without_follow_starts_at_the_start(setup: Setup) -> None:
    assert len(json_lines(setup.ok("tail", "--no-follow", "-f", "json"))) == len(EXPECTED)


def test_tail_from_a_log_id_leaves_out_what_came_before(setup: Setup) -> None:
    events = json_lines(setup.ok("tail", "--no-follow", "--from", f"#{setup.logs['transfer']}", "-f", "json"))
    assert [(e["type"], e["member"]) for e in events] == EXPECTED[2:]
    assert json_lines(setup.ok("tail", "--no-follow", "--from", "now", "-f", "json")) == []


def test_tail_csv_has_a_header_and_a_row_per_event(setup: Setup) -> None:
    rows = list(csv.reader(io.StringIO(setup.ok("tail", "--no-follow", "--from", "start", "-f", "csv"))))
    assert tuple(rows[0]) == EVENT_COLUMNS
    assert [(r[EVENT_COLUMNS.index("type")], r[EVENT_COLUMNS.index("member")]) for r in rows[1:]] == EXPECTED
    ids = [e["id"] for e in json_lines(setup.ok("tail", "--no-follow", "--from", "start", "-f", "json"))]
    assert [r[EVENT_COLUMNS.index("id")] for r in rows[1:]] == ids


def test_tail_table_has_a_header_and_a_line_per_event(setup: Setup) -> None:
    lines = setup.ok("tail", "--no-follow", "--from", "start").splitlines()
    assert lines[0].split()[:4] == ["log", "occurred_at", "type", "member"]
    ids = [e["id"] for e in json_lines(setup.ok("tail", "--no-follow", "--from", "start", "-f", "json"))]
    assert len(lines) == 1 + len(ids)
    for line, event_id, (event_type, member) in zip(lines[1:], ids, EXPECTED):
        assert line.endswith(event_id) and event_type in line.split() and member in line.split()


def test_tail_refuses_a_bad_position(setup: Setup) -> None:
    assert "start, now, a log id" in setup.refused(2, "tail", "--no-follow", "--from", "the beginning")


def test_tail_refuses_a_ledger_whose_logs_carry_no_hash() -> None:
    ledger = FakeLedger()
    programme(ledger, pending_days=0).earn(earn("c1", "o-1", "40.00"))
    result = runner.invoke(cli(ledger), ["events", "tail", "--no-follow", "--from", "start", "-f", "json"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "hash" in result.output and result.stdout.strip() == ""


# -- webhooks ---------------------------------------------------------------------------------------------


def test_webhook_add_shows_the_secret_once(setup: Setup) -> None:
    made = json.loads(setup.ok("webhook", "add", "--url", URL, "--type", "points.redeemed", "-f", "json"))
    assert made["secret"].startswith("whsec_") and made["url"] == URL and made["types"] == "points.redeemed"
    assert made["position"] == f"#{setup.logs['redeem'] + 1}.0"  # from now: after the newest log
    (row,) = setup.store.webhooks("loyalty")
    assert row.webhook_id == made["webhook_id"] and KEY.open_secret(row.sealed_secret, row.webhook_id).decode() == made["secret"]
    listed = setup.ok("webhook", "list", "-f", "json")
    assert made["webhook_id"] in listed and made["secret"] not in listed
    assert made["secret"] not in setup.ok("webhook", "list")


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--url", "ftp://crm.example.net/x"], "--url"), (["--url", URL, "--type", "points.bogus"], "points.bogus"), (["--url", URL, "--from", "someday"], "--from")],
)
def test_webhook_add_refuses_bad_input_storing_nothing(setup: Setup, args: list[str], named: str) -> None:
    assert named in setup.refused(2, "webhook", "add", *args)
    assert setup.store.hooks == {}


def test_webhook_remove_keeps_it_for_the_record(setup: Setup) -> None:
    made = json.loads(setup.ok("webhook", "add", "--url", URL, "-f", "json"))
    removed = json.loads(setup.ok("webhook", "remove", made["webhook_id"], "-f", "json"))
    assert removed["removed_at"] is not None
    assert json.loads(setup.ok("webhook", "list", "-f", "json")) == []
    assert [w["webhook_id"] for w in json.loads(setup.ok("webhook", "list", "--removed", "-f", "json"))] == [made["webhook_id"]]
    assert "no webhook" in setup.refused(1, "webhook", "remove", "wh_" + "f" * 16)


# -- deliver, dead letters, replay ------------------------------------------------------------------------

FAST = ["--max-attempts", "2", "--max-backoff", "0.01", "--timeout", "1"]


def test_deliver_posts_what_tail_prints_in_order(setup: Setup, router: respx.MockRouter) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200))
    setup.ok("webhook", "add", "--url", URL, "--from", "start")
    out = setup.ok("deliver", *FAST)
    bodies = setup.ok("tail", "--no-follow", "--from", "start", "-f", "json").splitlines()
    assert [c.request.content.decode() for c in route.calls] == bodies
    assert "delivered" in out
    assert [w.delivered for w in setup.store.webhooks("loyalty")] == [len(EXPECTED)]
    again = setup.ok("deliver", *FAST)  # nothing new: nothing sent again
    assert route.call_count == len(EXPECTED) and "wh_" in again


def test_deliver_without_webhooks_says_how_to_add_one(setup: Setup) -> None:
    assert "events webhook add" in setup.ok("deliver", *FAST)


def test_deliver_exits_1_when_events_were_dead_lettered(setup: Setup, router: respx.MockRouter) -> None:
    route = router.post(URL).mock(side_effect=lambda r: httpx.Response(503 if json.loads(r.content)["member"] == "c2" else 200))
    made = json.loads(setup.ok("webhook", "add", "--url", URL, "--from", "start", "-f", "json"))
    assert "dead-lettered" in setup.refused(1, "deliver", *FAST)
    c2 = [i for i, (_, member) in enumerate(EXPECTED) if member == "c2"]
    assert route.call_count == 2 + len(EXPECTED) - len(c2)  # c2's first event twice, the others of c2 parked, c1's once
    letters = json.loads(setup.ok("dead-letters", "--webhook", made["webhook_id"], "-f", "json"))
    assert [(d["type"], d["member"], d["attempts"]) for d in letters] == [(EXPECTED[c2[0]][0], "c2", 2)] + [
        (EXPECTED[i][0], "c2", 0) for i in c2[1:]
    ]
    assert json.loads(setup.ok("dead-letters", "-f", "json")) == letters

    cleared = json.loads(setup.ok("replay", "--webhook", made["webhook_id"], "--from", "start", "-f", "json"))
    assert (cleared["position"], cleared["dead_letters_cleared"]) == ("#0.0", len(c2))
    route.side_effect = None
    route.return_value = httpx.Response(200)
    before = route.call_count
    setup.ok("deliver", *FAST)  # everything again from the start, the receiver de-duplicating by id
    assert route.call_count - before == len(EXPECTED)
    assert json.loads(setup.ok("dead-letters", "-f", "json")) == []


def test_deliver_exits_3_when_the_receiver_cannot_be_reached(setup: Setup, router: respx.MockRouter) -> None:
    router.post(URL).mock(side_effect=httpx.ConnectError("connection refused"))
    made = json.loads(setup.ok("webhook", "add", "--url", URL, "--from", "start", "-f", "json"))
    assert "unreachable" in setup.refused(3, "deliver", *FAST)
    assert json.loads(setup.ok("webhook", "list", "-f", "json"))[0]["position"] == made["position"]
    assert json.loads(setup.ok("dead-letters", "-f", "json")) == []


def test_replay_never_goes_forward(setup: Setup) -> None:
    made = json.loads(setup.ok("webhook", "add", "--url", URL, "--from", "start", "-f", "json"))
    assert "never forward" in setup.refused(2, "replay", "--webhook", made["webhook_id"], "--from", f"#{setup.logs['transfer']}")
