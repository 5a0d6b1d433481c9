"""A programme on a given ledger port, with the repository's chart (optionally varied)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import Money
from loyalty_accounts.ports import LedgerPort
from loyalty_accounts.program import LoyaltyProgram

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def chart_with(**policies: Any) -> Chart:
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"].update(policies)
    return Chart.from_yaml(yaml.safe_dump(data), source="variant.yaml")


def programme(ledger: LedgerPort, **policies: Any) -> LoyaltyProgram:
    program = LoyaltyProgram(ledger, chart_with(**policies), Catalogue(ROOT / "numscript"))
    program.init()
    return program


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def days(n: int) -> timedelta:
    return timedelta(days=n)
