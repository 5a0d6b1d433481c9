"""The finance reports on the demo programme, through the CLI, on the in-memory ledger (issue 4's acceptance).

The demo's whole story is in the past (2025-10-02 … 2026-10-06), so reports as
of now see all of it. The one step dated when it is made is the void of
bob's hold (the programme's clock): here the programme's clock and the fake
ledger's say the demo was run on 2026-11-25 at 09:00 UTC.

Every figure is worked out by hand from rules.yaml (2026.12.1), the chart
(pending 14 days, expiry 365, claw_back, 1 PTS = 0.01 USD) and the story; the
story's own arithmetic is in tests/unit/cli/test_ops.py.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.services.executor import Executor

runner = CliRunner()
UTC = timezone.utc
DEMO_RUN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NOW = [DEMO_RUN]
"""The programme's and the fake ledger's clock; a test moves it on to sweep after the run."""
"""When the demo ran: the instant the ledger stamps on the void of bob's hold H-B1."""

BEFORE_THE_STORY = "2025-10-01T00:00:00Z"

# Where every point ended (test_ops.py): alice 180 (bucket 20261128), bob 1022 (20261129),
# carol 1600 (20261206), dave 80 (20270216); nothing pending, held or owed after the void and
# the 50 C-3003 repaid. 180 + 1022 + 1600 + 80 = 2882 points = 28.82 USD.
LIABILITY = 180 + 1022 + 1600 + 80

