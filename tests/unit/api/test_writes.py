"""The API's writes: a JSON body to its command (the clock filling instants left out), the business key an
Idempotency-Key is bound to, and the scope each write needs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from loyalty_accounts.api.writes import WRITES, Sweep, Write, build, business_key, required_scope
from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import Command

NOW = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
MONEY = {"amount": "20.5", "currency": "USD"}

BODIES: dict[str, dict[str, Any]] = {
    "earn": {"customer": "c42", "order_id": "o-1001", "amount": MONEY},
    "refund": {"customer": "c42", "order_id": "o-1001", "refund_id": "r-1", "amount": MONEY},
    "hold": {"customer": "c42", "hold_id": "h-9", "points": 70},
    "capture": {"customer": "c42", "hold_id": "h-9", "points": 55},
    "void": {"customer": "c42", "hold_id": "h-9"},
    "redeem": {"customer": "c42", "redemption_id": "rd-1", "points": 70},
    "exchange_out": {"customer": "c42", "exchange_id": "x-1", "partner": "skyway", "partner_points": 40},
    "exchange_in": {"customer": "c42", "exchange_id": "x-2", "partner": "railco", "partner_points": 100},
    "transfer": {"customer": "c42", "to_customer": "c77", "transfer_id": "t-1", "points": 50},
    "convert": {"customer": "c42", "conversion_id": "cv-1", "points": 500},
    "adjust": {"customer": "c42", "adjustment_id": "adj-1", "direction": "credit", "points": 50, "reason": "goodwill"},
    "engage": {"customer": "c42", "event": "review_written", "key": "rev-1"},
    "release": {},
    "expire": {},
}
"""A minimal valid body of every write, by operation."""

INSTANTS = {"earn": "ordered_at", "release": "as_of", "expire": "as_of", "void": None}
"""The instant each write's clock fills (``at`` unless named here; None: none)."""
UNSTATED = {"earn": frozenset({"ordered_at"})}
"""What a command made from a minimal body says was not stated (nothing unless named here): an earn's order
instant is what the order is; the others' ``at`` is only when they are processed."""
BUSINESS_KEYS = {
    "earn": "o-1001", "refund": "r-1", "hold": "h-9", "capture": "h-9", "void": "h-9", "redeem": "rd-1",
    "exchange_out": "x-1", "exchange_in": "x-2", "transfer": "t-1", "convert": "cv-1", "adjust": "adj-1", "engage": "rev-1",
}
SCOPES = {
    "earn": "pos:earn", "refund": "pos:earn",
    "hold": "checkout:spend", "capture": "checkout:spend", "void": "checkout:spend", "redeem": "checkout:spend",
    "exchange_out": "partner:skyway", "exchange_in": "partner:railco",
    "transfer": "admin", "convert": "admin", "adjust": "admin", "engage": "admin", "release": "admin", "expire": "admin",
}
"""The scope each minimal body's write needs (README, "Keys and scopes")."""


def write_ids(write: Write) -> str:
    return write.operation


every_write = pytest.mark.parametrize("write", WRITES, ids=write_ids)


def instant_of(write: Write) -> str | None:
    return INSTANTS.get(write.operation, "at")


def test_the_tables_cover_every_write() -> None:
    operations = {w.operation for w in WRITES}
    assert len(operations) == len(WRITES) == len({w.path for w in WRITES})
    assert set(BODIES) == set(SCOPES) == operations
    assert set(BUSINESS_KEYS) == operations - {"release", "expire"}


@every_write
def test_a_minimal_body_builds_its_command_with_the_clock_filling_the_instant(write: Write) -> None:
    command = build(write, BODIES[write.operation], NOW)
    assert isinstance(command, write.model)
    dumped = command.model_dump(mode="json")
    for name, value in BODIES[write.operation].items():
        expected = {"amount": "20.5", "currency": "USD"} if name == "amount" else value
        assert dumped[name] == expected, name
    name = instant_of(write)
    if name is not None:
        expected_instant = NOW.replace(microsecond=0) if write.model is Sweep else NOW
        assert getattr(command, name) == expected_instant
    if isinstance(command, Command):
        assert command.unstated == UNSTATED.get(write.operation, frozenset())


@pytest.mark.parametrize("write", [w for w in WRITES if instant_of(w) is not None], ids=write_ids)
def test_a_stated_instant_is_kept_and_counts(write: Write) -> None:
    name = instant_of(write)
    assert name is not None
    command = build(write, {**BODIES[write.operation], name: "2026-04-01T09:00:00.5+02:00"}, NOW)
    stated = datetime(2026, 4, 1, 7, 0, 0, 500000 if write.model is not Sweep else 0, tzinfo=timezone.utc)
    assert getattr(command, name) == stated
    if isinstance(command, Command):
        assert command.unstated == frozenset()


@pytest.mark.parametrize("write", [w for w in WRITES if w.model is not Sweep], ids=write_ids)
def test_a_retry_a_moment_later_is_the_same_command(write: Write) -> None:
    body = BODIES[write.operation]
    first = build(write, body, NOW)
    retry = build(write, body, NOW + timedelta(seconds=7))
    assert first.fingerprint() == retry.fingerprint()


def test_a_stated_order_instant_is_part_of_the_earn() -> None:
    earn = next(w for w in WRITES if w.operation == "earn")
    body = {**BODIES["earn"], "ordered_at": "2026-04-01T09:00:00Z"}
    assert build(earn, body, NOW).fingerprint() != build(earn, {**body, "ordered_at": "2026-04-01T09:00:01Z"}, NOW).fingerprint()
    assert build(earn, body, NOW).fingerprint() != build(earn, BODIES["earn"], NOW).fingerprint()


