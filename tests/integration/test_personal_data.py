"""Issue 14, item 2, on the real server: an email address smuggled past the programme by a raw HTTP posting is
caught by `reconcile` (naming the transaction, never the address), and every command path refuses it through
each free-text field with nothing posted; with the registry wired in, a member's name as a customer id too (in
another order or joined, and the member's phone in its national form), by commands and sweeps alike."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from loyalty_accounts.chart import load_chart
from loyalty_accounts.cli import app as cli
from loyalty_accounts.ledger import LedgerClient

pytestmark = pytest.mark.integration

EMAIL = "zoe.martin@example.com"
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
AT = "2025-03-01T00:00:00Z"
COMMANDS: list[tuple[list[str], tuple[str, ...]]] = [
    (["earn", "-c", "c1", "--order", "o-2", "--amount", "10", "--ordered-at", AT], ("-c", "--order")),
    (["hold", "-c", "c1", "--hold", "h-2", "-p", "5", "--at", AT], ("-c", "--hold")),
    (["capture", "-c", "c1", "--hold", "h-1", "-p", "5", "--at", "2025-02-02T00:10:00Z"], ("-c", "--hold")),
    (["void", "-c", "c1", "--hold", "h-1"], ("-c", "--hold")),
    (["redeem", "-c", "c1", "--redemption", "r-1", "-p", "5", "--reward", "mug", "--at", AT], ("-c", "--redemption", "--reward")),
    (["transfer", "--from", "c1", "--to", "c2", "--transfer", "t-1", "-p", "5", "--at", AT], ("--from", "--to", "--transfer")),
    (["exchange", "-c", "c1", "--partner", "skyway", "--exchange", "x-1", "--partner-points", "2", "--direction", "out", "--at", AT],
     ("-c", "--partner", "--exchange")),
    (["convert", "-c", "c1", "--conversion", "cv-1", "-p", "100", "--at", AT], ("-c", "--conversion")),
    (["refund", "-c", "c1", "--order", "o-1", "--refund", "rf-1", "--amount", "1", "--at", AT], ("-c", "--order", "--refund")),
    (["engage", "-c", "c1", "--event", "sign_up", "--key", "k-1", "--at", AT], ("-c", "--event", "--key")),
    (["adjust", "-c", "c1", "--adjustment", "a-1", "-p", "5", "--reason", "goodwill", "--at", AT], ("-c", "--adjustment", "--reason")),
]


def _invoke(ledger_url: str, ledger_name: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["-q", "--ledger-url", ledger_url, "--ledger", ledger_name, *args])


def _count(client: LedgerClient) -> int:
    return len(list(client.transactions()))


def test_personal_data_is_refused_on_every_path_and_a_raw_posting_of_it_fails_reconcile(
    ledger_url: str, ledger_name: str, client: LedgerClient, registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALTY_REGISTRY_URL", registry_url)
    monkeypatch.setenv("LOYALTY_REGISTRY_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    run = lambda *a: _invoke(ledger_url, ledger_name, *a)  # noqa: E731
    for args in (
        ["init"],
        ["member", "add", "--name", "Zoë Martin", "--email", EMAIL, "--phone", "+1 415 555 0100"],
        ["earn", "-c", "c1", "--order", "o-1", "--amount", "1000", "--ordered-at", "2025-01-01T00:00:00Z"],
        ["release", "--as-of", "2025-02-01T00:00:00Z"],
        ["hold", "-c", "c1", "--hold", "h-1", "-p", "10", "--at", "2025-02-02T00:00:00Z"],
    ):
        assert run(*args).exit_code == 0, args
    clean = run("reconcile", "-f", "json")
    assert {c["check"]: c["status"] for c in json.loads(clean.stdout)["checks"]}["personal_data"] == "pass", clean.output

    before = _count(client)
    for args, options in COMMANDS:
        for option in options:
            smuggled = list(args)
            smuggled[smuggled.index(option) + 1] = EMAIL
            refused = run(*smuggled)
            assert refused.exit_code == 2 and EMAIL not in refused.output, (smuggled, refused.output)
    for customer, kind in (("zoe_martin", "member name"), ("martinzoe", "member name"), ("Martin-Zoe", "member name"), ("c-4155550100", "phone")):
        named = run("adjust", "-c", customer, "--adjustment", "a-9", "-p", "5", "--reason", "goodwill")
        assert named.exit_code == 2 and f"customer looks like a {kind}" in named.output, named.output
        for sweep in ("release", "expire"):
            swept = run(sweep, "-c", customer)
            assert swept.exit_code == 2 and f"customer looks like a {kind}" in swept.output, swept.output
    echoed = run("adjust", "-c", "Zoe Martin", "--adjustment", "a-9", "-p", "5", "--reason", "goodwill")
    assert echoed.exit_code == 2 and "(got a value that looks like a name, not repeated)" in echoed.output, echoed.output
    assert "Zoe" not in echoed.output
    assert _count(client) == before

    # Behind the programme's back: a raw posting straight to the server's API, the address in its metadata.
    schema = load_chart(ROOT / "chart_of_accounts.yaml").schema_version()
    raw = httpx.post(
        f"{ledger_url}/v2/{ledger_name}/transactions",
        params={"schemaVersion": schema},
        json={
            "postings": [{"source": "world", "destination": "customers:c1:points:20270101", "amount": 1, "asset": "PTS"}],
            "metadata": {"operation": "adjust", "reason": EMAIL},
        },
        timeout=30,
    )
    assert raw.status_code < 300, raw.text
    tx_id = raw.json()["data"]["id"]
    caught = run("reconcile", "-f", "json")
    assert caught.exit_code == 1 and EMAIL not in caught.output, caught.output
    check = next(c for c in json.loads(caught.stdout)["checks"] if c["check"] == "personal_data")
    assert check["status"] == "fail"
    assert f"tx #{tx_id}: metadata reason looks like an email" in json.dumps(check)
