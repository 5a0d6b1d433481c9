"""The report pack on the real Formance Ledger: the demo year's pack made by ``loyalty report pack``, its figures tied
to the ledger read here independently, the same bytes twice, and the page rendered by headless Chromium.

The screenshot is kept under the test's tmp folder (its path is printed) and, when ``PACK_SCREENSHOT``
names a file, copied there with the pack beside it (``<name>.html``). The variable has no ``LOYALTY_`` prefix:
the settings refuse a ``LOYALTY_*`` variable they do not know.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from support.browser import blank, render, script_errors
from support.programme import programme
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.demo import run_demo
from loyalty_accounts.errors import UnknownEntity
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.vocabulary.cells import csv_cell
from loyalty_accounts.vocabulary.instants import day_start

pytestmark = pytest.mark.integration

UTC = timezone.utc
CHARTS = ("liability_by_state", "breakage_by_cohort")


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((folder / f"{name}.csv").read_text())))


def make(ledger_url: str, ledger_name: str, out: Path, today: date, *extra: str) -> str:
    args = ["--ledger-url", ledger_url, "--ledger", ledger_name, "report", "pack", "--from", "2025-10-01", "--as-of", today.isoformat(), "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_demo_years_pack_ties_to_the_ledger_and_renders(
    client: LedgerClient, ledger_url: str, ledger_name: str, tmp_path: Path
) -> None:
    program = programme(client)
    run_demo(program)
    # The nightly sweep: the story's last buckets are due by now. A sweep is dated to the whole second, so it
    # waits for the second after the demo's void (dated when it was made), whose points go back to a due bucket.
    time.sleep(1.0)
    program.expire(datetime.now(UTC))
    chart, today = program.chart, datetime.now(UTC).date()
    as_of = day_start(today + timedelta(days=1), chart.timezone) - timedelta(microseconds=1)
    out = tmp_path / "pack"
    said = make(ledger_url, ledger_name, out, today)

    # the liability at the as-of instant and at a month end, as the liability report and the ledger's aggregate say
    reports = FinanceReports(client, chart, rules=program.rules)
    series = {row["as_of"]: row for row in rows(out, "liability_over_time")}
    last = series[as_of.isoformat()]
    statement = reports.liability(as_of)
    ledger_total = client.aggregate_balances(chart.customer_filter(), pit=as_of).get("PTS", 0)
    assert int(last["total_points"]) == statement.total_points == ledger_total
    assert Decimal(last["total_value"]) == statement.total_value
    march = datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert int(series[march.isoformat()]["total_points"]) == reports.liability(march).total_points

    # the roll-forward: opening and movements sum to the closing, which is the ledger's liability at the as-of
    movements = rows(out, "roll_forward")
    assert movements[0]["line"] == "opening" and int(movements[0]["points"]) == 0
    assert sum(int(r["points"]) for r in movements) == ledger_total
    assert sum(Decimal(r["value"]) for r in movements) == Decimal(ledger_total) * Decimal("0.01")

    # the triangle's final figures: every cohort's together equal the ledger's volumes of redeemed and expired
    for measure in ("redeemed", "expired"):
        account = f"program:points:{measure}"
        volume = sum(v.input - v.output for v in client.volumes(account, end=as_of) if v.account == account and v.asset == "PTS")
        finals = [int([c for c in row.values() if c != ""][-1]) for row in rows(out, f"cohort_triangle_{measure}")]
        assert volume > 0 and sum(finals) == volume, (measure, finals, volume)
    # ...and each cohort's expired points equal what its expiry runs recorded (expires_at less 365 days)
    recorded: dict[str, int] = {}
    for tx in client.transactions(metadata={"operation": "expire"}):
        cohort = (date.fromisoformat(tx.metadata["expires_at"]) - timedelta(days=365)).strftime("%Y-%m")
        recorded[cohort] = recorded.get(cohort, 0) + sum(p.amount for p in tx.postings if p.destination == account)
    expired = {row["cohort"]: int([c for c in row.values() if c != ""][-1]) for row in rows(out, "cohort_triangle_expired")}
    assert {k: v for k, v in expired.items() if v} == recorded and len(recorded) >= 2
    assert all(row["ties"] == "true" for row in rows(out, "cohort_triangle_ties"))

    # partner balances and the reconciliation, as the ledger and reconcile say
    balances = {row["partner"]: row for row in rows(out, "partner_balances") if row["partner"] != "net"}
    assert sorted(balances) == sorted(reports.chart.spec.partners)  # every declared partner, traded or not
    for partner, row in balances.items():
        try:
            cents = client.account(f"partners:{partner}:settlement", pit=as_of).balance("USD/2")
        except UnknownEntity:  # never settled anything (cityrail, a pool member the demo does not use)
            cents = 0
        assert Decimal(row["balance"]) == Decimal(cents) / 100
    assert Decimal(balances["skyway"]["balance"]) == Decimal("-0.43")
    # every member of every declared pool, its figures the balances of its pool accounts at the as-of
    pools = rows(out, "pool_positions")
    declared = [(pool, p) for pool, spec in reports.chart.spec.pools.items() for p in sorted(spec.members)]
    assert [(r["pool"], r["partner"]) for r in pools] == declared and declared
    for row in pools:
        for role in ("contributed", "funds", "awarded", "redeemed"):
            try:
                held = client.account(reports.chart.pool_account(row["pool"], row["partner"], role), pit=as_of).balance("PTS")
            except UnknownEntity:  # the demo year uses no pool
                held = 0
            assert int(row[role]) == (-held if role == "contributed" else held)
    checks = {row["check"]: row["status"] for row in rows(out, "reconciliation")}
    independent = reports.reconcile(as_of, full_log_check=True)
    assert checks == {c.name: c.status for c in independent.checks} and independent.ok

    # the head: the ledger's last log, read directly
    logs = list(client.logs())
    provenance = {row["field"]: row["value"] for row in rows(out, "provenance")}
    # (a hash beginning "+" or "-" is written with the CSV's leading "'", as any text a spreadsheet would run)
    assert (provenance["head_hash"], provenance["head_log_id"]) == (csv_cell(logs[-1]["hash"]), str(logs[-1]["id"]))
    assert provenance["log_chain"] == "pass" and provenance["server_version"] == client.server_version()
    page = (out / "pack.html").read_text()
    assert re.search(rf'id="head-hash">{re.escape(logs[-1]["hash"])}<', page)
    assert f"log head #{logs[-1]['id']}: {logs[-1]['hash']} (chain pass)" in said

    # the same ledger and arguments: the same bytes
    again = tmp_path / "again"
    make(ledger_url, ledger_name, again, today)
    assert {p.name: p.read_bytes() for p in again.iterdir()} == {p.name: p.read_bytes() for p in out.iterdir()}

    # headless Chromium: no script and no console error, every chart in the DOM, a screenshot that shows something
    shot = render(out / "pack.html", tmp_path / "pack.png")
    print(f"report pack screenshot: {shot.screenshot}")
    assert "<script" not in page and "<script" not in shot.dom and not script_errors(shot.log)
    for name in CHARTS:
        figure = shot.dom[shot.dom.index(f'<figure id="chart-{name}">'):]
        assert "<svg" in figure[: figure.index("</figure>")], name
    assert shot.screenshot.stat().st_size > 0 and not blank(shot.screenshot)
    white = tmp_path / "white.png"
    Image.new("RGB", (64, 64), "white").save(white)
    assert blank(white)  # the check can tell
    keep = os.environ.get("PACK_SCREENSHOT")
    if keep:
        target = Path(keep)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot.screenshot, target)
        shutil.copyfile(out / "pack.html", target.with_suffix(".html"))
        print(f"report pack screenshot copied to {target}")
