"""``loyalty redeem`` of a risky redemption (exit 5, waiting for review) and ``loyalty review``, on the in-memory ledger."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()
OLD = (datetime.now(timezone.utc) - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def funded_and_held(ledger: FakeLedger) -> None:
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "30000.00", "--ordered-at", OLD).exit_code == 0
    assert invoke("-q", "release").exit_code == 0
    held = invoke("redeem", "-c", "c1", "--redemption", "R-1", "-p", "12000", "--reward", "tv-55", "-f", "json")
    assert held.exit_code == 5, held.output
    body = json.loads(held.output)
    assert body["review"] == "pending" and body["reference"] == "redeem:R-1"
    assert "waiting for review until" in body["note"] and "points_above_threshold" in body["note"]


def test_a_held_redemption_exits_5_and_says_it_waits_for_review(ledger: FakeLedger) -> None:
    funded_and_held(ledger)
    table = invoke("redeem", "-c", "c1", "--redemption", "R-1", "-p", "12000", "--reward", "tv-55")
    assert table.exit_code == 5
    assert "pending" in table.output and "waiting for review" in table.output and "customers:c1:holds:rv-R-1" in table.output


def test_review_list_in_every_format(ledger: FakeLedger) -> None:
    funded_and_held(ledger)
    rows = json.loads(invoke("review", "list", "-f", "json").output)
    assert [(r["redemption_id"], r["customer"], r["points"], r["reward"], r["status"], r["reasons"]) for r in rows] == [
        ("R-1", "c1", 12000, "tv-55", "pending", "points_above_threshold")
    ]
    # not decided yet: every field of the decision is null alike (not "" for some and null for others)
    assert [(r["operator"], r["reason"], r["decided_at"], r["transaction"]) for r in rows] == [(None, None, None, None)]
    parsed = list(csv.DictReader(io.StringIO(invoke("review", "list", "-f", "csv").output)))
    assert parsed[0]["hold_id"] == "rv-R-1" and parsed[0]["deadline"] == rows[0]["deadline"]
    assert parsed[0]["reward"] == "tv-55"
    assert "R-1" in invoke("review", "list").output


def test_approve_then_the_list_is_empty_and_a_reject_is_refused_naming_the_decision(ledger: FakeLedger) -> None:
    funded_and_held(ledger)
    approved = invoke("review", "approve", "R-1", "--by", "ops-7", "--reason", "verified_with_member", "-f", "json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["reference"] == "review:R-1"
    assert ledger.account("program:points:redeemed").balance("PTS") == 12000
    assert json.loads(invoke("review", "list", "-f", "json").output) == []
    decided = json.loads(invoke("review", "list", "--all", "-f", "json").output)
    assert [(r["status"], r["operator"], r["reason"]) for r in decided] == [("approved", "ops-7", "verified_with_member")]
    again = invoke("review", "reject", "R-1", "--by", "ops-8", "--reason", "suspected_fraud")
    assert again.exit_code == 1
    assert "already decided: approved by ops-7" in again.output and len(again.output.strip().splitlines()) == 1
    assert invoke("redeem", "-c", "c1", "--redemption", "R-1", "-p", "12000", "--reward", "tv-55").exit_code == 0  # replayed: approved


def test_a_rejected_redemption_replayed_exits_1(ledger: FakeLedger) -> None:
    funded_and_held(ledger)
    assert invoke("review", "reject", "R-1", "--by", "ops-7", "--reason", "member_request").exit_code == 0
    replay = invoke("redeem", "-c", "c1", "--redemption", "R-1", "-p", "12000", "--reward", "tv-55", "-f", "json")
    assert replay.exit_code == 1 and json.loads(replay.output)["review"] == "rejected"


def test_unknown_ids_bad_reasons_and_personal_data_are_one_line_errors(ledger: FakeLedger) -> None:
    funded_and_held(ledger)
    unknown = invoke("review", "approve", "R-404", "--by", "ops-7", "--reason", "verified_with_member")
    assert unknown.exit_code == 1 and unknown.output.strip() == "error: no redemption R-404"
    bad = invoke("review", "reject", "R-1", "--by", "ops-7", "--reason", "bored")
    assert bad.exit_code == 2 and "one of: suspected_fraud" in bad.output and "bored" not in bad.output
    email = invoke("review", "reject", "R-1", "--by", "zoe.martin@example.com", "--reason", "suspected_fraud")
    assert email.exit_code == 2 and "zoe" not in email.output and len(email.output.strip().splitlines()) == 1
    assert ledger.find_by_reference("review:R-1") is None


def test_lapse_voids_nothing_before_the_deadline(ledger: FakeLedger) -> None:
    funded_and_held(ledger)
    lapse = invoke("review", "lapse", "-f", "json")
    assert lapse.exit_code == 0 and json.loads(lapse.output)["posted"] == 0
    assert ledger.account("customers:c1:holds:rv-R-1").balance("PTS") == 12000


def test_a_malformed_instant_is_a_usage_error(ledger: FakeLedger) -> None:
    for args in (("review", "list", "--as-of", "yesterday"), ("review", "lapse", "--as-of", "2026-13-01"),
                 ("review", "approve", "R-1", "--by", "ops-7", "--reason", "known_pattern", "--at", "noon")):
        result = invoke(*args)
        assert result.exit_code == 2 and result.output.startswith("error: "), (args, result.output)
