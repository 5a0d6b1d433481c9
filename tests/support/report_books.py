"""The finance-report unit tests' shared material: the scripted history on the in-memory ledger, and hand-made inputs.

The history (UTC), built from the operations' own plans and run by
``FakeLedger`` in the real Numscript interpreter; chart: the repository's
(USD rate 1, expiry 365 days, pending 14 days, claw_back, UTC,
1 PTS = 0.01 USD, hold TTL 30 minutes)::

    2025-01-10 12:00  earn c1 o-1 100.00 USD  → pending 20250124:20260110  100
    2025-01-20 09:00  earn c2 o-2  50.00 USD  → pending 20250203:20260120   50
    2025-01-25 02:00  release c1               → bucket 20260110           100
    2025-02-01 10:00  redeem c1 r-1 30                                     (70 left)
    2025-02-04 02:00  release c2               → bucket 20260120            50
    2026-01-21 03:00  expire c1 (70), expire c2 (50)           expired 120
    2026-02-01 10:00  earn c4 o-6  30.00 USD  → pending 20260215:20270201   30
    2026-02-16 02:00  release c4; 2026-02-20 redeem c4 r-2 30              (0 left)
    2026-03-01 10:00  earn c1 o-3 200.00 USD  → pending 20260315:20270301  200
    2026-03-02 10:00  refund c4 o-6 rf-1 30.00 → clawback -30 (claw_back)
    2026-03-16 02:00  release c1               → bucket 20270301           200
    2026-03-20 10:00  hold c1 h-1 60 (lapses 10:30)                        (140 left)
    ---- "clean" history ends here, with h-1 voided at 10:05 ----
    2026-04-01 10:00  earn c3 o-4  80.00 USD  → pending 20260415:20270401   80, never released
    2026-04-05 10:00  earn c2 o-5  40.00 USD, refunded in full on 04-06 (rf-2)
    2026-04-10 10:00  manual posting world → customers:c5:points:noexpiry   10

The fixtures (``chart``, ``catalogue``, ``full``, ``clean``) are imported by
tests/unit/reports/conftest.py and by the report command-line tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.reports import (
    BreakageReport,
    FinanceReports,
    LiabilityStatement,
    RollForward,
    breakage_report,
    liability_statement,
    roll_forward,
)
from loyalty_accounts.types import (
    AccountState,
    PostedTransaction,
    Posting,
    Volume,
    VolumeRow,
)
from support.fake_ledger import FakeLedger
from support.finance_books import Books, at, history_to_first_hold

ROOT = Path(__file__).resolve().parents[2]

AS_OF = at("2026-05-01T00:00:00")


@pytest.fixture(scope="module")
def chart() -> Chart:
    return load_chart(ROOT / "chart_of_accounts.yaml")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(ROOT / "numscript")


class FakeBooks(Books):
    """The shared books on the in-memory ledger, whose clock (it stamps reverts) the test sets."""

    def __init__(self, chart: Chart, catalogue: Catalogue) -> None:
        self.now = [at("2026-04-20T00:00:00")]
        self.fake = FakeLedger(clock=lambda: self.now[0])
        super().__init__(self.fake, chart, catalogue)

    def void_at(self, held: PostedTransaction, when: str) -> PostedTransaction:
        self.now[0] = at(when)
        return self.void(held)

    def raw(self, postings: tuple[Posting, ...], when: str, metadata: dict[str, str] | None = None) -> PostedTransaction:
        """A transaction written by another client, with whatever metadata it chose (none by default)."""

        return self.fake._record(postings, at(when), metadata or {}, None)


def clean_history(books: Books) -> dict[str, PostedTransaction]:
    """The scripted history up to the hold h-1 (every check passes once it is voided)."""

    return history_to_first_hold(books)


def full_history(books: Books) -> dict[str, PostedTransaction]:
    """The whole scripted history: h-1 left open, c3 never released, a manual posting."""

    b = books
    txs = clean_history(books)
    b.earn("c3", "o-4", "80.00", "2026-04-01T10:00:00")
    b.earn("c2", "o-5", "40.00", "2026-04-05T10:00:00")
    b.refund("c2", "o-5", "rf-2", "40.00", "2026-04-06T10:00:00")
    txs["manual"] = b.manual("world", "customers:c5:points:noexpiry", 10, "2026-04-10T10:00:00")
    return txs


@pytest.fixture(scope="module")
def full(chart: Chart, catalogue: Catalogue) -> FakeBooks:
    books = FakeBooks(chart, catalogue)
    full_history(books)
    return books


@pytest.fixture
def clean(chart: Chart, catalogue: Catalogue) -> tuple[FakeBooks, dict[str, PostedTransaction]]:
    books = FakeBooks(chart, catalogue)
    txs = clean_history(books)
    books.void_at(txs["h-1"], "2026-03-20T10:05:00")
    return books, txs


def reports(books: Books) -> FinanceReports:
    return FinanceReports(books.ledger, books.chart, clock=lambda: AS_OF)


# --------------------------------------------------------------------------
# Hand-made inputs for the pure functions


def acct(address: str, balance: int, asset: str = "PTS") -> AccountState:
    volume = Volume(input=max(balance, 0), output=max(-balance, 0))
    return AccountState(address=address, volumes={asset: volume})


def vrow(account: str, inp: int, out: int, asset: str = "PTS") -> VolumeRow:
    return VolumeRow(account=account, asset=asset, input=inp, output=out, balance=inp - out)


def tx(tx_id: int, postings: list[tuple[str, str, int]], metadata: dict[str, str] | None = None, *, reverted: bool = False) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=AS_OF,
        postings=tuple(Posting(source=s, destination=d, amount=a, asset="PTS") for s, d, a in postings),
        metadata=metadata or {},
        reverted=reverted,
    )


HOLD_META = {
    "operation": "hold",
    "template": "hold",
    "command_hash": "h",
    "customer": "c1",
    "hold_id": "h-1",
    "points": "60",
    "expires_at": "2026-03-20T10:30:00Z",
}


def liability_with_negative_balances(chart: Chart) -> LiabilityStatement:
    """Customer accounts of every state, some below zero, with store credit and an undeclared account."""

    accounts = [
        acct("customers:a:points:20270101", 100),
        acct("customers:a:points:20270201", -20),  # forced revert: below zero
        acct("customers:b:pending:20260115:20270101", 40),
        acct("customers:b:holds:h1", 5),
        acct("customers:c:clawback", -30),
        acct("customers:d:credit", 500, "USD/2"),  # store credit, not points
        acct("customers:e:mystery", 7),  # not a points account of the chart
    ]
    by_kind = {"customer_points": 80, "customer_pending": 40, "customer_hold": 5, "customer_clawback": -30}
    return liability_statement(as_of=AS_OF, chart=chart, by_kind=by_kind, ledger_total=102, accounts=accounts)


def worked_roll_forward(chart: Chart) -> RollForward:
    """The worked example of the roll-forward module's docstring (10 points in from ``world``)."""

    accounts = [
        vrow("program:points:issued:3", 40, 200),
        vrow("program:points:issued:5", 30, 150),
        vrow("program:points:redeemed", 30, 0),
        vrow("program:points:expired", 120, 0),
        vrow("program:credit:issued", 0, 500, "USD/2"),
    ]
    roots = [vrow("customers", 500, 310), vrow("program", 220, 350), vrow("world", 0, 10), vrow("world", 0, 500, "USD/2")]
    return roll_forward(
        start=at("2026-01-01T00:00:00"), end=AS_OF, chart=chart, opening=120, closing=260, accounts=accounts, roots=roots
    )


def breakage_without_closed_cohorts(chart: Chart) -> BreakageReport:
    """Breakage as of 2026-01-15 on a programme whose only points were earned in March 2026."""

    return breakage_report(
        start=None,
        end=at("2026-01-15T00:00:00"),
        chart=chart,
        realised=0,
        positions=[acct("customers:a:points:20270301", 140)],
        expired_by_expiry={},
        issued_by_cohort={},
    )


__all__ = [
    "AS_OF",
    "HOLD_META",
    "ROOT",
    "FakeBooks",
    "acct",
    "breakage_without_closed_cohorts",
    "catalogue",
    "chart",
    "clean",
    "clean_history",
    "full",
    "full_history",
    "liability_with_negative_balances",
    "reports",
    "tx",
    "vrow",
    "worked_roll_forward",
]
