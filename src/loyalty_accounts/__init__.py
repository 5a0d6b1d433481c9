"""loyalty-accounts: a loyalty-points programme kept as double-entry accounting on a Formance Ledger.

The public Python API is what ``__all__`` lists; everything else may move.
Start with :func:`create_app`, which reads the settings (environment, then an
optional ``loyalty.toml``) and wires the ledger client, chart, rules and
services::

    from datetime import datetime, timezone
    from decimal import Decimal

    from loyalty_accounts import EarnCommand, Money, create_app

    with create_app(ledger_url="http://127.0.0.1:3068") as app:
        app.program.init()
        app.program.earn(
            EarnCommand(
                customer="alice",
                order_id="A-1",
                amount=Money(amount=Decimal("12.50"), currency="USD"),
                ordered_at=datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc),
            )
        )
        print(app.reports.liability().total_points)

Every value of a command is part of what it is: run with the same values it is
a replay (answered with the original transaction), which is how a caller
learns the outcome after :class:`OutcomeUnknown`. A clock value such as
``datetime.now()`` would make each run a different command under the same
order id (:class:`DuplicateOperation`).
"""

from __future__ import annotations

from .app import App, create_app
from .chart import Chart, load_chart
from .errors import (
    ChartError,
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerBuildRefused,
    LedgerRejected,
    LedgerServerNotFound,
    LedgerUnavailable,
    LocalServerError,
    LoyaltyError,
    MemberDataUnreadable,
    OperationRefused,
    OutcomeUnknown,
    RegistryKeyMismatch,
    RegistryUnavailable,
    UnknownEntity,
)
from .ledger import LedgerClient, LedgerConnection
from .operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    ExpireCommand,
    HoldCommand,
    OpenCounterCommand,
    RedeemCommand,
    RefundCommand,
    ReleaseCommand,
    TransferCommand,
)
from .program import LoyaltyProgram
from .reports import FinanceReports
from .rules import Rules, load_rules
from .settings import Settings, load_settings
from .version import __version__
from .vocabulary.amounts import Money

__all__ = [
    # wiring
    "App",
    "create_app",
    "Settings",
    "load_settings",
    # the services
    "LoyaltyProgram",
    "FinanceReports",
    # commands
    "EarnCommand",
    "EngageCommand",
    "OpenCounterCommand",
    "ReleaseCommand",
    "HoldCommand",
    "CaptureCommand",
    "RedeemCommand",
    "ExpireCommand",
    "TransferCommand",
    "ExchangeOutCommand",
    "ExchangeInCommand",
    "ConvertCommand",
    "RefundCommand",
    "AdjustCommand",
    # values and documents
    "Money",
    "Chart",
    "load_chart",
    "Rules",
    "load_rules",
    # the ledger adapter
    "LedgerClient",
    "LedgerConnection",
    # errors
    "LoyaltyError",
    "InvalidCommand",
    "ChartError",
    "InsufficientPoints",
    "UnknownEntity",
    "DuplicateOperation",
    "OperationRefused",
    "LedgerRejected",
    "LedgerUnavailable",
    "OutcomeUnknown",
    "LocalServerError",
    "LedgerServerNotFound",
    "LedgerBuildRefused",
    "RegistryUnavailable",
    "RegistryKeyMismatch",
    "MemberDataUnreadable",
]
