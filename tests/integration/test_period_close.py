"""Closing a period on the real server: nothing is posted into it afterwards, and reports as of it stay put.

A close moves the closed-period mark that every guarded post checks inside
the ledger (operations/guard.py), so the refusal holds for the Python API,
the command line and a close racing with back-dated posts alike; reconcile's
``closed_periods`` proves it from the history, and fails on a transaction
forced in by hand (a plan posted straight through the ledger adapter, without
the guard). The ``client`` fixture (conftest) checks the trial balance after
each test.
"""

from __future__ import annotations

import difflib
import json
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from support.finance_books import Books
from support.programme import earn, programme, usd
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.errors import InvalidCommand, PeriodClosed
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.vocabulary.instants import iso_instant

pytestmark = pytest.mark.integration

UTC = timezone.utc
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
T = TODAY - timedelta(days=30, microseconds=1)
"""The instant the books are closed through: the last microsecond of a day a month ago."""
BEFORE = T - timedelta(days=10)
AFTER = T + timedelta(microseconds=1)
IN_2030 = datetime(2030, 1, 1, tzinfo=UTC)
HOLD_TTL = 90 * 24 * 60
"""Minutes: a hold placed in the period is still open after the close (a lapsed one could not be voided then)."""
runner = CliRunner()


def every_operation(program: LoyaltyProgram, when: datetime, tag: str, hold_id: str) -> dict[str, Callable[[], Any]]:
    """One command of each kind dated ``when`` (keys made unique by ``tag``); ``hold_id`` is the hold to capture."""

    return {
        "earn": lambda: program.earn(earn("c1", f"o-{tag}", "10.00", at=when)),
        "engage": lambda: program.engage("c1", "review_written", f"e-{tag}", when),
        "redeem": lambda: program.redeem(RedeemCommand(customer="c1", redemption_id=f"r-{tag}", points=5, at=when)),
        "hold": lambda: program.hold(HoldCommand(customer="c1", hold_id=f"h-{tag}", points=5, at=when)),
        "capture": lambda: program.capture(CaptureCommand(customer="c1", hold_id=hold_id, points=5, at=when)),
        "transfer": lambda: program.transfer(
            TransferCommand(customer="c1", to_customer="c2", transfer_id=f"t-{tag}", points=5, at=when)
        ),
        "refund": lambda: program.refund(
            RefundCommand(customer="c1", order_id="o-1", refund_id=f"rf-{tag}", amount=usd("1.00"), at=when)
        ),
        "adjust": lambda: program.adjust(
            AdjustCommand(customer="c1", adjustment_id=f"a-{tag}", direction="credit", points=5, reason="goodwill", at=when)
        ),
        "exchange_out": lambda: program.exchange_out(
            ExchangeOutCommand(customer="c1", exchange_id=f"xo-{tag}", partner="skyway", partner_points=1, at=when)
        ),
        "exchange_in": lambda: program.exchange_in(
            ExchangeInCommand(customer="c1", exchange_id=f"xi-{tag}", partner="skyway", partner_points=1, at=when)
        ),
        "convert": lambda: program.convert(ConvertCommand(customer="c1", conversion_id=f"cv-{tag}", points=100, at=when)),
        "release": lambda: program.release(when),
        "expire": lambda: program.expire(when),
    }


def history(program: LoyaltyProgram) -> None:
    """Points for c1 and c2 before the period ends, and a hold of c1 open at its last instant (and for months)."""

    program.earn(earn("c1", "o-1", "400.00", at=BEFORE))
    program.earn(earn("c2", "o-2", "100.00", at=BEFORE))
    program.hold(HoldCommand(customer="c1", hold_id="h-open", points=10, at=T - timedelta(minutes=5)))


@contextmanager
def note(name: str) -> Iterator[None]:
    """Say which operation an assertion inside was about."""

    try:
        yield
    except BaseException as exc:
        exc.add_note(f"operation: {name}")
        raise


def count(client: LedgerClient) -> int:
    return len(list(client.transactions()))