# The roll-forward over the whole story, account group by account group:
#   issued     out of program:points:issued:*: A-1001 120 + C-3001 5000 + sign-up 500 + D-4001 22
#              + B-2001 352 + C-3002 400 + A-1002 180 + B-2002 1050 + C-3003 1650 (50 of it to carol's
#              clawback account, still a customer account) + exchange in 80            = 9354
#   reversed   into the shards: the refund of C-3001, 50 from a bucket + 50 owed       = −100
#   redeemed   A-1002's hold captured 70 + carol's flight 5350                         = −5420
#   expired    the run of 2026-10-06: 20 + 30 + 522                                    = −572
#   converted  bob's 200                                                               = −200
#   exchanged  partners:skyway:exchanged took bob's 180 (60 miles × 3)                 = −180
#   adjusted, written off: nothing                                                     = 0
#   0 + 9354 − 100 − 5420 − 572 − 200 − 180 = 2882 = the closing liability: it ties.
ROLL_FORWARD = {
    "opening": 0,
    "issued": 9354,
    "reversed": -100,
    "redeemed": -5420,
    "expired": -572,
    "converted": -200,
    "adjusted": 0,
    "exchanged": -180,
    "written_off": 0,
}
EXPIRED = 20 + 30 + 500 + 22  # alice 20261002, dave 20261002 (from alice) and 20261004 (sign-up + D-4001)


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> FakeLedger:
    NOW[0] = DEMO_RUN
    fake = FakeLedger(clock=lambda: NOW[0])
    real_init = Executor.__init__

    def run_by_the_demo_clock(self: Executor, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **{**kwargs, "clock": lambda: NOW[0]})

    monkeypatch.setattr(Executor, "__init__", run_by_the_demo_clock)

    def client(self: AppContext) -> FakeLedger:
        fake.ledger = self.app.ledger_name
        return fake

    monkeypatch.setattr(AppContext, "client", client)
    result = runner.invoke(app, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["liability_points"] == LIABILITY
    return fake


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--ledger", "demo", *args])


AFTER_THE_RUN = "2026-11-25T12:00:00Z"
"""After the demo ran, before any of its buckets expires (alice's on 2026-11-28, bob's on 2026-11-29)."""


def test_after_the_run_the_reports_show_the_demo_and_reconcile(ledger: FakeLedger) -> None:
    liability = invoke("report", "liability", "--as-of", AFTER_THE_RUN, "--json")
    assert liability.exit_code == 0, liability.output
    body = json.loads(liability.stdout)
    assert (body["total_points"], body["total_value"], body["ties"]) == (LIABILITY, "28.82", True)
    assert {line["state"]: (line["points"], line["customers"]) for line in body["lines"]} == {
        "spendable": (LIABILITY, 4),
        "due": (0, 0),
        "pending": (0, 0),
        "held": (0, 0),
        "negative": (0, 0),
        "other": (0, 0),
    }
    assert body["customers_with_position"] == 4
    assert body["accounts_below_zero"] == []

    activity = invoke("report", "activity", "--from", BEFORE_THE_STORY, "--to", AFTER_THE_RUN, "--json")
    assert activity.exit_code == 0, activity.output
    body = json.loads(activity.stdout)
    assert {line["line"]: line["points"] for line in body["lines"]} == ROLL_FORWARD
    assert (body["expected_closing_points"], body["closing_points"], body["difference"]) == (LIABILITY, LIABILITY, 0)
    assert body["ties"] is True and body["unexplained_points"] == 0 and body["residual"] == 0

    breakage = invoke("report", "breakage", "--to", AFTER_THE_RUN, "--json")
    assert breakage.exit_code == 0, breakage.output
    body = json.loads(breakage.stdout)
    assert (body["realised_points"], body["realised_value"]) == (EXPIRED, "5.72")

    reconcile = invoke("reconcile", "--as-of", AFTER_THE_RUN, "--json")
    assert reconcile.exit_code == 0, reconcile.output
    body = json.loads(reconcile.stdout)
    # The in-memory ledger keeps no hashed log, so its chain cannot be verified (not a break);
    # the integration suite checks it on the real server.
    assert {c["check"]: c["status"] for c in body["checks"]} == {
        "trial_balance": "pass",
        "roll_forward": "pass",
        "negative_balances": "pass",
        "expired_holds": "pass",
        "overdue_pending": "pass",
        "overdue_expiry": "pass",
        "transaction_metadata": "pass",
        "log_chain": "not_verified",
        "negative_at_any_instant": "pass",
        "clawback_never_positive": "pass",
        "liability_ties": "pass",
        "engagement_limits": "pass",
        "campaign_caps": "pass",
        "order_refunds": "pass",
        "refunds_after_orders": "pass",
        "closed_periods": "pass",
        "future_dated": "pass",
        "personal_data": "pass",
    }
    assert body["ok"] is True
    checks = {c["check"]: c for c in body["checks"]}
    assert checks["negative_balances"]["info"] == []  # carol's debt was repaid by C-3003
    # bob's hold is voided by a void transaction of its own (no revert of the server's)
    assert not [line for line in checks["transaction_metadata"]["info"] if "reverts" in line]
    assert [tx.metadata["operation"] for tx in ledger.txs].count("void") == 1


def test_the_breakage_estimate_on_the_demo(ledger: FakeLedger) -> None:
    # As of 2026-11-25 12:00 (after the demo ran), the bucket of an earn on day d expires on
    # d + 365, so the latest closed earn month is October 2025 (November's last buckets,
    # 2026-11-30, are not due yet). Of the 12 closed cohorts 2024-11 … 2025-10 only 2025-10 issued:
    #   issued  120 + 5000 + 500 + 22 + 352 + 400 = 6394 (no clawback repaid in October), less the
    #           50 points carol's refund F-C1 took back from her October bucket (the other 50 of its
    #           100 became her debt): 6344, points that will neither be redeemed nor expire
    #   expired 572 by the run of 2026-10-06, nothing left in the cohort's buckets → rate 572 / 6344
    #         = 0.0901639… → 0.090164
    # Open cohorts, not-yet-due points × 572 / 6344, rounded half-even:
    #   2025-11  alice 180 (20261128) + bob 1022 (20261129) = 1202 → 687544 / 6344 = 108.38 → 108
    #   2025-12  carol 1600 (20261206)                            → 915200 / 6344 = 144.26 → 144
    #   2026-02  dave 80 (20270216, the exchange in)              →  45760 / 6344 =   7.21 →   7
    #   estimate 108 + 144 + 7 = 259 points = 2.59 USD; nothing due and unswept.
    result = invoke("report", "breakage", "--to", "2026-11-25T12:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["realised_points"], body["rate"], body["rate_cohorts"][-1]) == (EXPIRED, "0.090164", "2025-10")
    cohorts = {
        line["cohort"]: (line["status"], line["issued"], line["expired"], line["outstanding"], line["estimated"])
        for line in body["cohorts"]
    }
    assert cohorts == {
        "2025-10": ("closed", 6344, 572, None, None),
        "2025-11": ("open", None, None, 1202, 108),
        "2025-12": ("open", None, None, 1600, 144),
        "2026-02": ("open", None, None, 80, 7),
    }
    assert (body["estimated_points"], body["estimated_value"], body["awaiting_expiry_points"]) == (259, "2.59", 0)


def test_as_of_the_story_s_end_it_reconciles_and_the_void_is_dated_when_it_was_made(ledger: FakeLedger) -> None:
    # On 2026-10-06 00:00 bob's hold H-B1 (50 points, placed 2026-10-05 23:45 for 30 minutes) is
    # live: 50 held out of bob's 1022, and every check passes.
    end = invoke("reconcile", "--as-of", "2026-10-06T00:00:00Z", "--json")
    assert end.exit_code == 0, end.output
    liability = json.loads(invoke("report", "liability", "--as-of", "2026-10-06T00:00:00Z", "--json").stdout)
    assert {line["state"]: line["points"] for line in liability["lines"]}["held"] == 50
    assert liability["total_points"] == LIABILITY
    # The void is a revert, which the ledger dates when the demo runs (DEMO_RUN): in between,
    # the ledger records a lapsed hold still holding its points, and says so.
    between = invoke("reconcile", "--as-of", "2026-11-01T00:00:00Z", "--json")
    assert between.exit_code == 1
    checks = {c["check"]: c for c in json.loads(between.stdout)["checks"]}
    assert checks["expired_holds"]["status"] == "fail"
    assert [line.split(": ")[0] for line in checks["expired_holds"]["offending"]] == ["customers:bob:holds:H-B1"]


def _csv(*args: str) -> list[dict[str, str]]:
    result = invoke(*args, "--format", "csv")
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_csv_sums_to_its_reports_total(ledger: FakeLedger) -> None:
    now = datetime.now(UTC).isoformat()
    # liability: one row per state, no total row; points and value sum to the totals
    rows = _csv("report", "liability")
    body = _json("report", "liability")
    assert [r["state"] for r in rows] == ["spendable", "due", "pending", "held", "negative", "other"]
    assert sum(int(r["points"]) for r in rows) == body["total_points"] == LIABILITY
    assert sum(Decimal(r["value"]) for r in rows) == Decimal(body["total_value"])
    assert {r["currency"] for r in rows} == {"USD"}

    # activity: opening and movements sum to the closing (all explained here: the expected closing)
    rows = _csv("report", "activity", "--from", BEFORE_THE_STORY, "--to", now)
    body = _json("report", "activity", "--from", BEFORE_THE_STORY, "--to", now)
    assert sum(int(r["points"]) for r in rows) == body["expected_closing_points"] == body["closing_points"] == LIABILITY
    assert sum(Decimal(r["value"]) for r in rows) == Decimal(body["closing_value"])
    assert {r["explained"] for r in rows} <= {"true", "false", ""} and "true" in {r["explained"] for r in rows}

    # breakage: one row per cohort; estimates and points awaiting expiry sum to the report's
    rows = _csv("report", "breakage", "--to", "2026-11-25T12:00:00Z")
    body = _json("report", "breakage", "--to", "2026-11-25T12:00:00Z")
    assert len(rows) == len(body["cohorts"]) == 4
    assert sum(int(r["estimated"] or 0) for r in rows) == body["estimated_points"] == 259
    assert sum(Decimal(r["value"] or 0) for r in rows) == Decimal(body["estimated_value"])
    assert sum(int(r["awaiting_expiry"]) for r in rows) == body["awaiting_expiry_points"]

    # statement: the movements sum to closing less opening
    rows = _csv("statement", "--customer", "carol", "--to", now)
    body = _json("statement", "--customer", "carol", "--to", now)
    assert rows and {r["line"] for r in rows} == {"movement"}
    assert sum(int(r["points"]) for r in rows) == body["closing_points"] - body["opening_points"] == 1600
    assert rows[-1]["balance"] == str(body["closing_points"])


def test_tables_show_the_totals_the_csv_leaves_out(ledger: FakeLedger) -> None:
    table = invoke("report", "liability")
    assert table.exit_code == 0, table.output
    [total] = [line.split() for line in table.stdout.splitlines() if " total " in f" {line} "]
    assert str(LIABILITY) in total and "28.82" in total
    now = datetime.now(UTC).isoformat()
    activity = invoke("report", "activity", "--from", BEFORE_THE_STORY, "--to", now).stdout
    assert "expected_closing" in activity and "difference" in activity
    statement = invoke("statement", "--customer", "carol", "--to", now).stdout
    assert "opening" in statement and "closing" in statement


def test_one_format_at_a_time(ledger: FakeLedger) -> None:
    both = invoke("report", "liability", "--format", "json", "--csv")
    assert both.exit_code == 2 and "choose one output format" in both.output
    same = invoke("report", "liability", "--format", "json", "--json")
    assert same.exit_code == 0 and json.loads(same.stdout)["total_points"] == LIABILITY
    unknown = invoke("report", "liability", "--format", "xml")
    assert unknown.exit_code == 2
    assert invoke("demo", "--format", "csv").exit_code == 2


EXPIRIES_PASSED = "2026-11-29T12:00:00Z"
"""alice's bucket expired on 2026-11-28 and bob's on 2026-11-29; carol's and dave's still run."""


def test_points_past_expiry_are_due_everywhere_until_swept(ledger: FakeLedger) -> None:
    due = {"alice": 180, "bob": 1022}
    # balance: due, not spendable, still in the total
    alice = _json("balance", "-c", "alice", "--as-of", EXPIRIES_PASSED)
    assert (alice["spendable"], alice["due"], alice["total"]) == (0, 180, 180)
    assert [b["due"] for b in alice["buckets"]] == [True]
    table = invoke("balance", "-c", "alice", "--as-of", EXPIRIES_PASSED).stdout
    assert [line.split() for line in table.splitlines() if line.startswith("alice ")] == [["alice", "due", "2026-11-28", "180"]]
    assert "180 points are due: past their expiry date" in table
    rows = _csv("balance", "-c", "alice", "--as-of", EXPIRIES_PASSED)
    assert [(r["customer"], r["state"], r["points"]) for r in rows] == [("alice", "due", "180")]
    # liability: a line of their own, carved out of spendable; the total is unchanged
    body = _json("report", "liability", "--as-of", EXPIRIES_PASSED)
    lines = {line["state"]: (line["points"], line["customers"]) for line in body["lines"]}
    assert lines["due"] == (sum(due.values()), 2) and lines["spendable"] == (LIABILITY - sum(due.values()), 2)
    assert body["total_points"] == LIABILITY and body["ties"] is True
    # reconcile: the sweep is overdue, each bucket named
    result = invoke("reconcile", "--as-of", EXPIRIES_PASSED, "--json")
    assert result.exit_code == 1
    check = {c["check"]: c for c in json.loads(result.stdout)["checks"]}["overdue_expiry"]
    assert check["status"] == "fail" and check["count"] == 2
    assert check["offending"] == [
        "customers:alice:points:20261128: 180 points, expired on 2026-11-28",
        "customers:bob:points:20261129: 1022 points, expired on 2026-11-29",
    ]
    assert check["detail"].startswith("1202 points in 2 bucket(s) past their expiry date on 2026-11-29")
    # the sweep moves them: nothing due, nothing overdue, the liability down by what expired
    NOW[0] = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # days after the run: the sweep is not in the future
    swept = invoke("expire", "--as-of", EXPIRIES_PASSED, "--format", "json")
    assert swept.exit_code == 0, swept.output
    body = _json("report", "liability", "--as-of", EXPIRIES_PASSED)
    lines = {line["state"]: line["points"] for line in body["lines"]}
    assert lines["due"] == 0 and body["total_points"] == LIABILITY - sum(due.values())
    after = json.loads(invoke("reconcile", "--as-of", EXPIRIES_PASSED, "--json").stdout)
    assert {c["check"]: c["status"] for c in after["checks"]}["overdue_expiry"] == "pass"


def test_the_statement_of_a_customer_the_ledger_never_saw_is_refused(ledger: FakeLedger) -> None:
    for args in (["statement", "--customer", "nobody"], ["balance", "-c", "nobody"]):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert result.stderr.strip() == "error: customer nobody has no accounts in the ledger"
    # a known customer with nothing in the window still has a statement
    quiet = _json("statement", "--customer", "carol", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z")
    assert (quiet["opening_points"], quiet["closing_points"], quiet["lines"]) == (1600, 1600, [])


def test_a_date_means_the_whole_day_in_reports_and_windows(ledger: FakeLedger) -> None:
    # bob's hold H-B1 (50 points) was placed on 2026-10-05 at 23:45 (UTC is the programme's zone)
    def held(as_of: str) -> int:
        return {line["state"]: line["points"] for line in _json("report", "liability", "--as-of", as_of)["lines"]}["held"]

    assert held("2026-10-05") == 50  # through the end of that day
    assert held("2026-10-05T00:00:00Z") == 0  # an instant is as written
    assert _json("balance", "-c", "bob", "--as-of", "2026-10-05")["held"] == 50
    # the expiry run is dated 2026-10-06T00:00:00Z: a window from that day starts with it
    def expired(start: str) -> int:
        lines = _json("report", "activity", "--from", start, "--to", "2026-10-06")["lines"]
        return sum(line["points"] for line in lines if line["line"] == "expired")

    assert expired("2026-10-06") == -EXPIRED
    assert expired("2026-10-06T00:00:00Z") == 0
