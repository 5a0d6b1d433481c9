"""The loyalty programme as a service over a Formance ledger: one facade over the services.

:class:`LoyaltyProgram` is what the CLI, the demo, the reports' tests and
callers use. Each method hands over to the service of its family
(:mod:`loyalty_accounts.services`): earning, spending, refunds, sweeps,
tiers, accounts. They share one executor (:mod:`loyalty_accounts.services.executor`),
which runs any operation of the registry (:mod:`loyalty_accounts.operations`)
read → plan → post → re-plan, exactly once; nothing is kept on the Python
side: the ledger is the only book.

A command is checked when it is made; a bare identifier (customer id, hold id,
order id) is checked by the service before anything is read, so an empty or
malformed one is :class:`~loyalty_accounts.errors.InvalidCommand` (exit 2)
and reads or posts nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from .chart import Chart
from .numscript import Catalogue
from .operations import (
    AdjustCommand,
    CaptureCommand,
    Command,
    ConvertCommand,
    EarnCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from .ports import LedgerPort
from .rules import EarnBreakdown, Rules, TierStatus, check_against_chart
from .services.accounts import AccountService, CustomerBalance
from .operations.restock import RestockCommand
from .services.catalogue import CatalogueLine, CatalogueService
from .services.earning import EarnExplanation, EarningService
from .services.executor import CLOCK_SKEW, Clock, Executor, Progress, system_clock
from .services.imports import ImportService, ImportSummary
from .services.order_file import FileFormat
from .services.periods import PeriodClose, PeriodService
from .services.refunds import RefundService
from .services.results import BatchResult, OperationResult
from .services.spending import SpendingService
from .services.sweeps import SweepService
from .services.tiers import TierService
from .types import AccountState, PostedTransaction
from .vocabulary.personal_data import PersonalDataPort


class LoyaltyProgram:
    """The programme's operations and reads over one ledger.

    ``rules`` price earns and engagement and define tiers; a programme
    without them can still do everything else (spend, refund, report) but
    refuses to earn, award or rank, since the chart prices nothing.
    """

    def __init__(
        self,
        ledger: LedgerPort,
        chart: Chart,
        catalogue: Catalogue | None = None,
        *,
        rules: Rules | None = None,
        clock: Clock = system_clock,
        clock_skew: timedelta = CLOCK_SKEW,
        ledger_bucket: str | None = None,
        personal_data: PersonalDataPort | None = None,
    ) -> None:
        """``ledger_bucket``: the bucket :meth:`init` creates the ledger in (None: the server's default bucket);
        ``personal_data``: the member registry's check of what a plan writes (None: the patterns only)."""
        if rules is not None:
            check_against_chart(rules, chart)
        self.ledger = ledger
        self.chart = chart
        self.catalogue = catalogue or Catalogue()
        self.rules = rules
        self.executor = Executor(
            ledger, chart, self.catalogue, rules, clock=clock, clock_skew=clock_skew, personal_data=personal_data
        )
        self.schema_version = self.executor.schema_version
        self._accounts = AccountService(self.executor, bucket=ledger_bucket)
        self._earning = EarningService(self.executor)
        self._spending = SpendingService(self.executor)
        self._refunds = RefundService(self.executor)
        self._sweeps = SweepService(self.executor, self._spending)
        self._tiers = TierService(self.executor)
        self._periods = PeriodService(self.executor)
        self._imports = ImportService(self.executor)
        self._catalogue = CatalogueService(self.executor)

    # -- set-up ---------------------------------------------------------------

    def init(self) -> dict[str, object]:
        """Create the ledger and apply the chart as its schema; repeating it changes nothing."""

        return self._accounts.init()

    # -- operations (see the services for what each does) ---------------------

    def execute(self, command: Command) -> OperationResult:
        """Run any registered operation's command exactly once (the generic answer, without a family's extras)."""

        return self.executor.run(command)

    def earn(self, command: EarnCommand) -> OperationResult:
        """Price the order with the rules at its own instant and post its points and qualifying points."""

        return self._earning.earn(command)

    def import_orders(
        self,
        source: Path,
        *,
        skip_invalid: bool = False,
        chunk_size: int | None = None,
        progress: Progress | None = None,
        file_format: FileFormat | None = None,
    ) -> ImportSummary:
        """Earn every order of a CSV or JSON Lines file, each exactly as :meth:`earn` would, posted in bulk.

        Every row is validated first: with any invalid row nothing is posted
        (the summary lists each with its line number) unless ``skip_invalid``.
        ``chunk_size`` orders (1-100, default 100) go in one bulk request;
        ``progress(done, total)`` is called after each. Running the same file
        again posts nothing new; a run stopped halfway posts the rest. See
        :mod:`loyalty_accounts.services.imports`.
        """

        return self._imports.import_orders(
            source, skip_invalid=skip_invalid, chunk_size=chunk_size, progress=progress, file_format=file_format
        )

    def quote(self, command: EarnCommand) -> EarnBreakdown:
        """What the order would earn if posted now; posts nothing."""

        return self._earning.quote(command)

    def engage(self, customer: str, event: str, key: str, at: datetime) -> OperationResult:
        """Award an engagement event's points, once per ``key``, within the rules' limits."""

        return self._earning.engage(customer, event, key, at)

    def hold(self, command: HoldCommand) -> OperationResult:
        return self._spending.hold(command)

    def capture(self, command: CaptureCommand) -> OperationResult:
        return self._spending.capture(command)

    def void(self, customer: str, hold_id: str) -> OperationResult:
        """Revert the hold: every point goes back to the bucket it came from."""

        return self._spending.void(customer, hold_id)

    def void_lapsed(self, as_of: datetime, *, progress: Progress | None = None) -> BatchResult:
        """Void every hold whose TTL has passed by ``as_of`` and that is neither captured nor voided now."""

        return self._sweeps.void_lapsed(as_of, progress=progress)

    def redeem(self, command: RedeemCommand) -> OperationResult:
        return self._spending.redeem(command)

    def transfer(self, command: TransferCommand) -> OperationResult:
        return self._spending.transfer(command)

    def exchange_out(self, command: ExchangeOutCommand) -> OperationResult:
        return self._spending.exchange_out(command)

    def exchange_in(self, command: ExchangeInCommand) -> OperationResult:
        return self._spending.exchange_in(command)

    def convert(self, command: ConvertCommand) -> OperationResult:
        return self._spending.convert(command)

    def adjust(self, command: AdjustCommand) -> OperationResult:
        return self._spending.adjust(command)

    def refund(self, command: RefundCommand) -> OperationResult:
        """Reverse the order's points in proportion to the refunded amount."""

        return self._refunds.refund(command)

    def release(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Move pending points whose release date has come into their buckets."""

        return self._sweeps.release(as_of, customer=customer, progress=progress)

    def expire(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Drain every bucket whose expiry date has come into the expired account."""

        return self._sweeps.expire(as_of, customer=customer, progress=progress)

    def catch_up_usage(
        self, as_of: datetime | None = None, *, customer: str | None = None, progress: Progress | None = None
    ) -> BatchResult:
        """Credit capped campaigns' usage accounts with what earns posted before them charged (dated ``as_of``,
        default now): run once after upgrading a ledger to a chart with usage accounts; a second run posts nothing."""

        return self._sweeps.catch_up_usage(as_of or self.executor.clock(), customer=customer, progress=progress)

    # -- reads ----------------------------------------------------------------

    # -- periods -------------------------------------------------------------

    def close_period(self, through: datetime) -> OperationResult:
        """Close the books through ``through``: afterwards nothing dated at or before it can be posted.

        Recorded on the ledger (a ``period_close`` transaction moving the
        closed-period mark every post checks). InvalidCommand when
        ``through`` is not in the past; OperationRefused when the books are
        already closed through it or later; the same close again is a replay.
        """

        return self._periods.close(through)

    def closed_through(self) -> datetime | None:
        """The instant the books are closed through; None when nothing is closed."""

        return self._periods.closed_through()

    def period_closes(self) -> list[PeriodClose]:
        """Every close recorded on the ledger, oldest first."""

        return self._periods.closes()

    def tier(self, customer: str, as_of: datetime) -> TierStatus:
        """The customer's tier at ``as_of``: from qualifying points earned inside the window, as of then."""

        return self._tiers.tier(customer, as_of)

    def qualification_days(self, as_of: datetime) -> tuple[date | None, datetime]:
        """First programme day whose orders count for the tier at ``as_of`` (None: lifetime), and ``as_of``."""

        return self._tiers.qualification_days(as_of)

    def qualifying_points(self, customer: str, as_of: datetime) -> int:
        """Qualifying points (earned from orders, net of refunds) inside the window at ``as_of``, as of then."""

        return self._tiers.qualifying_points(customer, as_of)

    def explain(self, order_id: str) -> EarnExplanation:
        """The breakdown an order's earn recorded, with the points its postings moved."""

        return self._earning.explain(order_id)

    def balance(self, customer: str, *, pit: datetime | None = None) -> CustomerBalance:
        """The customer's position effective at ``pit`` (default: now, every posted transaction)."""

        return self._accounts.balance(customer, pit=pit)

    def history(self, customer: str) -> list[PostedTransaction]:
        """Every transaction touching the customer's accounts, oldest (first posted) first, whatever its date."""

        return self._accounts.history(customer)

    def programme_accounts(self) -> list[AccountState]:
        """Current balances of the programme's and partners' accounts (the other side of every customer)."""

        return self._accounts.programme_accounts()

    # -- the reward catalogue ---------------------------------------------------

    def rewards(self) -> list[CatalogueLine]:
        """The rules' rewards with their prices, the physical ones with their stock read from the ledger."""

        return self._catalogue.rewards()

    def reward(self, sku: str) -> CatalogueLine:
        """One catalogue reward with its stock; InvalidCommand for an unknown SKU."""

        return self._catalogue.reward(sku)

    def restock(self, command: RestockCommand) -> OperationResult:
        """Receive units of a physical reward into its stock on the ledger, exactly once per restock id."""

        return self._catalogue.restock(command)


__all__ = ["LoyaltyProgram"]
