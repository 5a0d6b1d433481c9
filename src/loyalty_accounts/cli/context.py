"""What every CLI command needs: the programme the settings describe, and how to print.

Global options are read once by the ``loyalty`` callback into an
:class:`AppContext`; they override the settings (environment, then
``loyalty.toml``: see :mod:`loyalty_accounts.settings`), and
:class:`~loyalty_accounts.app.App` builds the rest. The ledger URL comes from
``--ledger-url``, then ``LOYALTY_LEDGER_URL`` / ``ledger_url``, then the local
stack started by ``loyalty ledger up``. The rules file comes from ``--rules``,
then ``LOYALTY_RULES`` / ``rules``, then the repository's ``rules.yaml``, and
is checked against the chart when loaded.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..app import App, LocalRegistry
from ..chart import Chart
from ..errors import LedgerUnavailable
from ..ledger import LedgerConnection
from ..local import LocalStack
from ..numscript import Catalogue
from ..ports import LedgerPort
from ..program import LoyaltyProgram
from ..reports import FinanceReports
from ..rules import Rules
from ..settings import Settings, load_settings
from .output import Format

if TYPE_CHECKING:
    from ..members import MemberRegistry


@dataclass
class AppContext:
    """The global options (None: not given, the settings decide) and the App built from them.

    The latest one made is :func:`current_app`."""

    ledger_url: str | None
    ledger_name: str | None
    chart_path: Path | None
    state_dir: Path | None
    rules_path: Path | None = None
    fmt: Format = Format.table
    _client: LedgerPort | None = field(default=None, repr=False)
    default_ledger: str | None = None
    """The ledger name when neither --ledger nor the settings give one (``loyalty demo``: ``demo``)."""

    def __post_init__(self) -> None:
        _CURRENT.set(self)

    def given(self) -> dict[str, object]:
        """The settings the global options give (None: not given), by field name."""

        return {
            "ledger_url": self.ledger_url,
            "ledger_name": self.ledger_name,
            "chart": self.chart_path,
            "state_dir": self.state_dir,
            "rules": self.rules_path,
        }

    @cached_property
    def settings(self) -> Settings:
        return load_settings(**self.given())  # type: ignore[arg-type]

    @cached_property
    def app(self) -> App:
        defaults = {"default_ledger": self.default_ledger} if self.default_ledger else {}
        return App(
            self.settings, ledger=self.client, find_ledger=self._local_ledger, find_registry=self._local_registry,
            local_registry_used=self._local_registry_used, **defaults
        )

    @property
    def chart(self) -> Chart:
        return self.app.chart

    @property
    def rules(self) -> Rules:
        return self.app.rules

    @property
    def catalogue(self) -> Catalogue:
        return self.app.catalogue

    def connection(self) -> LedgerConnection:
        return self.app.connection()

    def client(self) -> LedgerPort:
        """The ledger every command uses (tests replace this method with a fake)."""

        if self._client is None:
            self._client = self.app.client()
        return self._client

    def program(self) -> LoyaltyProgram:
        return self.app.program

    def reports(self) -> FinanceReports:
        return self.app.reports

    def members(self) -> MemberRegistry:
        """The member registry every ``member`` command uses (tests may replace this method)."""

        return self.app.members

    def close(self) -> None:
        if "app" in self.__dict__:
            self.app.close()

    def _local_ledger(self) -> str:
        """The URL of the ledger ``loyalty ledger up`` started, while its process lives."""

        status = LocalStack(self.settings.state_dir).status()
        # A ledger process of the local stack that is alive but not answering (PostgreSQL
        # restarting, say) is still the one to talk to: the retry budget covers the restart.
        if not status.url or status.ledger_pid is None:
            raise LedgerUnavailable("no ledger to talk to: run `loyalty ledger up`, or set LOYALTY_LEDGER_URL / --ledger-url")
        return status.url


    def _local_registry_used(self) -> bool:
        """Whether the local stack's member registry was ever used (its key file exists)."""

        return LocalStack(self.settings.state_dir).registry_key_file.exists()

    def _local_registry(self) -> LocalRegistry:
        """The member registry of the local stack: its database in the stack's PostgreSQL, its key file."""

        stack = LocalStack(self.settings.state_dir)
        return LocalRegistry(url=stack.registry_uri(), key_file=stack.registry_key_file)


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # a sub-app invoked on its own, e.g. in tests
        obj = AppContext(None, None, None, None)
        ctx.find_root().obj = obj
    return obj


_CURRENT: ContextVar[AppContext | None] = ContextVar("loyalty_app", default=None)


def current_app() -> AppContext | None:
    """The AppContext of the command running in this context (set when the ``loyalty`` callback made it)."""

    return _CURRENT.get()
