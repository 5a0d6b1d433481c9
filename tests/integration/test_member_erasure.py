"""Issue 14's acceptance on the real server: after `member forget`, no byte of the member's profile is
recoverable from the registry database, and `report liability` and `reconcile` say what they said before.

The member's points are on a real Formance Ledger (the session's) under the member's opaque id; the
registry is a fresh PostgreSQL database of the session's cluster. Everything runs through the command
line, as an operator would. The registry's tables are read directly, and after `member compact`
(VACUUM FULL, CHECKPOINT) so are the files of the registry's database: the sealed profile, the wrapped
data key and the lookup digests captured before the erasure are in none of them. The server's
write-ahead log is not searched: it still holds them until it is recycled (see the README).
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from support.programme import STORY_NOW
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.ledger import LedgerClient

pytestmark = pytest.mark.integration

EMAIL = "zoe.quartermaine@example.com"
NAME = "Zoë Quartermaine"
PHONE = "+447700900123"
runner = CliRunner()


@pytest.fixture
def operator_env(registry_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LOYALTY_REGISTRY_URL", registry_url)
    monkeypatch.setenv("LOYALTY_REGISTRY_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.setenv("LOYALTY_OPERATOR", "dpo-7")
    yield


def _run(ledger_url: str, ledger_name: str, *args: str) -> str:
    result = runner.invoke(cli, ["-q", "--ledger-url", ledger_url, "--ledger", ledger_name, *args])
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


def _books(ledger_url: str, ledger_name: str, as_of: str, member: str) -> dict[str, str]:
    """What finance and the member see as of ``as_of``, in every format compared."""

    run = lambda *a: _run(ledger_url, ledger_name, *a)  # noqa: E731
    return {
        "liability json": run("report", "liability", "--as-of", as_of, "-f", "json"),
        "liability table": run("report", "liability", "--as-of", as_of),
        "reconcile json": run("reconcile", "--as-of", as_of, "--full", "-f", "json"),
        "reconcile table": run("reconcile", "--as-of", as_of, "--full"),
        "statement json": run("statement", "-c", member, "--to", as_of, "-f", "json"),
        "balance json": run("balance", "-c", member, "--as-of", as_of, "-f", "json"),
    }


def _registry_files(registry_url: str) -> list[Path]:
    """Every file of the registry's database in the cluster's data folder (tables, indexes, TOAST, catalogs)."""

    with psycopg.connect(registry_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # what the server holds in memory reaches the files
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]  # type: ignore[index]
    return [path for path in (Path(data_dir) / "base" / str(oid)).iterdir() if path.is_file()]


def _found_in(files: list[Path], needles: dict[str, bytes]) -> dict[str, list[str]]:
    """For each needle, the files holding its bytes."""

    contents = {path.name: path.read_bytes() for path in files}
    return {label: sorted(name for name, data in contents.items() if needle in data) for label, needle in needles.items()}


def _raw(registry_url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(registry_url) as conn:
        return list(conn.execute(query, params).fetchall())


def test_forget_leaves_the_books_as_they_were_and_no_byte_of_the_profile(
    ledger_url: str, ledger_name: str, registry_url: str, operator_env: None, client: LedgerClient
) -> None:
    run = lambda *a: _run(ledger_url, ledger_name, *a)  # noqa: E731
    run("init")
    member = run("member", "add", "--name", NAME, "--email", EMAIL, "--phone", PHONE, "--country", "GB",
                 "--consent", "email_marketing=yes").strip()
    neighbour = run("member", "add", "--name", "Ann Lee", "--email", "ann@example.com").strip()
    run("earn", "-c", member, "--order", "Z-1", "--amount", "5400.00", "--ordered-at", "2026-01-05T10:00:00Z")
    run("earn", "-c", member, "--order", "Z-2", "--amount", "80.00", "--ordered-at", "2026-02-05T10:00:00Z")
    run("earn", "-c", neighbour, "--order", "A-1", "--amount", "42.00", "--ordered-at", "2026-01-07T10:00:00Z")
    run("release", "--as-of", "2026-03-01T00:00:00Z")
    run("redeem", "-c", member, "--redemption", "ZR-1", "-p", "400", "--reward", "mug", "--at", "2026-03-02T10:00:00Z")
    # after the story, before its first bucket falls due (2027-01-05): the reconciliation passes whatever day this runs
    as_of = STORY_NOW.isoformat()

    before = _books(ledger_url, ledger_name, as_of, member)
    assert json.loads(before["liability json"])["ties"] is True
    assert json.loads(before["reconcile json"])["ok"] is True
    assert json.loads(before["statement json"])["closing_points"] == 5400 + 100 - 400  # Z-2 priced at silver's 1.25

    # What the registry holds of the member, read from its tables before the erasure.
    [(wrapped,)] = _raw(registry_url, "SELECT wrapped_key FROM member_keys WHERE member_id = %s", member)
    [(sealed,)] = _raw(registry_url, "SELECT sealed_profile FROM member_profiles WHERE member_id = %s", member)
    digests = [bytes(d) for (d,) in _raw(registry_url, "SELECT digest FROM member_lookup WHERE member_id = %s", member)]
    assert len(digests) == 5  # email, phone, name, two name tokens
    held = {"sealed profile": bytes(sealed), "wrapped data key": bytes(wrapped)} | {f"digest {i}": d for i, d in enumerate(digests)}
    in_clear = {"email": EMAIL.encode(), "name": NAME.encode(), "phone": PHONE.encode()}

    files = _registry_files(registry_url)
    assert all(_found_in(files, {label: needle})[label] for label, needle in held.items()), "the scan finds what is there"
    assert _found_in(files, in_clear) == {label: [] for label in in_clear}, "the profile is never stored in clear"

    forgotten = json.loads(run("member", "forget", member, "--reason", "erasure-request", "-f", "json"))
    assert (forgotten["state"], forgotten["replayed"]) == ("forgotten", False)

    # The books: every report the same, to the byte.
    after = _books(ledger_url, ledger_name, as_of, member)
    for name in before:
        assert after[name] == before[name], name

    # The registry's tables, read directly: nothing of the member but its id, instants and the audit's codes.
    for table in ("member_keys", "member_profiles", "member_lookup"):
        assert _raw(registry_url, f"SELECT count(*) FROM {table} WHERE member_id = %s", member) == [(0,)], table
    every_row = b"".join(
        str(row).encode() + b"".join(v for v in row if isinstance(v, bytes))
        for table in ("members", "member_keys", "member_profiles", "member_lookup", "member_audit", "registry_keys")
        for row in _raw(registry_url, f"SELECT * FROM {table}")
    )
    for label, needle in (held | in_clear).items():
        assert needle not in every_row, label
    assert _raw(registry_url, "SELECT actor, action, reason, member_id FROM member_audit") == [
        ("dpo-7", "forget", "erasure-request", member)
    ]

    # The files: after the rewrite, none of the registry database's files holds any of those bytes.
    run("member", "compact")
    assert _found_in(_registry_files(registry_url), held | in_clear) == {label: [] for label in held | in_clear}

    # The member still has a statement, under a pseudonym; the neighbour is untouched.
    statement = json.loads(run("member", "statement", member, "--to", as_of, "-f", "json"))
    assert statement["holder"] == f"forgotten member {member}"
    assert statement["closing_points"] == json.loads(before["statement json"])["closing_points"]
    assert json.loads(run("member", "show", neighbour, "-f", "json"))["email"] == "ann@example.com"
    shown = json.loads(run("member", "show", member, "-f", "json"))
    assert (shown["state"], shown["name"], shown["email"], shown["phone"]) == ("forgotten", f"forgotten member {member}", None, None)


def test_export_on_the_real_server_has_the_full_statement_and_the_tier_change(
    ledger_url: str, ledger_name: str, registry_url: str, operator_env: None, client: LedgerClient, tmp_path: Path
) -> None:
    run = lambda *a: _run(ledger_url, ledger_name, *a)  # noqa: E731
    run("init")
    member = run("member", "add", "--name", NAME, "--email", EMAIL, "--consent", "partner_sharing=no").strip()
    run("earn", "-c", member, "--order", "Z-1", "--amount", "4000.00", "--ordered-at", "2026-01-05T10:00:00Z")
    run("earn", "-c", member, "--order", "Z-2", "--amount", "1500.00", "--ordered-at", "2026-01-20T10:00:00Z")
    out = tmp_path / "export.json"
    summary = json.loads(run("member", "export", member, "--out", str(out), "--reason", "access-request", "-f", "json"))
    document = json.loads(out.read_text())
    assert (document["holder"], document["profile"]["email"], document["consents"]["partner_sharing"]["granted"]) == (NAME, EMAIL, False)
    lines = document["statement"]["lines"]
    assert [(line["operation"], line["business_key"], line["points"]) for line in lines] == [("earn", "Z-1", 4000), ("earn", "Z-2", 1500)]
    assert [(e["order_id"], e["before"], e["after"], e["direction"]) for e in document["tier_history"]] == [
        ("Z-2", "member", "silver", "upgrade")  # 4000 + 1500 qualifying points cross silver's 5000
    ]
    assert summary["audit_id"] == document["audit_id"]
    assert _raw(registry_url, "SELECT actor, action, reason FROM member_audit") == [("dpo-7", "export", "access-request")]
