"""`loyalty member ...` on an in-memory registry and an in-memory ledger: output, files, exit codes.

The registry's store is tests/support/fake_registry.py (its SQL is tested on PostgreSQL in
tests/integration/test_members.py); the ledger is the CLI suite's fake.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from support.fake_ledger import FakeLedger
from support.fake_registry import FakeRegistryStore
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.members import MemberRegistry, RegistryKey

runner = CliRunner()
KEY = RegistryKey(bytes(range(32)))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeRegistryStore:
    fake = FakeRegistryStore()
    registry = MemberRegistry(fake, KEY)
    monkeypatch.setattr(AppContext, "members", lambda self: registry)
    monkeypatch.delenv("LOYALTY_OPERATOR", raising=False)
    return fake


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def _add(*extra: str) -> str:
    result = invoke("member", "add", "--name", "Ann Lee", "--email", "ann@example.com", *extra)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_add_prints_only_the_id_and_json_gives_it_too(store: FakeRegistryStore) -> None:
    member = _add("--phone", "+1 415 555 0100", "--country", "us", "--consent", "email_marketing=yes")
    assert re.fullmatch(r"m_[A-Za-z0-9_-]{22}", member)
    as_json = invoke("member", "add", "--name", "Bob", "-f", "json")
    assert as_json.exit_code == 0 and list(json.loads(as_json.stdout)) == ["member_id"]
    assert len(store.members_table) == 2


def test_show_opens_the_profile(store: FakeRegistryStore) -> None:
    member = _add("--phone", "+1 415 555 0100", "--country", "us", "--consent", "email_marketing=yes", "--consent", "profiling=no")
    body = json.loads(invoke("member", "show", member, "-f", "json").stdout)
    assert (body["member_id"], body["state"], body["name"], body["email"], body["phone"], body["country"]) == (
        member, "active", "Ann Lee", "ann@example.com", "+14155550100", "US"
    )
    assert {name: c["granted"] for name, c in body["consents"].items()} == {"email_marketing": True, "profiling": False}
    table = invoke("member", "show", member)
    assert table.exit_code == 0 and "Ann Lee" in table.stdout and "email_marketing=yes since" in table.stdout


def test_update_changes_and_clears(store: FakeRegistryStore) -> None:
    member = _add("--phone", "+14155550100")
    result = invoke("member", "update", member, "--email", "ann@example.org", "--clear", "phone", "-f", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(invoke("member", "show", member, "-f", "json").stdout)
    assert (body["email"], body["phone"]) == ("ann@example.org", None)


def test_forget_then_show_gives_the_pseudonym_and_a_second_forget_is_a_replay(store: FakeRegistryStore) -> None:
    member = _add()
    forgotten = invoke("member", "forget", member, "--reason", "erasure-request", "--operator", "ops-17", "-f", "json")
    assert forgotten.exit_code == 0, forgotten.output
    body = json.loads(forgotten.stdout)
    assert (body["state"], body["pseudonym"], body["replayed"], body["audit_id"]) == ("forgotten", f"forgotten member {member}", False, 1)
    shown = json.loads(invoke("member", "show", member, "-f", "json").stdout)
    assert (shown["state"], shown["name"], shown["email"]) == ("forgotten", f"forgotten member {member}", None)
    again = json.loads(invoke("member", "forget", member, "--reason", "erasure-request", "--operator", "ops-17", "-f", "json").stdout)
    assert again["replayed"] is True and again["forgotten_at"] == body["forgotten_at"]
    audit = json.loads(invoke("member", "audit", "-f", "json").stdout)
    assert [(a["actor"], a["action"], a["reason"], a["member_id"]) for a in audit] == [("ops-17", "forget", "erasure-request", member)]


def test_the_operator_comes_from_the_option_else_the_settings(store: FakeRegistryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    member = _add()
    missing = invoke("member", "forget", member, "--reason", "erasure-request")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: who is asking: give --operator ID")
    monkeypatch.setenv("LOYALTY_OPERATOR", "dpo-2")
    assert invoke("member", "forget", member, "--reason", "erasure-request").exit_code == 0
    assert store.audit_table[0].actor == "dpo-2"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("member", "show", "m_" + "a" * 22), 1, "error: no member m_aaaaaaaaaaaaaaaaaaaaaa in the registry"),
        (("member", "show", "alice"), 2, "error: member id 'alice' is not valid"),
        (("member", "add", "--name", "Ann", "--email", "ann-at-example"), 2, "error: invalid profile: email: not an email address"),
        (("member", "add", "--name", "Ann", "--consent", "email_marketing=maybe"), 2, "error: --consent email_marketing=maybe: write NAME=yes or NAME=no"),
        (("member", "add", "--name", "Ann", "--consent", "newsletter=yes"), 2, "error: invalid profile: no consent named 'newsletter'"),
        (("member", "forget", "m_" + "a" * 22, "--reason", "Asked nicely", "--operator", "ops-1"), 2, "error: reason is not valid"),
        (("member", "forget", "m_" + "a" * 22, "--reason", "erasure-request", "--operator", "Jane Doe"), 2, "error: operator id is not valid"),
        (("member", "update", "m_" + "a" * 22), 2, "error: nothing to update"),
    ],
)
def test_refusals_are_one_line_with_their_exit_code(store: FakeRegistryStore, args: tuple[str, ...], code: int, message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert store.members_table == {} and store.audit_table == []


def test_a_registry_that_cannot_be_reached_exits_3(store: FakeRegistryStore) -> None:
    store.down = True
    result = invoke("member", "add", "--name", "Ann")
    assert result.exit_code == 3 and result.stderr == "error: member registry unavailable: connection refused\n"


def test_a_forgotten_member_cannot_be_updated(store: FakeRegistryStore) -> None:
    member = _add()
    invoke("member", "forget", member, "--reason", "erasure-request", "--operator", "ops-1")
    result = invoke("member", "update", member, "--name", "Ann Again")
    assert result.exit_code == 1 and f"error: member {member} was forgotten on" in result.stderr


def _earn(member: str, order: str, amount: str, at: str) -> None:
    result = invoke("earn", "-c", member, "--order", order, "--amount", amount, "--ordered-at", at)
    assert result.exit_code == 0, result.output


def test_export_writes_the_data_access_file_owner_only_and_audits_it(store: FakeRegistryStore, ledger: FakeLedger, tmp_path: Path) -> None:
    member = _add("--consent", "sms_marketing=yes")
    _earn(member, "o-1", "3000.00", "2026-01-10T10:00:00Z")  # 3000 qualifying points: member
    _earn(member, "o-2", "2500.00", "2026-02-10T10:00:00Z")  # 5500 >= silver's 5000: an upgrade
    out = tmp_path / "ann.json"
    result = invoke("member", "export", member, "--out", str(out), "--reason", "access-request", "--operator", "dpo-1", "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["statement_lines"], summary["tier_changes"], summary["audit_id"]) == (2, 1, 1)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text())
    assert (document["format"], document["member_id"], document["holder"], document["state"]) == (
        "loyalty-accounts member data v1", member, "Ann Lee", "active"
    )
    assert document["profile"] == {"name": "Ann Lee", "email": "ann@example.com", "phone": None, "country": None}
    assert document["consents"]["sms_marketing"]["granted"] is True
    statement = document["statement"]
    assert [(line["business_key"], line["points"]) for line in statement["lines"]] == [("o-1", 3000), ("o-2", 2500)]
    assert (statement["opening_points"], statement["closing_points"]) == (0, 5500)
    [change] = document["tier_history"]
    assert (change["order_id"], change["before"], change["after"], change["direction"], change["at"]) == (
        "o-2", "member", "silver", "upgrade", "2026-02-10T10:00:00Z"
    )
    assert document["tier_now"]["tier"] in ("member", "silver")  # depends on today's rolling window
    [record] = store.audit_table
    assert (record.actor, record.action, record.reason, record.member_id) == ("dpo-1", "export", "access-request", member)


def test_a_forgotten_member_still_has_a_statement_and_an_export_under_its_pseudonym(
    store: FakeRegistryStore, ledger: FakeLedger, tmp_path: Path
) -> None:
    member = _add()
    _earn(member, "o-1", "12.00", "2026-01-10T10:00:00Z")
    before = invoke("statement", "-c", member, "--to", "2026-03-01", "-f", "json").stdout
    named = invoke("member", "statement", member, "--to", "2026-03-01")
    assert named.exit_code == 0 and named.stdout.startswith(f"Statement of Ann Lee ({member}) over")
    invoke("member", "forget", member, "--reason", "erasure-request", "--operator", "ops-1")
    assert invoke("statement", "-c", member, "--to", "2026-03-01", "-f", "json").stdout == before
    table = invoke("member", "statement", member, "--to", "2026-03-01")
    assert table.exit_code == 0 and table.stdout.startswith(f"Statement of forgotten member {member} over")
    as_json = json.loads(invoke("member", "statement", member, "--to", "2026-03-01", "-f", "json").stdout)
    assert as_json["holder"] == f"forgotten member {member}" and as_json["closing_points"] == 12
    out = tmp_path / "gone.json"
    assert invoke("member", "export", member, "--out", str(out), "--reason", "access-request", "--operator", "dpo-1").exit_code == 0
    document = json.loads(out.read_text())
    assert (document["holder"], document["profile"], document["consents"]) == (f"forgotten member {member}", None, {})
    assert document["statement"]["closing_points"] == 12 and "Ann" not in out.read_text()


def test_a_member_the_ledger_never_saw_exports_without_a_statement(store: FakeRegistryStore, ledger: FakeLedger, tmp_path: Path) -> None:
    member = _add()
    out = tmp_path / "new.json"
    assert invoke("member", "export", member, "--out", str(out), "--reason", "access-request", "--operator", "dpo-1").exit_code == 0
    document = json.loads(out.read_text())
    assert (document["statement"], document["tier_history"], document["tier_now"]) == (None, [], None)


def test_an_unknown_member_exports_nothing(store: FakeRegistryStore, ledger: FakeLedger, tmp_path: Path) -> None:
    out = tmp_path / "none.json"
    result = invoke("member", "export", "m_" + "b" * 22, "--out", str(out), "--reason", "access-request", "--operator", "dpo-1")
    assert result.exit_code == 1 and not out.exists() and store.audit_table == []


@pytest.mark.parametrize("where", ["folder", "missing-folder", "empty"])
def test_an_export_that_cannot_be_written_is_not_audited(store: FakeRegistryStore, ledger: FakeLedger, tmp_path: Path, where: str) -> None:
    member = _add()
    out = {"folder": str(tmp_path), "missing-folder": str(tmp_path / "nowhere" / "x.json"), "empty": ""}[where]
    result = invoke("member", "export", member, "--out", out, "--reason", "access-request", "--operator", "dpo-1")
    assert result.exit_code == 2 and result.stderr.startswith("error: --out") and result.stderr.count("\n") == 1, result.stderr
    assert store.audit_table == [] and list(tmp_path.iterdir()) == []


def test_an_export_replaces_the_file_whole_and_leaves_nothing_beside_it(store: FakeRegistryStore, ledger: FakeLedger, tmp_path: Path) -> None:
    member = _add()
    out = tmp_path / "access.json"
    out.write_text("old")
    assert invoke("member", "export", member, "--out", str(out), "--reason", "access-request", "--operator", "dpo-1").exit_code == 0
    assert json.loads(out.read_text())["member_id"] == member and [p.name for p in tmp_path.iterdir()] == ["access.json"]
    assert out.stat().st_mode & 0o777 == 0o600
