"""``loyalty key create|list|revoke`` on an in-memory key store, and ``--expires`` (``90d`` or a date/instant)."""

from __future__ import annotations

import contextvars
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.fake_api import FakeKeyStore
from support.programme import ROOT
from typer.testing import CliRunner

from loyalty_accounts.api.keys import ApiKeys
from loyalty_accounts.cli import api_cmd
from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.errors import InvalidCommand, UnknownEntity

runner = CliRunner()
NOW = datetime(2026, 5, 1, 10, 30, tzinfo=timezone.utc)
CHART = ROOT / "chart_of_accounts.yaml"


def expiry_under(text: str, chart: Path = CHART) -> datetime:
    """``expiry(text, NOW)`` as ``loyalty key create`` runs it: inside a command whose programme has ``chart``
    (run in a context of its own, so that no other test sees this command as the current one)."""

    def run() -> datetime:
        AppContext(None, None, chart, None)
        return api_cmd.expiry(text, NOW)

    return contextvars.copy_context().run(run)


# -- --expires ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "days"), [("90d", 90), ("1d", 1), (" 30d ", 30), ("0365d", 365), ("9999d", 9999)])
def test_days_from_now(text: str, days: int) -> None:
    assert expiry_under(text) == NOW + timedelta(days=days)


@pytest.mark.parametrize("text", ["0d", "00d", "0000d"])
def test_no_days_is_refused(text: str) -> None:
    with pytest.raises(InvalidCommand, match="at least 1d"):
        expiry_under(text)


def test_a_date_is_the_start_of_that_day_in_the_programmes_zone(tmp_path: Path) -> None:
    assert expiry_under("2027-03-01") == datetime(2027, 3, 1, tzinfo=timezone.utc)  # the repository's chart: UTC
    paris = tmp_path / "chart_of_accounts.yaml"
    text = CHART.read_text()
    assert "timezone: UTC" in text
    paris.write_text(text.replace("timezone: UTC", "timezone: Europe/Paris", 1))
    assert expiry_under("2027-03-01", paris) == datetime(2027, 2, 28, 23, 0, tzinfo=timezone.utc)  # CET is UTC+1


def test_an_instant_with_an_offset_is_that_instant() -> None:
    assert expiry_under("2027-03-01T09:00:00+02:00") == datetime(2027, 3, 1, 7, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["soon", "90", "-5d", "90 days", "12345d", "1.5d", "2027-02-30", ""])
def test_anything_else_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(InvalidCommand, match="--expires"):
        expiry_under(text)


# -- the commands ---------------------------------------------------------------------------------------


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeKeyStore:
    """The key store every ``loyalty key`` command opens."""

    fake = FakeKeyStore()
    monkeypatch.setattr(api_cmd, "_keys", lambda context: ApiKeys(fake))  # type: ignore[arg-type]
    monkeypatch.setattr(api_cmd, "_require_ledger", lambda context: None)  # the ledger "shop" exists
    return fake


def test_no_key_is_made_for_a_ledger_that_does_not_exist(store: FakeKeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(context: object) -> None:
        raise UnknownEntity("ledger shop not found", code="LEDGER_NOT_FOUND")

    monkeypatch.setattr(api_cmd, "_require_ledger", missing)
    result = key("create", "--scope", "pos:earn", "--label", "till-12")
    assert result.exit_code == 1 and "ledger shop not found" in result.stderr
    assert store.rows == {}


def key(*args: str) -> object:
    return runner.invoke(loyalty_app, ["--chart", str(CHART), "--ledger", "shop", "key", *args])


def test_create_prints_the_key_once_and_keeps_only_its_digest(store: FakeKeyStore) -> None:
    result = key("create", "--scope", "pos:earn", "--scope", "partner:skyway", "--label", "till-12", "--expires", "30d", "-f", "json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    text = record["api_key"]
    assert (record["programme"], record["scopes"], record["label"], record["state"]) == ("shop", "pos:earn,partner:skyway", "till-12", "active")
    assert text.startswith(f"lk_{record['key_id']}_")
    assert "only a digest of it is stored" in result.stderr
    now = datetime.now(timezone.utc)
    authenticated = ApiKeys(store).authenticate(text, "shop", now)  # type: ignore[arg-type]
    assert authenticated.key_id == record["key_id"]
    assert timedelta(days=29) < authenticated.expires_at - now <= timedelta(days=30)
    assert text.split("_", 2)[2] not in repr(store.rows)


def test_create_refuses_a_partner_the_chart_does_not_have(store: FakeKeyStore) -> None:
    result = key("create", "--scope", "partner:seaways", "--label", "till-12")
    assert result.exit_code == 2
    assert "seaways" in result.stderr and "skyway" in result.stderr
    assert store.rows == {}


def test_create_refuses_a_bad_expiry_before_anything_is_stored(store: FakeKeyStore) -> None:
    result = key("create", "--scope", "pos:earn", "--label", "till-12", "--expires", "0d")
    assert result.exit_code == 2
    assert "--expires" in result.stderr
    assert store.rows == {}


def test_list_shows_states_and_never_a_secret(store: FakeKeyStore) -> None:
    made = [json.loads(key("create", "--scope", scope, "--label", "till-12", "-f", "json").stdout) for scope in ("pos:earn", "admin")]
    assert key("revoke", made[1]["key_id"]).exit_code == 0
    result = key("list", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {row["key_id"]: row for row in json.loads(result.stdout)}
    assert {k: rows[k]["state"] for k in rows} == {made[0]["key_id"]: "active", made[1]["key_id"]: "revoked"}
    for record in made:
        assert record["api_key"].split("_", 2)[2] not in result.stdout
    assert all("api_key" not in row for row in rows.values())


def test_list_keeps_to_the_programme_unless_all(store: FakeKeyStore) -> None:
    key("create", "--scope", "pos:earn", "--label", "till-12")
    runner.invoke(loyalty_app, ["--chart", str(CHART), "--ledger", "airline", "key", "create", "--scope", "admin", "--label", "ops"])
    assert [row["programme"] for row in json.loads(key("list", "-f", "json").stdout)] == ["shop"]
    assert sorted(row["programme"] for row in json.loads(key("list", "--all", "-f", "json").stdout)) == ["airline", "shop"]


def test_revoking_an_unknown_key_exits_1(store: FakeKeyStore) -> None:
    result = key("revoke", "0123456789abcdef")
    assert result.exit_code == 1
    assert "0123456789abcdef" in result.stderr
