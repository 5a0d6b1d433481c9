"""The operation verbs and the demo, end to end through the CLI, on the in-memory ledger."""

from __future__ import annotations

import json

import pytest
from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


# The demo story, priced by rules.yaml (2026.12.1, the 2025 campaigns) on the repository chart
# (pending 14 days, expiry 365 = bucket date, claw_back, UTC), worked out by hand. Every instant
# is in the past: 2025-10-02 … 2026-10-06, the 2026-27 story 364 days (52 weeks) earlier, so the
# weekdays, the campaigns around each order and the 365-day windows are as they were.
#   A-1001 alice 120.00 USD books web Thu 2025-10-02 (member, no campaign)  120 × 1              = 120
#   C-3001 carol 1000.00 USD travel web Fri 10-03 (member; winter-travel-2025-26 starts 12-02)
#                                                               1000 × 5                      = 5000 → qualifying 5000: silver
#   dave sign_up Sat 10-04 (engagement, once per customer)                                    = 500, straight to bucket 20261004
#   D-4001 dave 45.00 USD fuel store Sat 10-04                  45 × 0.5 = 22.5, floor        = 22
#   release 10-21: alice 120 (due 10-16), carol 5000 (10-17), dave 22 (10-18)
#   B-2001 bob 80.00 EUR groceries store Sat 10-25 09:00Z = 11:00 Paris (fresh-saturdays-2025-10:
#       Sat 10-25 00:00 CEST = 10-24 22:00Z to Mon 10-27 00:00 CET = 10-26 23:00Z; ×2, cap 300/order)
#                                                               80 × 1.1 × 2 = 176; +176      = 352
#   C-3002 carol 80.00 USD groceries app Sat 10-25 10:00Z (silver: 5000; fresh-saturdays-2025-10)
#                                                               80 × 2 × 1.25 = 200; +200     = 400
#   release 11-11: bob 352, carol 400 (due 11-08)
#   carol redeems 5350 of 5400 on 11-13 (5000 from 20261003, 350 from 20261025)   → 50 left
#   refund 20.00 of C-3001 on 11-15: floor(5000 × 20 / 1000) = 100: 50 from 20261025, 50 owed;
#       qualifying 20251003: 5000 − 100 = 4900
#   A-1002 alice 60.00 USD electronics web Fri 11-28 15:00Z (member: 120; bf-2025 from 11-28 05:00Z
#       = 00:00 New York to 12-02 05:00Z, ×3; app-week-2025-11 is for the app only)
#                                                               60; +60 × 2 = 120             = 180
#   B-2002 bob 300.00 USD home app Sat 11-29 12:00Z (member: 352; app-week-2025-11 from Mon 11-24
#       00:00 Paris starts first: bonus 150, then bf-2025 ×3 on the 300 the bonus does not touch)
#                                                               300; +150; +300 × 2 = 600     = 1050
#   alice holds 100 of 20261002's 120 on 12-02 10:00, captures 70 at 10:05 (30 back)
#                                                               → 20261002: 50; redeemed 70
#   C-3003 carol 200.00 EUR travel web Sat 12-06 (silver: 4900 + 400 = 5300; winter-travel-2025-26
#       from 12-02 00:00 Paris, ×1.2, cap 5000/order)          220 × 5 = 1100 × 1.25 = 1375; +275 = 1650;
#                                                               repays the 50 owed, 1600 pending
#   release 12-21: alice 180 (due 12-12), bob 1050 (12-13), carol 1600 (12-20)
#   alice → dave 30 from 20261002 on 2026-01-11                 → alice 20261002: 20, dave 20261002: 30
#   bob exchanges out 60 miles = 180 PTS from 20261025 (352) on 02-02  → 172; settlement −60 × 0.0125 = −0.75 USD
#   dave exchanges in 40 miles = 80 PTS into 20270216 on 02-16  → settlement +40 × 0.008 = +0.32 USD
#   bob converts 200 on 03-02 = 172 from 20261025 + 28 from 20261129   → 1050 − 28 = 1022; credit 2.00 USD
#   bob holds 50 on Mon 2026-10-05 23:45 (from 20261129; the story's last spend, as the ledger dates
#       the void when it is made: see demo.py) and abandons it: void → unchanged, 1022
#   expiry run 2026-10-06 (buckets dated up to 20261006): alice 20261002: 20, dave 20261002: 30 and
#       20261004: 500 + 22 = 522 → 572 expired (20261025 is empty; the rest is dated 20261128 on)
# Totals: alice 180 (A-1002), bob 1022, carol 1600 (C-3003 after the debt), dave 80 (exchange in)
#   = 2882 points = 28.82 USD; redeemed 70 + 5350 = 5420.
# Tiers on 2026-10-06 count orders from 2025-10-06 (365 days back) on: alice 180, bob 352 + 1050 = 1402,
#   carol 400 + 1650 = 2050 (C-3001 has left the window: member again), dave 0 — all members.
DEMO_TOTALS = {"alice": 180, "bob": 1022, "carol": 1600, "dave": 80}