def test_a_sweep_may_name_one_customer() -> None:
    release = next(w for w in WRITES if w.operation == "release")
    sweep = build(release, {"customer": "c42", "as_of": "2026-04-01T00:00:00Z"}, NOW)
    assert (sweep.customer, sweep.as_of) == ("c42", datetime(2026, 4, 1, tzinfo=timezone.utc))


# -- refusals ---------------------------------------------------------------------------------


@every_write
def test_an_unknown_field_is_refused_by_name(write: Write) -> None:
    with pytest.raises(InvalidCommand) as caught:
        build(write, {**BODIES[write.operation], "bogus": 1}, NOW)
    assert "no field 'bogus'" in caught.value.message
    assert caught.value.message.startswith(write.operation + ":")


@every_write
def test_an_unknown_field_named_with_an_email_is_not_repeated(write: Write) -> None:
    with pytest.raises(InvalidCommand) as caught:
        build(write, {**BODIES[write.operation], "ann.lee@example.com": "c42"}, NOW)
    assert "no field" in caught.value.message
    assert "example.com" not in caught.value.message


@pytest.mark.parametrize("write", [w for w in WRITES if w.model is not Sweep], ids=write_ids)
def test_a_body_may_not_say_what_was_unstated(write: Write) -> None:
    with pytest.raises(InvalidCommand, match="no field 'unstated'"):
        build(write, {**BODIES[write.operation], "unstated": []}, NOW)


@pytest.mark.parametrize("body", [[], ["customer", "c42"], "c42", 42, None, True])
@every_write
def test_a_body_that_is_not_a_json_object_is_refused(write: Write, body: Any) -> None:
    with pytest.raises(InvalidCommand, match="must be a JSON object"):
        build(write, body, NOW)


@pytest.mark.parametrize("operation", ["earn", "refund"])
@pytest.mark.parametrize("number", ["20.5", "20.50", "2e1", "20.0"])
def test_money_as_a_json_number_is_refused(operation: str, number: str) -> None:
    write = next(w for w in WRITES if w.operation == operation)
    body = json.loads(json.dumps(BODIES[operation]).replace('"20.5"', number))
    assert isinstance(body["amount"]["amount"], float)
    with pytest.raises(InvalidCommand, match="never a float"):
        build(write, body, NOW)


@pytest.mark.parametrize("write", [w for w in WRITES if w.model is not Sweep], ids=write_ids)
def test_a_missing_field_is_named(write: Write) -> None:
    body = {k: v for k, v in BODIES[write.operation].items() if k != "customer"}
    with pytest.raises(InvalidCommand, match="customer: required"):
        build(write, body, NOW)


@every_write
def test_an_email_in_a_field_is_never_repeated(write: Write) -> None:
    with pytest.raises(InvalidCommand) as caught:
        build(write, {**BODIES[write.operation], "customer": "ann.lee@example.com"}, NOW)
    assert "ann.lee" not in caught.value.message
    assert "example.com" not in str(caught.value.details)
    assert "customer" in caught.value.message


def test_points_must_be_whole_json_integers() -> None:
    hold = next(w for w in WRITES if w.operation == "hold")
    for points in (70.0, "70", True, 0, -5):
        with pytest.raises(InvalidCommand, match="points"):
            build(hold, {**BODIES["hold"], "points": points}, NOW)


# -- what the idempotency key and the key's scopes are checked against --------------------------


@pytest.mark.parametrize("write", [w for w in WRITES if w.model is not Sweep], ids=write_ids)
def test_business_key_is_the_commands_own(write: Write) -> None:
    assert business_key(write, build(write, BODIES[write.operation], NOW)) == BUSINESS_KEYS[write.operation]


@pytest.mark.parametrize("operation", ["release", "expire"])
def test_a_sweeps_business_key_is_its_whole_second_and_customer(operation: str) -> None:
    write = next(w for w in WRITES if w.operation == operation)

    def key(body: dict[str, Any], now: datetime = NOW) -> str:
        return business_key(write, build(write, body, now))

    assert key({}) == key({}, NOW + timedelta(microseconds=500))  # the same second
    assert key({}) != key({}, NOW + timedelta(seconds=1))
    assert key({}).endswith(":*")
    assert key({"customer": "c42"}).endswith(":c42")
    assert key({"customer": "c42"}) != key({"customer": "c43"})
    assert key({"as_of": "2026-04-01T00:00:00Z"}) != key({"as_of": "2026-04-02T00:00:00Z"})


@every_write
def test_required_scope_of_every_write(write: Write) -> None:
    assert required_scope(write, build(write, BODIES[write.operation], NOW)) == SCOPES[write.operation]


@pytest.mark.parametrize("operation", ["exchange_out", "exchange_in"])
def test_an_exchange_needs_the_scope_of_the_partner_its_body_names(operation: str) -> None:
    write = next(w for w in WRITES if w.operation == operation)
    for partner in ("skyway", "railco", "seaways"):
        command = build(write, {**BODIES[operation], "partner": partner}, NOW)
        assert required_scope(write, command) == f"partner:{partner}"


def test_a_redemption_may_name_a_catalogue_reward_instead_of_points() -> None:
    redeem = next(w for w in WRITES if w.operation == "redeem")
    command = build(redeem, {"customer": "c42", "redemption_id": "rd-2", "reward": "MUG-BLUE"}, NOW)
    assert (command.reward, command.points) == ("MUG-BLUE", None)
    with pytest.raises(InvalidCommand, match="give the points, or a catalogue reward"):
        build(redeem, {"customer": "c42", "redemption_id": "rd-3"}, NOW)
