"""A programme on a given ledger port, with the repository's chart (optionally varied) and rules."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

import yaml

from loyalty_accounts.chart import Chart
from loyalty_accounts.errors import LoyaltyError
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import EarnCommand, RedeemCommand
from loyalty_accounts.ports import LedgerPort
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.services.executor import Clock, system_clock
from loyalty_accounts.services.results import OperationResult
from loyalty_accounts.rules import Rules, parse_rules
from loyalty_accounts.vocabulary.amounts import Money

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
STORY_NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
"""The "now" of the stories the tests tell at fixed dates (T0's, the app week of 2026-11's): after every one of
their instants and before the first of their buckets expires (T0 + 365 days, 2027-01-10). A programme or a report
that reads anything as of now (what is due, pending, held, lapsed) is given :func:`story_clock`, so that it answers
the same whatever day the suite runs on; with the system clock it would answer differently once the story's
buckets came due."""


def story_clock() -> datetime:
    """The clock of a story told at fixed dates: always :data:`STORY_NOW`."""

    return STORY_NOW


def chart_with(**policies: Any) -> Chart:
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"].update(policies)
    return Chart.from_yaml(yaml.safe_dump(data), source="variant.yaml")


def rules_text(*replacements: tuple[str, str]) -> str:
    """The repository's rules file with some exact pieces of text replaced (each must be there)."""

    text = (ROOT / "rules.yaml").read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def rules_reviewing_above(points: int) -> str:
    """The repository's rules file with the review threshold lowered to ``points`` (so a catalogue reward,
    priced in hundreds or thousands of points, can be held for review)."""

    return rules_text(("  points_above: 10000 ", f"  points_above: {points} "))


def rules_without_review() -> str:
    """The repository's rules file without its ``review`` section (the comment above it included): redemptions
    are never held, and read nothing but their buckets."""

    text = rules_text()
    start = text.index("\n# Review of risky redemptions")
    return text[:start] + "\n"


def programme(
    ledger: LedgerPort, *, rules: Rules | str | None = None, clock: Clock = system_clock, **policies: Any
) -> LoyaltyProgram:
    """The programme, initialised; ``rules`` is a Rules, a rules text, or None for the repository's file.

    ``clock`` is the programme's "now" (operations dated after it, beyond the clock skew, are refused).
    """

    chart = chart_with(**policies)
    if not isinstance(rules, Rules):
        rules = parse_rules(rules if rules is not None else rules_text(), source="rules.yaml", chart=chart)
    program = LoyaltyProgram(ledger, chart, Catalogue(ROOT / "numscript"), rules=rules, clock=clock)
    program.init()
    return program


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def days(n: int) -> timedelta:
    return timedelta(days=n)


def earn(customer: str, order: str, amount: str, at: datetime = T0, **fields: str) -> EarnCommand:
    """An order of ``amount`` USD (``category``, ``channel`` in ``fields``)."""

    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at, **fields)


def trial_balance_holds(ledger: LedgerPort) -> None:
    """Every asset sums to zero over all accounts: the books balance."""

    assert all(v == 0 for v in ledger.aggregate_balances("").values())


def every_balance(ledger: LedgerPort, *filters: str, leave_out: str = "CTL") -> dict[tuple[str, str], int]:
    """Every non-zero balance of the accounts the address ``filters`` match, per (address, asset), but the
    ``leave_out`` asset's (the control asset: each operation moves the member's sequence counter by design)."""

    out: dict[tuple[str, str], int] = {}
    for address_filter in filters:
        for account in ledger.accounts(address_filter):
            for asset, volume in account.volumes.items():
                if asset != leave_out and volume.balance != 0:
                    out[(account.address, asset)] = volume.balance
    return out


def redeem_all_at_once(programs: Sequence[LoyaltyProgram], commands: Sequence[RedeemCommand]) -> list[OperationResult | LoyaltyError]:
    """Each programme redeems its command, all released together by a barrier (one thread each); what each
    returned, or the LoyaltyError it raised, in the commands' order."""

    barrier = threading.Barrier(len(commands))

    def redeem(n: int) -> OperationResult | LoyaltyError:
        barrier.wait()
        try:
            return programs[n].redeem(commands[n])
        except LoyaltyError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(redeem, range(len(commands))))
