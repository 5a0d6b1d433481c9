"""The journal on the real Formance Ledger: the demo year (earns, releases, redemptions, a captured and a
voided hold, expiry, a partner exchange each way, a conversion, a refund) written as beancount and
hledger, checked by ``bean-check`` and ``hledger check``, its period-end contract liability equal to
``FinanceReports.liability`` at the same instant, to the cent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from support.gl_tools import bean_check, hledger_check
from support.programme import programme

from loyalty_accounts.demo import run_demo
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.reports import FinanceReports, render_journal

pytestmark = pytest.mark.integration

CONTRACT = ("Liabilities:Loyalty:ContractLiability:Current", "Liabilities:Loyalty:ContractLiability:NonCurrent")


def test_the_demo_year_journal_passes_both_checkers_and_ties_to_the_liability(client: LedgerClient, tmp_path: Path) -> None:
    program = programme(client)
    run_demo(program)
    stamps = sorted(tx.timestamp for tx in client.transactions())
    reports = FinanceReports(client, program.chart, rules=program.rules)
    begin = stamps[0] - timedelta(days=1)
    now = max(stamps[-1], datetime.now(timezone.utc))  # the void is dated when it was made
    middle = stamps[len(stamps) // 2]
    operations = set()
    for start, end in ((begin, now), (begin, middle), (middle, now)):
        journal = reports.journal(start, end)
        operations |= {entry.operation for entry in journal.entries}
        beancount, hledger = tmp_path / "year.beancount", tmp_path / "year.journal"
        beancount.write_text(render_journal(journal, "beancount"))
        hledger.write_text(render_journal(journal, "hledger"))
        checked = bean_check(beancount), hledger_check(hledger)
        assert [c.returncode for c in checked] == [0, 0], [c.stdout + c.stderr for c in checked]
        contract = sum((line.amount for line in journal.closing if line.account in CONTRACT), Decimal(0))
        assert contract == -reports.liability(end).total_value
        assert all(journal.balance(line.account) == line.amount for line in journal.closing)
        assert render_journal(reports.journal(start, end), "beancount") == beancount.read_text()
    assert {"earn", "redeem", "capture", "expire", "exchange_out", "exchange_in", "convert", "refund"} <= operations  # a hold, a void and a release net to nothing: one contract liability
