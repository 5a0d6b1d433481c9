"""``loyalty import``: summary formats and exit codes (0 posted, 1 refused, 2 invalid rows)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()
WHEN = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat().replace("+00:00", "Z")


def orders(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(row + "\n" for row in rows))
    return str(path)


def row(customer: str, order: str, amount: str) -> str:
    return json.dumps({"customer": customer, "order_id": order, "amount": amount, "currency": "USD", "ordered_at": WHEN})


def test_invalid_rows_exit_2_and_are_listed_then_the_valid_file_posts_and_replays(ledger: FakeLedger, tmp_path: Path) -> None:
    bad = orders(tmp_path, row("c1", "o1", "10.00"), row("c1", "o2", "ten"))
    refused = runner.invoke(app, ["import", bad, "--format", "json"])
    assert refused.exit_code == 2
    report = json.loads(refused.stdout)
    assert report["posted"] == 0 and [r["line"] for r in report["invalid_rows"]] == [2]
    assert ledger.find_by_reference("earn:o1") is None

    good = orders(tmp_path, row("c1", "o1", "10.00"), row("c2", "o2", "20.00"))
    first = runner.invoke(app, ["import", good, "--chunk-size", "1"])
    assert first.exit_code == 0, first.output
    assert "posted" in first.stdout and ledger.find_by_reference("earn:o2") is not None
    again = runner.invoke(app, ["import", good, "--format", "csv"])
    assert again.exit_code == 0
    header, values = again.stdout.strip().splitlines()
    figures = dict(zip(header.split(","), values.split(",")))
    assert (figures["posted"], figures["replayed"]) == ("0", "2")


def test_a_refused_order_exits_1_and_is_named(ledger: FakeLedger, tmp_path: Path) -> None:
    runner.invoke(app, ["earn", "-c", "c9", "--order", "o1", "--amount", "5.00", "--ordered-at", WHEN])
    path = orders(tmp_path, row("c1", "o1", "10.00"), row("c2", "o2", "20.00"))
    result = runner.invoke(app, ["import", path])
    assert result.exit_code == 1
    assert "refused orders" in result.stdout and "o1" in result.stdout


def test_skipped_invalid_rows_exit_1_once_the_valid_orders_are_posted(ledger: FakeLedger, tmp_path: Path) -> None:
    mixed = orders(tmp_path, row("c1", "s1", "10.00"), row("c1", "s2", "-3"), row("c2", "s3", "5.00"))
    stopped = runner.invoke(app, ["import", mixed, "-f", "json"])
    assert stopped.exit_code == 2
    assert (json.loads(stopped.stdout)["orders"], json.loads(stopped.stdout)["invalid"]) == (2, 1)  # the valid orders counted
    skipped = runner.invoke(app, ["import", mixed, "--skip-invalid", "-f", "json"])
    assert skipped.exit_code == 1
    assert skipped.stderr.strip() == "error: 1 invalid row(s) skipped; the other orders are posted"
    report = json.loads(skipped.stdout)
    assert (report["posted"], [r["line"] for r in report["invalid_rows"]]) == (2, [2])
    assert ledger.find_by_reference("earn:s3") is not None and ledger.find_by_reference("earn:s2") is None


def test_a_file_without_orders_is_refused_whatever_its_format(ledger: FakeLedger, tmp_path: Path) -> None:
    files = {"empty.csv": "", "header.csv": "customer,order_id,amount,currency,ordered_at\n", "empty.jsonl": "", "blank.jsonl": "\n\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        result = runner.invoke(app, ["import", str(tmp_path / name)])
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_json_key_given_twice_makes_its_row_invalid(ledger: FakeLedger, tmp_path: Path) -> None:
    twice = '{"customer": "c1", "order_id": "d1", "amount": "1.00", "amount": "900.00", "currency": "USD", "ordered_at": "' + WHEN + '"}'
    result = runner.invoke(app, ["import", orders(tmp_path, twice), "-f", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["invalid_rows"] == [{"line": 1, "reason": "'amount' is given twice"}]
    assert ledger.find_by_reference("earn:d1") is None


def test_an_order_id_of_an_invalid_row_is_not_reused_by_a_later_row(ledger: FakeLedger, tmp_path: Path) -> None:
    rows = orders(tmp_path, row("c1", "r1", "abc"), row("c2", "r2", "5.00"), row("c3", "r1", "7.00"))
    result = runner.invoke(app, ["import", rows, "--skip-invalid", "-f", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(r["line"], r["reason"]) for r in report["invalid_rows"]][1] == (3, "order_id r1 is already on line 1")
    assert report["posted"] == 1 and ledger.find_by_reference("earn:r1") is None