def test_demo_ends_with_the_hand_computed_balances_and_replays_on_a_second_run(ledger: FakeLedger) -> None:
    first = invoke("demo", "--json")
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    totals = {c["customer"]: c["total"] for c in out["customers"]}
    assert totals == DEMO_TOTALS
    assert {c["customer"]: c["credit"] for c in out["customers"]}["bob"] == "2.00"
    assert out["liability_points"] == 2882 and out["liability_value"] == "28.82 USD"
    assert all(v == 0 for v in out["trial_balance"].values())
    programme = {(r["account"], r["asset"]): r["balance"] for r in out["programme_accounts"]}
    assert programme[("program:points:expired", "PTS")] == 572
    assert programme[("program:points:redeemed", "PTS")] == 5420
    assert programme[("partners:skyway:settlement", "USD/2")] == -75 + 32
    # every qualifying point earned (8774) less the 100 the refund took back
    assert programme[("program:tiers:qualifying", "QPTS")] == -(120 + 5000 + 22 + 352 + 400 + 180 + 1050 + 1650 - 100)
    assert programme[("program:engagement:sign_up", "AWARDS")] == 1
    tiers = {t["customer"]: (t["tier"], t["qualifying_points"]) for t in out["tiers"]}
    assert tiers == {"alice": ("member", 180), "bob": ("member", 1402), "carol": ("member", 2050), "dave": ("member", 0)}
    steps = {s["step"]: s for s in out["steps"]}
    assert steps["carol orders C-3001: 1000.00 USD of travel (web)"]["tier_change"] == "upgrade: member → silver"
    assert steps["bob orders B-2002: 300.00 USD of home (app)"]["points"] == 1050
    assert ledger.ledger == "demo"
    posted = ledger.posts

    again = invoke("demo", "--json")
    assert again.exit_code == 0, again.output
    assert ledger.posts == posted
    assert json.loads(again.stdout)["liability_points"] == 2882


def test_demo_prints_tables_for_people(ledger: FakeLedger) -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert "Customers" in result.stdout and "Trial balance" in result.stdout and "Tiers as of 2026-10-06" in result.stdout
    assert "Outstanding points (liability): 2882 = 28.82 USD" in result.stdout
    # a second run: every step already done; a sweep whose work the first run did has nothing due
    again = invoke("demo").stdout.splitlines()
    assert not any("0 posted, 0 already done" in line for line in again) and any(line.rstrip().endswith("nothing due") for line in again)
    assert "upgrade: member → silver" in result.stdout


def test_explain_a_demo_order_adds_up_to_what_was_posted(ledger: FakeLedger) -> None:
    assert invoke("demo", "--json").exit_code == 0
    # C-3003: 200.00 EUR × 1.1 = 220; travel ×5 adds 880; silver ×1.25 adds 275 (1375);
    # winter-travel-2025-26 ×1.2 adds 275; 220 + 880 + 275 + 275 = 1650, no rounding
    result = invoke("--ledger", "demo", "explain", "--order", "C-3003", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [(line["label"], line["points"]) for line in body["lines"]] == [
        ("base: 200 EUR × 1.1 points per EUR", "220"),
        ("category travel ×5", "880"),
        ("tier silver ×1.25", "275"),
        ("campaign winter-travel-2025-26 ×1.2", "275"),
    ]
    assert body["points"] == body["posted_points"] == 1650 and body["adds_up"] is True
    assert body["tier"] == "silver" and body["rules_version"] == "2026.12.1"
    # B-2002: 300 base; app-week-2025-11 bonus 150; bf-2025 ×3 adds 600 → 1050
    table = invoke("--ledger", "demo", "explain", "--order", "B-2002")
    assert table.exit_code == 0, table.output
    assert "campaign app-week-2025-11 bonus 150" in table.stdout and "campaign bf-2025 ×3" in table.stdout
    assert "posted: 1050 points" in table.stdout
    assert invoke("--ledger", "demo", "explain", "--order", "nope").exit_code == 1


def test_earn_then_redeem_and_the_json_output(ledger: FakeLedger) -> None:
    # no category or channel: the rules' order_defaults (general ×1, store); 25.90 USD → floor(25.90) = 25
    earned = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "25.90", "--ordered-at", "2026-01-01T10:00:00Z", "--json")
    assert earned.exit_code == 0, earned.output
    body = json.loads(earned.stdout)
    assert body["points"] == 25 and body["reference"] == "earn:o1" and body["replayed"] is False
    replay = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "25.90", "--ordered-at", "2026-01-01T10:00:00Z", "--json")
    assert json.loads(replay.stdout)["replayed"] is True
    assert ledger.posts == 1


