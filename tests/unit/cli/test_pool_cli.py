"""``loyalty pool``: contribute, earn, redeem and show on the in-memory ledger; bad input is one line, exit 2, nothing posted."""

from __future__ import annotations

import json

import pytest
from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()
AT = "2026-06-01T10:00:00Z"


def run(*args: str) -> object:
    return runner.invoke(app, list(args))


def test_contribute_earn_redeem_then_show(ledger: FakeLedger) -> None:
    for args in (
        ("pool", "contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c-1", "-p", "3000", "--at", AT),
        ("pool", "contribute", "--pool", "travel", "--partner", "cityrail", "--contribution", "c-2", "--amount", "9.00", "--at", AT),
        ("pool", "earn", "-c", "m1", "--pool", "travel", "--earn", "e-1", "-p", "10", "--at", AT),
        ("pool", "redeem", "-c", "m1", "--pool", "travel", "--redemption", "r-1", "-p", "4", "--reward", "lounge", "--at", AT),
    ):
        result = run(*args, "-f", "json")
        assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points"] == 4
    show = run("pool", "show", "--pool", "travel", "-f", "json")
    assert show.exit_code == 0, show.output
    doc = json.loads(show.stdout)
    rows = {row["partner"]: row for row in doc["members"]}
    # 10 at 3:1 → 8 and 2; 4 at 3:1 → 3 and 1
    assert (rows["skyway"]["contributed"], rows["skyway"]["awarded"], rows["skyway"]["redeemed"], rows["skyway"]["funds"]) == (3000, 8, 3, 2989)
    assert (rows["cityrail"]["contributed"], rows["cityrail"]["paid"], rows["cityrail"]["funds"]) == (1000, "9.00", 997)
    assert doc["totals"]["funds"] == 3986 and doc["balanced"] is True
    table = run("pool", "show", "--pool", "travel")
    assert table.exit_code == 0 and "balanced: yes" in table.stdout


def test_the_partner_statement_shows_the_pool(ledger: FakeLedger) -> None:
    run("pool", "contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c-1", "-p", "3000", "--at", AT)
    refused = run("pool", "earn", "-c", "m1", "--pool", "travel", "--earn", "e-1", "-p", "12", "--at", AT)
    assert refused.exit_code == 1  # cityrail owes 3 of the 12 and has put in nothing: nothing drawn
    assert run("pool", "show", "--pool", "travel").exit_code == 0
    result = run("partner", "statement", "--partner", "skyway", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (line,) = doc["lines"]
    assert (line["line"], line["operation"], line["business_key"], line["points"], line["movement"]) == (
        "pool", "pool_contribute", "c-1", 3000, "27.00"
    )
    (pool,) = doc["pools"]
    assert (pool["pool"], pool["contributed"], pool["funds"], pool["awarded"], pool["paid"], pool["declared_share"]) == (
        "travel", 3000, 3000, 0, "27.00", "0.750000"
    )
    assert doc["pool_movements"] == "27.00" and doc["other_movements"] == "0.00" and doc["ok"] is True
    table = run("partner", "statement", "--partner", "skyway")
    assert "+ pool contributions +27.00" in table.stdout and "Pools at" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["contribute", "--pool", "nowhere", "--partner", "skyway", "--contribution", "c", "-p", "5"], "unknown pool 'nowhere' (declared: travel)"),
        (["contribute", "--pool", "travel", "--partner", "railco", "--contribution", "c", "-p", "5"], "partner 'railco' is not a member of pool 'travel'"),
        (["contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c", "--amount", "10.00"], "buys 1111.1"),
        (["contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c", "-p", "5", "--amount", "9.00"], "either --points or --amount"),
        (["contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c", "-p", "-5"], "--points"),
        (["earn", "-c", "m1", "--pool", "nowhere", "--earn", "e", "-p", "5"], "unknown pool 'nowhere'"),
        (["earn", "-c", "m 1", "--pool", "travel", "--earn", "e", "-p", "5"], "customer"),
        (["redeem", "-c", "m1", "--pool", "travel", "--redemption", "r", "-p", "1.5"], "--points"),
        (["show", "--pool", "nowhere"], "unknown pool 'nowhere'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_posts_nothing(ledger: FakeLedger, args: list[str], message: str) -> None:
    posts = ledger.posts
    result = run("pool", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert ledger.posts == posts


def test_a_draw_the_pool_cannot_cover_exits_1_and_posts_nothing(ledger: FakeLedger) -> None:
    run("pool", "contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c-1", "-p", "3000", "--at", AT)
    posts = ledger.posts
    result = run("pool", "earn", "-c", "m1", "--pool", "travel", "--earn", "e-1", "-p", "4", "--at", AT)
    assert result.exit_code == 1 and "charges cityrail 1 points (shares); it has 0 left in the pool" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and ledger.posts == posts