def close_id(client: LedgerClient) -> int:
    (close,) = client.transactions(metadata={"operation": "period_close"})
    return close.id


def test_after_a_close_every_operation_dated_in_the_period_is_refused_and_after_it_passes(client: LedgerClient) -> None:
    program = programme(client, pending_days=0, hold_ttl_minutes=HOLD_TTL)
    history(program)
    closed = program.close_period(T)
    assert program.closed_through() == T and not closed.replayed
    assert program.close_period(T).replayed, "closing through the same instant again is a replay"
    posted = count(client)
    for when, tag in ((T, "at"), (T - timedelta(days=3), "in")):
        for name, run in every_operation(program, when, tag, "h-open").items():
            with note(name), pytest.raises(PeriodClosed, match=f"the books are closed through {iso_instant(T)}"):
                run()
            assert count(client) == posted, f"{name} dated {iso_instant(when)} posted something"
    # dated after the closed-through instant, each passes
    for name, run in every_operation(program, AFTER, "after", "h-open").items():
        run()
    assert count(client) > posted + 10
    assert {tx.metadata["operation"] for tx in client.transactions() if tx.id > closed.transactions[0].id} >= {
        "earn", "engage", "redeem", "hold", "capture", "transfer", "refund", "adjust", "exchange_out", "exchange_in", "convert",
    }
    result = FinanceReports(client, program.chart, rules=program.rules).reconcile()
    assert result.check("closed_periods").status == "pass", result.check("closed_periods")
    assert result.ok, [c for c in result.checks if c.status == "fail"]


def cli_run(url: str, ledger: str, *args: str) -> Any:
    return runner.invoke(cli, ["--ledger-url", url, "--ledger", ledger, *args])


def cli_lines(when: str, tag: str) -> list[list[str]]:
    return [
        ["earn", "-c", "c1", "--order", f"o-{tag}", "--amount", "10.00", "--currency", "USD", "--ordered-at", when],
        ["engage", "-c", "c1", "--event", "review_written", "--key", f"e-{tag}", "--at", when],
        ["redeem", "-c", "c1", "--redemption", f"r-{tag}", "-p", "5", "--at", when],
        ["hold", "-c", "c1", "--hold", f"h-{tag}", "-p", "5", "--at", when],
        ["capture", "-c", "c1", "--hold", "h-open", "-p", "5", "--at", when],
        ["transfer", "--from", "c1", "--to", "c2", "--transfer", f"t-{tag}", "-p", "5", "--at", when],
        ["refund", "-c", "c1", "--order", "o-1", "--refund", f"rf-{tag}", "--amount", "1.00", "--currency", "USD", "--at", when],
        ["adjust", "-c", "c1", "--adjustment", f"a-{tag}", "-p", "5", "--reason", "goodwill", "--at", when],
        ["exchange", "-c", "c1", "--partner", "skyway", "--exchange", f"x-{tag}", "--partner-points", "1", "--at", when],
        ["convert", "-c", "c1", "--conversion", f"cv-{tag}", "-p", "100", "--at", when],
        ["release", "--as-of", when],
        ["expire", "--as-of", when],
    ]


