"""The rules verbs (quote, explain, tier, engage, rules check) and --rules, end to end on the in-memory ledger."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from support.fake_ledger import FakeLedger
from support.programme import rules_text
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- quote ---------------------------------------------------------------------------


def test_quote_a_hypothetical_order_at_a_tier(ledger: FakeLedger) -> None:
    # the worked example in rules/pricing.py: 120.35 EUR of groceries in store, Saturday 10:00 Paris, gold → 697
    args = ("quote", "--amount", "120.35", "--currency", "EUR", "--category", "groceries", "--channel", "store",
            "--at", "2026-10-24T10:00:00+02:00", "--tier", "gold")
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["points"] == 697 and body["tier"] == "gold" and body["rules_version"] == "2026.12.1"
    assert [line["points"] for line in body["lines"]] == ["132.385", "132.385", "132.385", "300", "-0.155"]
    table = invoke(*args)
    assert table.exit_code == 0 and "capped per order: 97.155 clipped" in table.stdout
    assert table.stdout.splitlines()[-1].split()[0] == "697"
    csv_out = invoke(*args, "--csv")
    assert csv_out.stdout.splitlines()[0] == "points,step"
    assert ledger.posts == 0


def test_quote_for_a_customer_reads_their_tier_from_the_ledger(ledger: FakeLedger) -> None:
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "6000", "--ordered-at", "2026-01-10T12:00:00Z").exit_code == 0
    result = invoke("quote", "-c", "c1", "--amount", "100", "--at", "2026-01-11T12:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["tier"], json.loads(result.stdout)["points"]) == ("silver", 125)  # 100 × 1.25
    assert ledger.posts == 1
    assert invoke("quote", "-c", "c1", "--tier", "gold", "--amount", "1").exit_code == 2
    assert invoke("quote", "--amount", "1", "--tier", "platinum").exit_code == 2


# -- tier and explain ------------------------------------------------------------------


def test_tier_shows_what_the_next_tier_needs(ledger: FakeLedger) -> None:
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "3000", "--ordered-at", "2026-01-10T12:00:00Z").exit_code == 0
    result = invoke("tier", "-c", "c1", "--as-of", "2026-06-01T00:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["tier"], body["qualifying_points"], body["next_tier"], body["points_to_next"]) == ("member", 3000, "silver", 2000)
    assert body["counted_from"] == "2025-06-01"
    gone = invoke("tier", "-c", "c1", "--as-of", "2027-01-11T00:00:00Z", "--json")
    assert json.loads(gone.stdout)["qualifying_points"] == 0
    assert "qualifying_points" in invoke("tier", "-c", "c1", "--as-of", "2026-06-01T00:00:00Z").stdout
    unknown = invoke("tier", "-c", "ghost")
    assert unknown.exit_code == 1 and "ghost" in unknown.stderr
    assert invoke("tier", "-c", "c1", "--as-of", "2026-06-01T00:00").exit_code == 2


def test_explain_prints_lines_that_add_up(ledger: FakeLedger) -> None:
    # 33.33 USD of fuel: 33.33 × 0.5 = 16.665, floor → 16 (a rounding line of −0.665)
    earned = invoke("earn", "-c", "c1", "--order", "f1", "--amount", "33.33", "--category", "fuel", "--ordered-at", "2026-01-10T12:00:00Z")
    assert earned.exit_code == 0, earned.output
    result = invoke("explain", "--order", "f1")
    assert result.exit_code == 0, result.output
    assert "-16.665" in result.stdout and "-0.665" in result.stdout and "posted: 16 points" in result.stdout
    csv_out = invoke("explain", "--order", "f1", "--csv")
    rows = csv_out.stdout.splitlines()[1:]
    # the lines only: they sum to the 16 points posted (the total is the table's, not a row of the CSV)
    assert [r.split(",")[0] for r in rows] == ["33.33", "-16.665", "-0.665"]
    assert sum(Decimal(r.split(",")[0]) for r in rows) == 16
    table = invoke("explain", "--order", "f1").stdout
    assert any(line.split()[:2] == ["16", "total"] for line in table.splitlines())


# -- engage ----------------------------------------------------------------------------


def test_engage_once_per_customer_then_limit_reached(ledger: FakeLedger) -> None:
    first = invoke("engage", "-c", "c1", "--event", "sign_up", "--key", "k1", "--at", "2026-01-10T12:00:00Z", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["points"] == 500
    replay = invoke("engage", "-c", "c1", "--event", "sign_up", "--key", "k1", "--json")
    assert replay.exit_code == 0 and json.loads(replay.stdout)["replayed"] is True
    second = invoke("engage", "-c", "c1", "--event", "sign_up", "--key", "k2")
    assert second.exit_code == 1 and "at most 1 time(s) per customer" in second.stderr
    unknown = invoke("engage", "-c", "c1", "--event", "dance", "--key", "k3")
    assert unknown.exit_code == 2 and "dance" in unknown.stderr
    assert ledger.posts == 2  # the counter's opening, then the one award
    assert [tx.metadata["operation"] for tx in ledger.txs] == ["open_counter", "open_control", "open_control", "engage"]
    # the guard's control accounts were opened once: c1's sequence counter and the closed-period mark
    assert [tx.metadata["account"] for tx in ledger.txs[1:3]] == ["customers:c1:sequence", "program:control:closed"]


# -- rules check and --rules -----------------------------------------------------------


def test_rules_check_compares_sample_orders_under_both_versions(ledger: FakeLedger, tmp_path: Path) -> None:
    new = write(tmp_path, "new.yaml", rules_text(('version: "2026.12.1"', 'version: "2027.01.1"'), ("  groceries: 2\n", "  groceries: 3\n")))
    result = invoke("rules", "check", str(new), "--at", "2026-01-10T12:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["current_version"], body["new_version"]) == ("2026.12.1", "2027.01.1")
    groceries = next(r for r in body["samples"] if "groceries" in r["order"])
    assert (groceries["current"], groceries["new"], groceries["change"]) == (200, 300, 100)  # 100 × 2 → 100 × 3
    gift = next(r for r in body["samples"] if "gift_cards" in r["order"])
    assert gift["new"] == 0 and "excluded_category" in gift["note"]
    custom = invoke("rules", "check", str(new), "--sample", "10.00:USD:groceries:web", "--at", "2026-01-10T12:00:00Z", "--csv")
    assert custom.exit_code == 0, custom.output
    assert custom.stdout.splitlines() == ["order,tier,current,new,change,note", "10.00 USD groceries via web,member,20,30,10,"]
    assert invoke("rules", "check", str(new), "--sample", "10:USD:groceries").exit_code == 2
    assert ledger.posts == 0


def test_rules_check_names_the_field_and_line_of_a_bad_file(ledger: FakeLedger, tmp_path: Path) -> None:
    text = rules_text(("    - {name: silver, threshold: 5000,", "    - {name: silver, threshold: 0,"))
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "name: silver" in l)
    bad = write(tmp_path, "bad.yaml", text)
    result = invoke("rules", "check", str(bad))
    assert result.exit_code == 2
    assert f"tiers.ladder.1.threshold (line {line}): thresholds must increase" in result.stderr
    same_version = write(tmp_path, "same.yaml", rules_text(("  groceries: 2\n", "  groceries: 3\n")))
    clash = invoke("rules", "check", str(same_version))
    assert clash.exit_code == 2 and "give it a new version" in clash.stderr
    assert invoke("rules", "check", str(tmp_path / "missing.yaml")).exit_code == 2


def test_the_rules_option_and_environment_choose_the_file(ledger: FakeLedger, tmp_path: Path) -> None:
    doubled = write(tmp_path, "double.yaml", rules_text(('version: "2026.12.1"', 'version: "x.2"'), ('USD: {rate: "1"', 'USD: {rate: "2"')))
    by_option = invoke("--rules", str(doubled), "earn", "-c", "c1", "--order", "o1", "--amount", "10", "--json")
    assert by_option.exit_code == 0 and json.loads(by_option.stdout)["points"] == 20
    by_env = invoke("earn", "-c", "c1", "--order", "o2", "--amount", "10", "--json", env={"LOYALTY_RULES": str(doubled)})
    assert by_env.exit_code == 0 and json.loads(by_env.stdout)["points"] == 20
    assert json.loads(invoke("explain", "--order", "o2", "--json").stdout)["rules_version"] == "x.2"
    broken = write(tmp_path, "broken.yaml", "version: [")
    failed = invoke("--rules", str(broken), "earn", "-c", "c1", "--order", "o3", "--amount", "10")
    assert failed.exit_code == 2 and "broken.yaml" in failed.stderr
    assert ledger.posts == 2
