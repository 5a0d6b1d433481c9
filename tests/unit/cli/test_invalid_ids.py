"""An empty or malformed identifier on the command line is bad input: exit 2, and not one request to the ledger.

Before, ``loyalty balance -c ''`` printed every customer's points with exit 0
(the empty id made the filter ``customers::...``, which matches everyone).
The real HTTP client is used, behind a mock that records every request.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()
BASE = "http://ledger.test"

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOYALTY_LEDGER_URL", BASE)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.route().mock(return_value=httpx.Response(404, json={"errorCode": "NOT_FOUND", "errorMessage": "not found"}))
        yield mock


BAD_IDS = ["", "c 1", "c1:...", "a:b"]
COMMANDS = {
    "balance": lambda bad: ["balance", "-c", bad],
    "history": lambda bad: ["history", "-c", bad],
    "release": lambda bad: ["release", "-c", bad, "--as-of", "2026-01-01T00:00:00Z"],
    "expire": lambda bad: ["expire", "-c", bad, "--as-of", "2026-01-01T00:00:00Z"],
    "void": lambda bad: ["void", "-c", bad, "--hold", "h1"],
    "void (hold)": lambda bad: ["void", "-c", "c1", "--hold", bad],
    "explain": lambda bad: ["explain", "--order", bad],
    "quote": lambda bad: ["quote", "--amount", "10", "-c", bad],
    "statement": lambda bad: ["statement", "--customer", bad],
    "tier": lambda bad: ["tier", "-c", bad],
}


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_id_exits_2_and_asks_the_ledger_nothing(router: respx.MockRouter, command: str, bad: str) -> None:
    result = runner.invoke(app, COMMANDS[command](bad))
    assert result.exit_code == 2, result.output
    # refused as a bad id, in one line, not as a usage error
    assert "is not valid" in result.output and "give --customer and --hold" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert router.calls.call_count == 0


@pytest.mark.parametrize("tier", ["", "platinum-ish"])
def test_quote_refuses_a_tier_the_rules_do_not_have(router: respx.MockRouter, tier: str) -> None:
    result = runner.invoke(app, ["quote", "--amount", "10", "--tier", tier])
    assert result.exit_code == 2, result.output
    assert "unknown tier" in result.output
    assert router.calls.call_count == 0


def test_a_well_formed_id_does_reach_the_ledger(router: respx.MockRouter) -> None:
    # The control: the same mock sees the requests a valid id makes.
    runner.invoke(app, ["balance", "-c", "c1"])
    assert router.calls.call_count >= 1


def test_points_beyond_what_one_operation_may_move_are_refused_before_anything_is_read() -> None:
    from loyalty_accounts.vocabulary.amounts import MAX_POINTS

    for text in (str(MAX_POINTS + 1), "9" * 40, "9" * 5000):
        result = CliRunner().invoke(app, ["adjust", "-c", "c1", "--adjustment", "J-1", "-p", text, "--reason", "goodwill"])
        assert result.exit_code == 2, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith("error: --points: ") and "more than one operation may move (1,000,000,000,000)" in line
    big = CliRunner().invoke(app, ["exchange", "-c", "c1", "--partner", "skyway", "--exchange", "X-1", "--partner-points", "9" * 38])
    assert big.exit_code == 2 and big.stderr.startswith("error: --partner-points: ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["void", "-c", "c1", "--hold", "h1", "--lapsed"], "--lapsed voids every lapsed hold"),
        (["void", "-c", "c1", "--hold", "h1", "--as-of", "2026-05-01"], "--as-of goes with --lapsed"),
        (["void", "-c", "c1"], "give --customer and --hold, or --lapsed"),
    ],
)
def test_void_refuses_options_it_would_ignore(args: list[str], says: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line


def test_a_refused_value_names_the_command_in_words_never_a_class() -> None:
    result = CliRunner().invoke(app, ["redeem", "-c", "c1", "--redemption", "R-1", "-p", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: invalid redeem command: points: Input should be greater than 0 (got 0)"
    assert "Command" not in result.stderr and "Money" not in result.stderr