def test_earn_with_category_and_channel_is_priced_by_the_rules(ledger: FakeLedger) -> None:
    # groceries ×2 in store on Saturday 2026-10-24 (fresh-saturdays ×2, cap 300): 40 × 2 = 80, +80 → 160
    args = ("earn", "-c", "c1", "--order", "o1", "--amount", "40.00", "--ordered-at", "2026-10-24T09:00:00Z",
            "--category", "groceries", "--channel", "store", "--json")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points"] == 160
    excluded = invoke("earn", "-c", "c1", "--order", "o2", "--amount", "40.00", "--category", "tobacco", "--json")
    assert excluded.exit_code == 0 and "excluded category" in json.loads(excluded.stdout)["note"]
    bad = invoke("earn", "-c", "c1", "--order", "o3", "--amount", "40.00", "--channel", "kiosk")
    assert bad.exit_code == 2 and "kiosk" in bad.stderr
    assert ledger.posts == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("earn", "-c", "c1", "--order", "o1", "--amount", "-5"), 2, "amount"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "1.2.3"), 2, "not a plain decimal"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "1e3"), 2, "not a plain decimal"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "1_000"), 2, "not a plain decimal"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "+10"), 2, "not a plain decimal"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", " 10"), 2, "not a plain decimal"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "nan"), 2, "not a plain decimal"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--ordered-at", "2026-01-01Z"), 2, "2026-01-01T10:00:00Z"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--ordered-at", "2026-02-30"), 2, "not a calendar date"),
        (("earn", "-c", "c 1", "--order", "o1", "--amount", "5"), 2, "customer"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--currency", "XYZ"), 2, "XYZ"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--category", "Gift Cards"), 2, "category"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--ordered-at", "2026-01-01T10:00"), 2, "offset"),
        (("redeem", "-c", "ghost", "--redemption", "r1", "-p", "5"), 1, "ghost"),
        (("redeem", "-c", "c1", "--redemption", "r1", "-p", "0"), 2, "points"),
        (("adjust", "-c", "c1", "--adjustment", "a1", "-p", "5", "--reason", ""), 2, "reason"),
        (("redeem", "-c", "c1", "--redemption", "r1", "-p", "1.5"), 2, "not a positive whole number"),
        (("redeem", "-c", "c1", "--redemption", "r1", "-p", "1_0"), 2, "not a positive whole number"),
        (("redeem", "-c", "c1", "--redemption", "r1", "-p", "+5"), 2, "not a positive whole number"),
        (("hold", "-c", "c1", "--hold", "h1", "-p", "1e3"), 2, "not a positive whole number"),
        (("transfer", "--from", "c1", "--to", "c2", "--transfer", "t1", "-p", " 10"), 2, "not a positive whole number"),
        (("convert", "-c", "c1", "--conversion", "v1", "-p", "-5"), 2, "not a positive whole number"),
        (("adjust", "-c", "c1", "--adjustment", "a1", "-p", "0", "--reason", "goodwill"), 2, "must not be 0"),
        (("adjust", "-c", "c1", "--adjustment", "a1", "-p", "-1_0", "--reason", "goodwill"), 2, "not a whole number"),
        (("exchange", "-c", "c1", "--partner", "skyway", "--exchange", "x1", "--partner-points", "1.5"), 2, "--partner-points"),
        (("exchange", "-c", "c1", "--partner", "skyway", "--exchange", "x1", "--partner-points", "2", "--direction", "sideways"), 2, "--direction"),
    ],
)
def test_bad_input_exits_non_zero_and_posts_nothing(ledger: FakeLedger, args: tuple[str, ...], code: int, message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert ledger.posts == 0


def test_a_bare_date_is_the_start_of_that_day_in_the_programme_time_zone(ledger: FakeLedger) -> None:
    result = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--ordered-at", "2026-01-01", "--json")
    assert result.exit_code == 0, result.output
    earn = ledger.find_by_reference("earn:o1")
    assert earn is not None and earn.metadata["ordered_at"] == "2026-01-01T00:00:00Z"  # the shipped chart's zone is UTC


def test_insufficient_points_and_reused_keys_are_business_errors(ledger: FakeLedger) -> None:
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z").exit_code == 0
    assert invoke("release", "--as-of", "2025-02-01T00:00:00Z").exit_code == 0
    short = invoke("redeem", "-c", "c1", "--redemption", "r1", "-p", "11", "--at", "2025-02-02T00:00:00Z")
    assert short.exit_code == 1 and "10 spendable points; 11 needed" in short.stderr
    reused = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "12", "--ordered-at", "2025-01-01T00:00:00Z")
    assert reused.exit_code == 1 and "earn:o1" in reused.stderr
    assert ledger.posts == 2


