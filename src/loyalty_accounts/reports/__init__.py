"""Finance reports read from the ledger: liability, roll-forward, breakage, reconciliation, statements, the GL journal,
partner settlement.

Every figure here comes from the ledger's own aggregation (aggregate balances
and volumes, at a point in time or over a window); nothing is replayed in
Python. One module per statement (:mod:`.liability`, :mod:`.roll_forward`,
:mod:`.breakage`, :mod:`.reconcile`, :mod:`.statement`, :mod:`.partner_statement`), each with two layers:

- a pure function (``liability_statement``, ``roll_forward``,
  ``breakage_report``, the ``check_*`` functions, ``customer_statement``,
  ``partner_statement``)
  that turns fetched numbers into a frozen report value with ``int`` points
  and exact ``Decimal`` money;
- its fetch (``read_*``), which does the reads through a
  :class:`~loyalty_accounts.ports.LedgerPort` and calls it.

:class:`FinanceReports` is the service over them. How a report is shown
(rows, columns, JSON) is the command line's business
(:mod:`loyalty_accounts.cli.views`).

Instants and windows
    An *as-of* instant ``T`` means "every transaction whose effective date
    (its timestamp) is at or before ``T``", whenever it was posted: balances
    and account positions are read with ``pit=T``, which the port answers
    effective at ``T`` (a back-dated earn posted later is in a report as of
    a day after its date).
    A window ``(T1, T2]`` holds the transactions after ``T1`` up to and
    including ``T2``; volumes are read with ``startTime = T1 + 1µs`` and
    ``endTime = T2``, which the v2.4.12 server applies inclusively at both
    ends, at the database's microsecond precision. Opening (pit ``T1``),
    flows (the window) and closing (pit ``T2``) therefore partition the
    history exactly. Reports without an as-of use the current instant, so
    all the reads of one report see the same cut.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..chart import Chart
from ..ports import LedgerPort
from ..rules import Rules
from ..vocabulary.personal_data import PersonalDataPort
from ..operations.revenue_estimate import RevenueEstimate
from ..services.executor import CLOCK_SKEW, Progress
from .breakage import (
    DEFAULT_RATE_COHORTS,
    BreakageReport,
    CohortRow,
    breakage_method,
    breakage_report,
    closed_cohorts,
    cohort_of,
    read_breakage,
)
from .check import Check
from .common import Clock, money_value, utc_now
from .journal import Journal, JournalEntry, JournalLine, read_journal
from .journal_text import JOURNAL_FORMATS, render_journal
from .liability import (
    AccountBalance,
    LiabilityLine,
    LiabilityStatement,
    liability_statement,
    read_liability,
)
from .invariants import (
    BalanceRange,
    balance_ranges,
    check_clawback_never_positive,
    check_liability_ties,
    check_never_negative,
)
from .limits import check_campaign_caps, check_engagement_limits, check_order_refunds, check_refunds_after_orders
from .log_chain import check_log_chain, read_log_chain
from .partner_statement import (
    DirectionTotals,
    PartnerStatement,
    SettledExchange,
    SettlementLine,
    partner_statement,
    read_partner_statement,
)
from .pack import ReportPack, read_pack, render_pack
from .pool import PartnerPoolFigures, PoolMemberPosition, PoolPosition, read_pool_position
from .periods import check_closed_periods, check_future_dated
from .reconcile import (
    Reconciliation,
    check_expired_holds,
    check_negative_balances,
    check_overdue_expiry,
    check_overdue_pending,
    check_roll_forward,
    check_transaction_metadata,
    check_trial_balance,
    read_reconciliation,
)
from .programme import ProgrammeReport, programme_report, read_programme
from .revenue import PoolState, RevenueCatchUp, RevenueSchedule, Sale, SaleRefund, UnpricedSale, revenue_schedule
from .revenue_pool import Movement, replay
from .revenue_read import movement_of, read_estimates, read_movements, read_pool, read_revenue
from .reverts import REVERT_METADATA_KEY, revert_targets
from .roll_forward import RollForward, RollForwardLine, read_roll_forward, roll_forward
from .statement import (
    DEFAULT_HORIZON_DAYS,
    CustomerStatement,
    ExpiringPoints,
    StatementLine,
    customer_statement,
    read_statement,
)

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_RATE_COHORTS",
    "REVERT_METADATA_KEY",
    "AccountBalance",
    "LiabilityLine",
    "LiabilityStatement",
    "RollForwardLine",
    "RollForward",
    "CohortRow",
    "BreakageReport",
    "Check",
    "Reconciliation",
    "StatementLine",
    "ExpiringPoints",
    "CustomerStatement",
    "DirectionTotals",
    "FinanceReports",
    "PartnerStatement",
    "SettledExchange",
    "SettlementLine",
    "JOURNAL_FORMATS",
    "Journal",
    "JournalEntry",
    "JournalLine",
    "render_journal",
    "RevenueSchedule",
    "RevenueCatchUp",
    "PoolState",
    "Sale",
    "SaleRefund",
    "UnpricedSale",
    "Movement",
    "replay",
    "revenue_schedule",
    "read_revenue",
    "read_estimates",
    "read_pool",
    "read_movements",
    "movement_of",
    "ReportPack",
    "ProgrammeReport",
    "programme_report",
    "render_pack",
    "money_value",
    "cohort_of",
    "closed_cohorts",
    "liability_statement",
    "roll_forward",
    "breakage_report",
    "breakage_method",
    "revert_targets",
    "check_trial_balance",
    "check_roll_forward",
    "check_negative_balances",
    "check_expired_holds",
    "check_overdue_expiry",
    "check_overdue_pending",
    "check_transaction_metadata",
    "check_log_chain",
    "read_log_chain",
    "BalanceRange",
    "balance_ranges",
    "check_never_negative",
    "check_clawback_never_positive",
    "check_liability_ties",
    "check_engagement_limits",
    "check_campaign_caps",
    "check_order_refunds",
    "check_refunds_after_orders",
    "check_closed_periods",
    "check_future_dated",
    "customer_statement",
    "partner_statement",
    "PartnerPoolFigures",
    "PoolMemberPosition",
    "PoolPosition",
    "read_pool_position",
]


class FinanceReports:
    """The reports, read through a :class:`LedgerPort` by each statement's fetch."""

    def __init__(
        self,
        ledger: LedgerPort,
        chart: Chart,
        *,
        clock: Clock = utc_now,
        rules: Rules | None = None,
        clock_skew: timedelta = CLOCK_SKEW,
        personal_data: PersonalDataPort | None = None,
    ) -> None:
        self.ledger = ledger
        self.chart = chart
        self.personal_data = personal_data
        """The member registry's screen reconcile's ``personal_data`` check uses (None: patterns only)."""
        self.rules = rules
        """The programme's rules: the limits reconcile holds the history to (None: those checks are not verified)."""
        self.clock_skew = clock_skew
        """How far after its insertion a transaction may be dated (what the executor allows a command)."""
        self._clock = clock

    def liability(self, as_of: datetime | None = None) -> LiabilityStatement:
        """Outstanding points by state at ``as_of`` (default: now), read at that point in time."""

        return read_liability(self.ledger, self.chart, as_of, clock=self._clock)

    def activity(self, start: datetime | None, end: datetime | None = None) -> RollForward:
        """Roll-forward over ``(start, end]``; ``start=None`` means from the first transaction."""

        return read_roll_forward(self.ledger, self.chart, start, end, clock=self._clock)

    def breakage(
        self, start: datetime | None = None, end: datetime | None = None, *, rate_cohorts: int = DEFAULT_RATE_COHORTS
    ) -> BreakageReport:
        """Realised breakage over ``(start, end]`` and the cohort estimate as of ``end`` (default: now)."""

        return read_breakage(self.ledger, self.chart, start, end, rate_cohorts=rate_cohorts, clock=self._clock)

    def journal(self, start: datetime, end: datetime) -> Journal:
        """The general-ledger entries of ``(start, end]`` with opening balances and period-end balances.

        Money in the chart's currency, exact (see :mod:`.journal`); InvalidCommand when the chart has no
        ``general_ledger`` section, the window is empty or a ledger account has no GL account.
        """

        return read_journal(self.ledger, self.chart, start, end)

    def revenue(self, start: datetime | None, end: datetime | None = None) -> RevenueSchedule:
        """The IFRS 15 / ASC 606 revenue schedule over ``(start, end]``: the points' contract liability rolled forward in money.

        See :mod:`.revenue`. Orders placed with no revenue estimate in force or no exchange rate for
        their currency are listed in its ``unpriced`` (record one with ``loyalty estimate record``).
        """

        return read_revenue(self.ledger, self.chart, start, end, clock=self._clock)

    def estimates(self) -> list[RevenueEstimate]:
        """Every revenue estimate recorded on the ledger, in effective order."""

        return read_estimates(self.ledger)

    def pack(
        self, as_of: datetime, start: datetime | None = None, *, progress: Progress | None = None
    ) -> ReportPack:
        """The report pack of ``(start, as_of]`` (``start`` default: twelve months before ``as_of``).

        Its files are :func:`render_pack`'s (``pack.html`` and one CSV per table); see
        :mod:`.pack`. ``progress(done, total)`` is called after each step of its reads.
        InvalidCommand for a period that does not start before ``as_of`` or spans more than
        120 months; OperationRefused when writes kept landing while it was read.
        """

        return read_pack(
            self.ledger, self.chart, as_of, start, rules=self.rules, clock=self._clock, clock_skew=self.clock_skew, progress=progress
        )

    def programme(self, start: datetime | None, end: datetime | None = None) -> ProgrammeReport:
        """Programme analytics over ``(start, end]`` (``end`` default: now): active members, daily flows,
        redemption by reward type, tiers, partners, expiring-soon points and anomaly flags (see :mod:`.programme`).

        InvalidCommand without a start or for a window that does not start before it ends.
        """

        return read_programme(self.ledger, self.chart, self.rules, start, end, clock=self._clock)

    def reconcile(self, as_of: datetime | None = None, *, full_log_check: bool = False) -> Reconciliation:
        """Every reconciliation check as of ``as_of`` (default: now).

        The log chain is checked from the checkpoint a previous pass left in
        the ledger's metadata on, unless ``full_log_check`` (then every log).
        """

        return read_reconciliation(
            self.ledger,
            self.chart,
            as_of,
            clock=self._clock,
            rules=self.rules,
            clock_skew=self.clock_skew,
            full_log_check=full_log_check,
            personal_data=self.personal_data,
        )

    def statement(
        self,
        customer: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
    ) -> CustomerStatement:
        """A customer's statement over ``(start, end]`` (default: from the beginning to now)."""

        return read_statement(self.ledger, self.chart, customer, start, end, horizon_days=horizon_days, clock=self._clock)

    def partner_statement(self, partner: str, start: datetime | None = None, end: datetime | None = None) -> PartnerStatement:
        """The settlement with ``partner`` over ``(start, end]`` (default: from the beginning to now).

        Opening and closing balances of its settlement account, each exchange out and in with its exact
        and settled amounts and the rounding, other movements of the account, the tie to the ledger's
        balance at ``end`` and the net payable or receivable (see :mod:`.partner_statement`).
        InvalidCommand for an undeclared partner (nothing is read) or a window that does not start
        before it ends.
        """

        return read_partner_statement(self.ledger, self.chart, partner, start, end, clock=self._clock)

    def pool(self, pool: str, as_of: datetime | None = None) -> PoolPosition:
        """Each member partner's contributions, funds, draws and payment in ``pool`` at ``as_of`` (default: now),
        read from the pool's accounts (see :mod:`.pool`). InvalidCommand for an undeclared pool (nothing is read)."""

        return read_pool_position(self.ledger, self.chart, pool, as_of, clock=self._clock)