def test_loyalty_period_close_refuses_the_command_lines_dated_in_the_period(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    program = programme(client, pending_days=0, hold_ttl_minutes=HOLD_TTL)
    history(program)
    closing = cli_run(ledger_url, ledger_name, "period", "close", "--through", iso_instant(T), "--json")
    assert closing.exit_code == 0, closing.output
    assert json.loads(closing.stdout)["closed_through"] == iso_instant(T)
    earlier = cli_run(ledger_url, ledger_name, "period", "close", "--through", iso_instant(T - timedelta(days=1)))
    assert earlier.exit_code == 1 and "already closed through" in earlier.output
    posted = count(client)
    for line in cli_lines(iso_instant(T), "at") + cli_lines(iso_instant(BEFORE), "in"):
        run = cli_run(ledger_url, ledger_name, *line)
        assert run.exit_code == 1, (line, run.output)
        assert "closed through" in run.output, (line, run.output)
        assert count(client) == posted, f"{line} posted something"
    for line in cli_lines(iso_instant(AFTER), "after"):
        run = cli_run(ledger_url, ledger_name, *line)
        assert run.exit_code == 0, (line, run.output)
    assert count(client) > posted + 9
    shown = cli_run(ledger_url, ledger_name, "period", "show", "--json")
    assert shown.exit_code == 0 and iso_instant(T) in shown.stdout


def test_a_close_racing_with_back_dated_posts_lets_none_in_after_it(client: LedgerClient) -> None:
    program = programme(client, pending_days=0, hold_ttl_minutes=HOLD_TTL)
    program.earn(earn("c0", "o-0", "10.00", at=BEFORE))
    outcomes: dict[str, str] = {}
    start = threading.Barrier(9)

    def post(worker: int) -> None:
        start.wait()
        for n in range(6):
            when = T - timedelta(hours=n) if n % 2 == 0 else AFTER + timedelta(hours=n)
            key = f"o-{worker}-{n}"
            try:
                program.earn(earn(f"c{worker}", key, "5.00", at=when))
                outcomes[key] = "posted"
            except PeriodClosed:
                outcomes[key] = "closed"

    threads = [threading.Thread(target=post, args=(worker,)) for worker in range(1, 9)]
    for thread in threads:
        thread.start()
    start.wait()
    program.close_period(T)
    for thread in threads:
        thread.join()
    assert len(outcomes) == 48
    close = close_id(client)
    txs = list(client.transactions())
    inside = [tx for tx in txs if tx.timestamp <= T]
    assert all(tx.id < close for tx in inside), [(tx.id, tx.timestamp) for tx in inside if tx.id > close]
    # the earns dated after the period all went through; the back-dated ones that did are the ones inside it
    assert all(outcomes[f"o-{w}-{n}"] == "posted" for w in range(1, 9) for n in (1, 3, 5))
    back_dated = {f"o-{w}-{n}" for w in range(1, 9) for n in (0, 2, 4)}
    posted_inside = {tx.metadata["order_id"] for tx in inside if tx.metadata.get("operation") == "earn"}
    assert posted_inside == {key for key in back_dated if outcomes[key] == "posted"} | {"o-0"}
    result = FinanceReports(client, program.chart, rules=program.rules).reconcile()
    assert result.check("closed_periods").status == "pass", result.check("closed_periods")


def test_a_transaction_forced_into_the_closed_period_fails_reconcile(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    program = programme(client, pending_days=0, hold_ttl_minutes=HOLD_TTL)
    history(program)
    program.close_period(T)
    books = Books(client, program.chart, program.catalogue, program.schema_version)
    forced = books.earn("c1", "o-forced", "20.00", iso_instant(T - timedelta(days=2)).removesuffix("Z"))
    assert forced.id > close_id(client)
    result = FinanceReports(client, program.chart, rules=program.rules).reconcile()
    check = result.check("closed_periods")
    assert check.status == "fail" and check.count == 1
    assert check.offending[0].startswith(f"#{forced.id} (earn, dated {iso_instant(forced.timestamp)}) was inserted after close")
    run = cli_run(ledger_url, ledger_name, "reconcile", "--json")
    assert run.exit_code == 1
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert checks["closed_periods"]["status"] == "fail"
    assert checks["closed_periods"]["offending"] == list(check.offending)


REPORTS = (
    ("report", "liability", "--as-of", iso_instant(T), "--json"),
    ("report", "breakage", "--to", iso_instant(T), "--json"),
    ("reconcile", "--as-of", iso_instant(T), "--json"),
    ("statement", "--customer", "c1", "--to", iso_instant(T), "--json"),
    ("statement", "--customer", "c2", "--to", iso_instant(T), "--json"),
)


def test_reports_as_of_the_closed_instant_are_the_same_bytes_afterwards(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    program = programme(client, pending_days=0, hold_ttl_minutes=HOLD_TTL)
    history(program)
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-0", points=50, at=BEFORE + timedelta(days=1)))
    program.close_period(T)
    first = [cli_run(ledger_url, ledger_name, *line) for line in REPORTS]
    assert [run.exit_code for run in first] == [0] * len(REPORTS), [run.output for run in first]
    program.earn(earn("c1", "o-now", "50.00", at=datetime.now(UTC)))
    program.redeem(RedeemCommand(customer="c2", redemption_id="r-now", points=20, at=datetime.now(UTC)))
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t-now", points=7, at=datetime.now(UTC)))
    refused = cli_run(ledger_url, ledger_name, "redeem", "-c", "c1", "--redemption", "r-back", "-p", "5", "--at", iso_instant(T))
    assert refused.exit_code == 1
    again = [cli_run(ledger_url, ledger_name, *line) for line in REPORTS]
    for line, before, after in zip(REPORTS, first, again):
        assert after.exit_code == 0
        changed = "".join(difflib.unified_diff(before.stdout.splitlines(True), after.stdout.splitlines(True)))
        assert after.stdout == before.stdout, f"{line}:\n{changed}"
    assert json.loads(first[2].stdout)["ok"] is True


def test_a_write_dated_in_2030_is_refused_and_one_forced_in_fails_reconcile(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    program = programme(client, pending_days=0, hold_ttl_minutes=HOLD_TTL)
    history(program)
    posted = count(client)
    with pytest.raises(InvalidCommand, match="operations cannot be dated in the future"):
        program.earn(earn("c1", "o-2030", "10.00", at=IN_2030))
    run = cli_run(ledger_url, ledger_name, "redeem", "-c", "c1", "--redemption", "r-2030", "-p", "5", "--at", iso_instant(IN_2030))
    assert run.exit_code == 2 and "cannot be dated in the future" in run.output
    assert count(client) == posted
    assert FinanceReports(client, program.chart, rules=program.rules).reconcile().check("future_dated").status == "pass"
    books = Books(client, program.chart, program.catalogue, program.schema_version)
    forced = books.earn("c1", "o-2030", "10.00", "2030-01-01T00:00:00")
    result = FinanceReports(client, program.chart, rules=program.rules).reconcile()
    check = result.check("future_dated")
    assert check.status == "fail" and check.count == 1
    assert check.offending[0].startswith(f"#{forced.id} (earn, dated 2030-01-01T00:00:00Z) was inserted at ")
    cli_check = cli_run(ledger_url, ledger_name, "reconcile", "--json")
    assert cli_check.exit_code == 1
    assert {c["check"]: c["status"] for c in json.loads(cli_check.stdout)["checks"]}["future_dated"] == "fail"


def test_a_hold_placed_in_a_closed_period_is_voided_afterwards_and_lapsed_ones_too(client: LedgerClient) -> None:
    # A void is a transaction of its own dated now, not a revert of the hold (which would mirror the
    # hold's closed-period legs and be refused by the server once the mark has moved).
    program = programme(client, pending_days=0)  # holds lapse after 30 minutes
    program.earn(earn("c1", "o-1", "100.00", at=BEFORE))
    program.hold(HoldCommand(customer="c1", hold_id="h-1", points=30, at=BEFORE))
    program.hold(HoldCommand(customer="c1", hold_id="h-2", points=20, at=BEFORE))
    program.close_period(T)
    voided = program.void("c1", "h-1")
    assert (voided.points, voided.replayed) == (30, False)
    assert program.void("c1", "h-1").replayed
    lapsed = program.void_lapsed(datetime.now(UTC))
    assert [r.reference for r in lapsed.results] == ["void:h-2"]
    assert program.balance("c1").spendable == 100
    assert all(tx.timestamp > T for tx in client.transactions(metadata={"operation": "void"}))
    result = FinanceReports(client, program.chart, rules=program.rules).reconcile()
    assert result.ok, [c for c in result.checks if c.status == "fail"]