def test_balance_table_and_csv(ledger: FakeLedger) -> None:
    invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z")
    table = invoke("balance", "-c", "c1")
    assert table.exit_code == 0 and "pending" in table.stdout and "total points 10" in table.stdout
    csv_out = invoke("balance", "-c", "c1", "--csv")
    assert csv_out.stdout.splitlines()[0] == "customer,state,expiry,release,hold,points"
    assert csv_out.stdout.splitlines()[1].endswith(",10")


def test_balance_as_of_an_instant(ledger: FakeLedger) -> None:
    # 10 points earned 2025-01-01 (pending until 01-15, bucket 2026-01-01), released on 02-01.
    invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z")
    invoke("release", "--as-of", "2025-02-01T00:00:00Z")
    january = json.loads(invoke("balance", "-c", "c1", "--as-of", "2025-01-20T00:00:00Z", "--json").stdout)
    assert (january["pending"], january["spendable"], january["as_of"]) == (10, 0, "2025-01-20T00:00:00+00:00")
    february = json.loads(invoke("balance", "-c", "c1", "--as-of", "2025-02-01T01:00:00+01:00", "--json").stdout)
    assert (february["pending"], february["spendable"]) == (0, 10)
    before = invoke("balance", "-c", "c1", "--as-of", "2024-12-01T00:00:00Z")
    assert before.exit_code == 0 and "total points 0" in before.stdout and "as of 2024-12-01" in before.stdout
    naive = invoke("balance", "-c", "c1", "--as-of", "2025-01-20T00:00:00")
    assert naive.exit_code == 2 and "no UTC offset" in naive.stderr
    assert invoke("balance", "-c", "nobody", "--as-of", "2025-01-20T00:00:00Z").exit_code == 1


@pytest.mark.parametrize(
    "command",
    ["init", "earn", "release", "hold", "capture", "void", "redeem", "expire", "transfer", "exchange", "convert", "refund",
     "adjust", "balance", "history", "demo", "quote", "explain", "tier", "engage", "rules", "rules check"],
)
def test_every_verb_has_help(command: str) -> None:
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_a_malformed_ledger_url_is_bad_input_not_an_unreachable_ledger() -> None:
    result = invoke("--ledger-url", "not-a-url", "balance", "-c", "c1")
    assert result.exit_code == 2, result.output
    assert "--ledger-url / LOYALTY_LEDGER_URL: ledger URL must be http(s)://" in result.stderr


def test_adjust_credits_a_positive_and_debits_a_negative_number_of_points(ledger: FakeLedger) -> None:
    assert invoke("adjust", "-c", "c1", "--adjustment", "a1", "-p", "40", "--reason", "goodwill").exit_code == 0
    debit = invoke("adjust", "-c", "c1", "--adjustment", "a2", "-p", "-15", "--reason", "correction", "--json")
    assert debit.exit_code == 0, debit.output
    assert [ledger.find_by_reference(f"adjust:{key}").metadata["direction"] for key in ("a1", "a2")] == ["credit", "debit"]
    assert ledger.find_by_reference("adjust:a2").metadata["points"] == "15"
