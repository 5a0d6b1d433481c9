"""The package entry: its public API (``__all__``) and ``__version__``."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import loyalty_accounts

PUBLIC_API = [
    "App",
    "create_app",
    "Settings",
    "load_settings",
    "LoyaltyProgram",
    "FinanceReports",
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
    "Money",
    "Chart",
    "load_chart",
    "Rules",
    "load_rules",
    "LedgerClient",
    "LedgerConnection",
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


def test_the_public_api_is_pinned() -> None:
    # Changing this list changes what callers may rely on: do it on purpose.
    assert loyalty_accounts.__all__ == PUBLIC_API


def test_every_public_name_is_there_and_comes_from_the_package() -> None:
    for name in loyalty_accounts.__all__:
        value = getattr(loyalty_accounts, name)
        assert value.__module__.startswith("loyalty_accounts."), name


def test_the_package_imports_only_what_it_exports() -> None:
    own = {
        name
        for name, value in vars(loyalty_accounts).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("loyalty_accounts.")
    }
    assert own <= set(loyalty_accounts.__all__)


def test_the_version_is_the_installed_distribution_s() -> None:
    assert loyalty_accounts.__version__ == importlib.metadata.version("loyalty-accounts")


def test_importing_the_package_on_its_own_works_in_a_fresh_interpreter() -> None:
    # No import cycle: the package and a low module import cleanly, in either order.
    for first in ("loyalty_accounts.vocabulary.ids", "loyalty_accounts.cli"):
        script = f"import {first}; import loyalty_accounts; print(len(loyalty_accounts.__all__))"
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(len(PUBLIC_API))
