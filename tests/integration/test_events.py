"""Issue 14, item 4, on the real server: the events of a history, delivered to a webhook that crashes.

The acceptance: a receiver on loopback (``tests/support/webhook_receiver.py``, its own process) that is
killed and restarted mid-stream, and a deliverer (``loyalty events deliver --follow``, its own process)
that is killed and restarted too, receive every event of a 1,000-operation history at least once: the
distinct ids received are exactly the ids the stream itself lists (``loyalty events tail --no-follow
--from start -f json``), each member's events arrive in ledger order, and, checked apart from the log,
every transaction the ledger lists that moves a member's points has its event.

Also here: dead letters parked per member and ``events replay``; ``events tail`` following live; no
personal data in an event even when a manual posting put some in the ledger; one deliverer per webhook.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from loyalty_accounts.app import create_app
from loyalty_accounts.chart import load_chart
from loyalty_accounts.events import DeliveryStore
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.operations import EarnCommand, RedeemCommand, TransferCommand
from loyalty_accounts.registry import open_database
from loyalty_accounts.settings import load_settings
from loyalty_accounts.testing.soak import SoakConfig, run
from loyalty_accounts.vocabulary.amounts import Money

pytestmark = pytest.mark.integration

RECEIVER = Path(__file__).resolve().parents[1] / "support" / "webhook_receiver.py"
LOYALTY = [str(Path(sys.executable).with_name("loyalty"))]
"""The installed command, beside this interpreter."""
EMAIL = "ann.lee@example.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Receiver:
    """The test receiver's process on ``port``, recording to ``out``; ``start`` again after ``kill``."""

    def __init__(self, port: int, secret: str, out: Path, refuse: str | None = None) -> None:
        self.port, self.secret, self.out, self.refuse = port, secret, out, refuse
        self.process: subprocess.Popen[str] | None = None

    def start(self, *, crash_after: int = 0) -> None:
        """Run the receiver; ``crash_after``: it dies right after recording that many deliveries, before answering."""

        env = {**os.environ, "RECEIVER_REFUSE": self.refuse or "", "RECEIVER_CRASH_AFTER": str(crash_after)}
        args = [sys.executable, str(RECEIVER), str(self.port), self.secret, str(self.out)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def received(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


@pytest.fixture
def env(ledger_url: str, registry_url: str) -> dict[str, str]:
    """The environment of the `loyalty` processes: the session's server, a fresh registry and its key."""

    return {
        **os.environ,
        "LOYALTY_LEDGER_URL": ledger_url,
        "LOYALTY_REGISTRY_URL": registry_url,
        "LOYALTY_REGISTRY_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        if receiver.process is not None and receiver.process.poll() is None:
            receiver.kill()


def _loyalty(env: dict[str, str], ledger: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*LOYALTY, "--ledger", ledger, *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _deliverer(env: dict[str, str], ledger: str) -> subprocess.Popen[str]:
    args = [*LOYALTY, "-q", "--ledger", ledger, "events", "deliver", "--follow", "--max-backoff", "0.5", "--poll", "0.2"]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stream(env: dict[str, str], ledger: str) -> list[dict[str, Any]]:
    """The stream's own account of the history: every event from the first log, as webhook bodies."""

    out = _loyalty(env, ledger, "-q", "events", "tail", "--no-follow", "--from", "start", "-f", "json").stdout
    return [json.loads(line) for line in out.splitlines()]


def _add_webhook(env: dict[str, str], ledger: str, port: int) -> tuple[str, str]:
    made = json.loads(_loyalty(env, ledger, "-q", "events", "webhook", "add", "--url", f"http://127.0.0.1:{port}/hook", "--from", "start", "-f", "json").stdout)
    return made["webhook_id"], made["secret"]


def _position(env: dict[str, str], ledger: str, webhook: str) -> int:
    rows = json.loads(_loyalty(env, ledger, "-q", "events", "webhook", "list", "-f", "json").stdout)
    return int(next(r for r in rows if r["webhook_id"] == webhook)["position"].lstrip("#").split(".")[0])


def _members_moved(ledger_url: str, ledger: str) -> set[tuple[int, str]]:
    """(transaction id, member) for every transaction the ledger lists that moves a member's points: the
    transactions endpoint, not the log, read with the chart's own account grammar."""

    chart = load_chart(load_settings().chart)
    found: set[tuple[int, str]] = set()
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger)) as client:
        for tx in client.transactions():
            for p in tx.postings:
                if p.asset != chart.points_asset:
                    continue
                for address in (p.source, p.destination):
                    member = chart.customer_of(address)
                    if member is not None:
                        found.add((tx.id, member))
    return found


def test_a_receiver_and_a_deliverer_that_crash_mid_stream_miss_no_event_of_a_1000_operation_history(
    ledger_url: str, env: dict[str, str], receivers: list[Receiver], tmp_path: Path
) -> None:
    history = run(SoakConfig(url=ledger_url, operations=1000, workers=4, seed=1401, customers=20, drop=0.0, delay=0.0))
    assert history.ok and history.verdict.outcomes["posted"] > 500, history.verdict.outcomes
    ledger = history.ledger
    stream = _stream(env, ledger)
    ids = [e["id"] for e in stream]
    assert len(ids) == len(set(ids)) > 500
    head = max(e["log_id"] for e in stream)

    port = _free_port()
    webhook, secret = _add_webhook(env, ledger, port)
    receiver = Receiver(port, secret, tmp_path / "received.jsonl")
    receivers.append(receiver)
    receiver.start(crash_after=len(ids) // 4)  # the receiver crashes mid-stream, inside a delivery ...
    deliverer = _deliverer(env, ledger)
    try:
        assert receiver.process is not None
        _wait(lambda: receiver.process.poll() is not None, "the receiver to crash")  # type: ignore[union-attr]
        at_crash = len(receiver.received())
        time.sleep(1.5)
        receiver.start()  # ... and comes back on the same port
        _wait(lambda: len(receiver.received()) >= len(ids) // 2, "half of the stream")
        deliverer.send_signal(signal.SIGKILL)  # the deliverer crashes too, between two events or in one
        deliverer.wait()
        at_second_crash = len(receiver.received())
        deliverer = _deliverer(env, ledger)
        _wait(lambda: _position(env, ledger, webhook) > head, "the webhook to reach the newest log", timeout=300)
    finally:
        deliverer.send_signal(signal.SIGTERM)
        deliverer.wait(timeout=60)
    assert deliverer.returncode == 0, deliverer.stderr.read() if deliverer.stderr else ""
    assert at_crash == len(ids) // 4 and at_second_crash < len(ids)  # both crashes were mid-stream

    received = receiver.received()
    distinct = {r["id"] for r in received}
    assert distinct == set(ids)  # none missing, none made up
    assert len(distinct) == len(stream)  # counting distinct ids gives the stream's own count
    assert all(r["headers_id"] == r["id"] for r in received)
    unanswered = received[at_crash - 1]["id"]  # recorded, then the receiver died without answering:
    assert [r["id"] for r in received].count(unanswered) >= 2  # so it came again
    first_seen: dict[str, list[str]] = defaultdict(list)
    for r in received:
        if r["id"] not in first_seen[r["member"]]:
            first_seen[r["member"]].append(r["id"])
    in_stream: dict[str, list[str]] = defaultdict(list)
    for e in stream:
        in_stream[e["member"]].append(e["id"])
    assert first_seen == in_stream  # per member, in ledger order
    for events in (
        [e for e in stream if e["member"] == member and e["member_sequence"] is not None] for member in in_stream
    ):
        sequences = [e["member_sequence"] for e in events]
        assert sequences == sorted(sequences)  # the guard's counter never goes back within a member's stream
    posted = _members_moved(ledger_url, ledger)
    told = {(e["transaction_id"], e["member"]) for e in stream if e["type"] != "tier.changed"}
    assert told == posted  # every transaction moving a member's points is told, and nothing else
    dead = json.loads(_loyalty(env, ledger, "-q", "events", "dead-letters", "-f", "json").stdout)
    assert dead == []
    print(f"events {len(stream)}, deliveries {len(received)} ({len(received) - len(distinct)} repeated), "
          f"receiver crash at {at_crash}, deliverer crash at {at_second_crash}")


def _small_history(ledger_url: str, ledger: str) -> None:
    """alice earns twice, bob earns, redeems and gives alice points, carol earns; the points released first."""

    now = datetime.now(timezone.utc)
    base = now - timedelta(days=20)  # past the 14 days pending: the release sweep makes them spendable

    def usd(amount: str) -> Money:
        return Money(amount=Decimal(amount), currency="USD")

    with create_app(ledger_url=ledger_url, ledger_name=ledger) as app:
        app.program.init()
        p = app.program
        p.earn(EarnCommand(customer="alice", order_id="o-1", amount=usd("40.00"), ordered_at=base))
        p.earn(EarnCommand(customer="bob", order_id="o-2", amount=usd("90.00"), ordered_at=base + timedelta(minutes=1)))
        p.earn(EarnCommand(customer="carol", order_id="o-3", amount=usd("15.00"), ordered_at=base + timedelta(minutes=2)))
        p.release(now - timedelta(minutes=5))
        p.redeem(RedeemCommand(customer="bob", redemption_id="r-1", points=30, reward="mug", at=now - timedelta(minutes=4)))
        p.transfer(TransferCommand(customer="bob", to_customer="alice", transfer_id="t-1", points=20, at=now - timedelta(minutes=3)))
        p.earn(EarnCommand(customer="alice", order_id="o-4", amount=usd("25.00"), ordered_at=now - timedelta(minutes=2)))


def test_refused_events_are_dead_letters_that_hold_back_their_member_and_replay_delivers_them(
    ledger_url: str, ledger_name: str, env: dict[str, str], receivers: list[Receiver], tmp_path: Path
) -> None:
    _small_history(ledger_url, ledger_name)
    stream = _stream(env, ledger_name)
    bob = [e for e in stream if e["member"] == "bob"]
    assert len(bob) >= 3
    port = _free_port()
    webhook, secret = _add_webhook(env, ledger_name, port)
    refusing = Receiver(port, secret, tmp_path / "received.jsonl", refuse="bob")
    receivers.append(refusing)
    refusing.start()

    done = _loyalty(env, ledger_name, "events", "deliver", "--max-attempts", "2", "--max-backoff", "0.05", check=False)
    assert done.returncode == 1 and "dead-lettered" in done.stderr
    got = refusing.received()
    assert [r["id"] for r in got] == [e["id"] for e in stream if e["member"] != "bob"]  # the others went on, in order
    dead = json.loads(_loyalty(env, ledger_name, "-q", "events", "dead-letters", "-f", "json").stdout)
    assert [d["event_id"] for d in dead] == [e["id"] for e in bob]
    assert dead[0]["attempts"] == 2 and "HTTP 500" in dead[0]["last_error"] and dead[0]["position"]
    assert all(d["attempts"] == 0 and bob[0]["id"] in d["last_error"] for d in dead[1:])  # parked, never sent

    refusing.kill()
    accepting = Receiver(port, secret, tmp_path / "received.jsonl")
    receivers.append(accepting)
    accepting.start()
    replayed = json.loads(_loyalty(env, ledger_name, "-q", "events", "replay", "--webhook", webhook, "--from", f"#{bob[0]['log_id']}", "-f", "json").stdout)
    assert replayed["dead_letters_cleared"] == len(bob)
    _loyalty(env, ledger_name, "events", "deliver")
    after = accepting.received()
    assert [r["id"] for r in after if r["member"] == "bob"] == [e["id"] for e in bob]
    assert {r["id"] for r in after} == {e["id"] for e in stream}
    assert json.loads(_loyalty(env, ledger_name, "-q", "events", "dead-letters", "-f", "json").stdout) == []


def test_tail_prints_an_event_as_soon_as_the_ledger_records_it(ledger_url: str, ledger_name: str, env: dict[str, str]) -> None:
    _small_history(ledger_url, ledger_name)
    tail = subprocess.Popen(
        [*LOYALTY, "--ledger", ledger_name, "events", "tail", "-f", "json", "--poll", "0.1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    try:
        assert tail.stdout is not None and tail.stderr is not None
        assert tail.stderr.readline().startswith("following the events")  # following from now: the history is not printed
        with create_app(ledger_url=ledger_url, ledger_name=ledger_name) as app:
            posted = app.program.earn(EarnCommand(customer="dave", order_id="o-live", amount=Money(amount=Decimal("10.00"), currency="USD"), ordered_at=datetime.now(timezone.utc)))
        reader = threading.Thread(target=lambda: lines.append(tail.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=30)
        assert lines, "tail printed nothing within 30 s of the earn"
        line = lines[0]
    finally:
        tail.send_signal(signal.SIGTERM)
        tail.wait(timeout=30)
    event = json.loads(line)
    assert (event["type"], event["member"], event["reference"]) == ("points.earned", "dave", "earn:o-live")
    assert event["transaction_id"] == posted.transactions[0].id and event["points"] == posted.points
    assert tail.returncode == 0


def test_no_event_carries_personal_data_even_when_a_manual_posting_put_some_in_the_ledger(
    ledger_url: str, ledger_name: str, env: dict[str, str]
) -> None:
    _small_history(ledger_url, ledger_name)
    chart = load_chart(load_settings().chart)
    # Behind the programme's back: a raw posting to the server's API, personal data in its metadata.
    raw = httpx.post(
        f"{ledger_url}/v2/{ledger_name}/transactions",
        params={"schemaVersion": chart.schema_version()},
        json={
            "postings": [{"source": "world", "destination": "customers:erin:points:20270101", "amount": 5, "asset": chart.points_asset}],
            "metadata": {"note": f"goodwill for {EMAIL}", "agent": "+44 7700 900123"},
        },
        timeout=30,
    )
    assert raw.status_code < 300, raw.text
    stream = _stream(env, ledger_name)
    erin = [e for e in stream if e["member"] == "erin"]
    assert [(e["type"], e["points"], e["transaction_id"]) for e in erin] == [("points.moved", 5, raw.json()["data"]["id"])]
    assert erin[0]["details"]["note"].startswith("(withheld") and erin[0]["details"]["agent"].startswith("(withheld")
    text = json.dumps(stream)
    assert EMAIL not in text and "7700" not in text


def test_one_deliverer_per_webhook_a_second_one_skips_it(
    ledger_url: str, ledger_name: str, env: dict[str, str], registry_url: str, receivers: list[Receiver], tmp_path: Path
) -> None:
    _small_history(ledger_url, ledger_name)
    port = _free_port()
    webhook, secret = _add_webhook(env, ledger_name, port)
    receiver = Receiver(port, secret, tmp_path / "received.jsonl")
    receivers.append(receiver)
    receiver.start()
    holder = DeliveryStore(open_database(registry_url))
    try:
        with holder.exclusive(webhook) as mine:
            assert mine
            done = _loyalty(env, ledger_name, "events", "deliver")
            assert "another process is delivering" in done.stdout
            assert receiver.received() == []
    finally:
        holder.close()
    _loyalty(env, ledger_name, "events", "deliver")
    assert len(receiver.received()) == len(_stream(env, ledger_name))


def test_a_following_deliverer_picks_up_a_webhook_added_meanwhile_and_drops_one_removed(
    ledger_url: str, ledger_name: str, env: dict[str, str], receivers: list[Receiver], tmp_path: Path
) -> None:
    _small_history(ledger_url, ledger_name)
    total = len(_stream(env, ledger_name))
    first_port, second_port = _free_port(), _free_port()
    first, first_secret = _add_webhook(env, ledger_name, first_port)
    one = Receiver(first_port, first_secret, tmp_path / "one.jsonl")
    receivers.append(one)
    one.start()
    deliverer = _deliverer(env, ledger_name)
    try:
        _wait(lambda: len(one.received()) == total, "the first webhook to take the history")
        second, second_secret = _add_webhook(env, ledger_name, second_port)
        two = Receiver(second_port, second_secret, tmp_path / "two.jsonl")
        receivers.append(two)
        two.start()
        _wait(lambda: len(two.received()) == total, "the webhook added meanwhile to take the history")
        _loyalty(env, ledger_name, "-q", "events", "webhook", "remove", first)
        time.sleep(1.0)  # the first webhook's deliverer sees the removal at its next look
        with create_app(ledger_url=ledger_url, ledger_name=ledger_name) as app:
            app.program.earn(EarnCommand(customer="dave", order_id="o-late", amount=Money(amount=Decimal("10.00"), currency="USD"), ordered_at=datetime.now(timezone.utc)))
        _wait(lambda: len(two.received()) == total + 1, "the new event at the remaining webhook")
        time.sleep(1.0)
    finally:
        deliverer.send_signal(signal.SIGTERM)
        deliverer.wait(timeout=60)
    assert deliverer.returncode == 0
    assert len(one.received()) == total  # removed: nothing more sent to it
    assert two.received()[-1]["member"] == "dave"
