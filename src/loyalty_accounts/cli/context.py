"""What every CLI command needs: which ledger, which chart and rules, how to print.

Global options are read once by the ``loyalty`` callback into an
:class:`AppContext`; commands ask it for the ledger client and the programme.
The ledger URL comes from ``--ledger-url``, then ``LOYALTY_LEDGER_URL``, then
the local stack started by ``loyalty ledger up``. The rules file comes from
``--rules``, then ``LOYALTY_RULES``, then the repository's ``rules.yaml``, and
is checked against the chart when loaded.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from ..chart import Chart, load_chart
from ..errors import InvalidCommand, LedgerUnavailable
from ..ledger import LedgerClient, LedgerConnection
from ..local import LocalStack
from ..numscript import Catalogue
from .output import Format

if TYPE_CHECKING:
    from ..program import LoyaltyProgram
    from ..rules import Rules


@dataclass
class AppContext:
    """The running command's options; the latest one made is :func:`current_app`."""

    ledger_url: str | None
    ledger_name: str | None
    chart_path: Path | None
    state_dir: Path | None
    rules_path: Path | None = None
    fmt: Format = Format.table
    _client: LedgerClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _CURRENT.set(self)

    @cached_property
    def chart(self) -> Chart:
        return load_chart(self.chart_path)

    @cached_property
    def rules(self) -> "Rules":
        from ..rules import load_rules

        return load_rules(self.rules_path, chart=self.chart)

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue()

    def connection(self) -> LedgerConnection:
        base = LedgerConnection.from_env(self.ledger_name)
        url = self.ledger_url or _env_url()
        if not url:
            status = LocalStack(self.state_dir).status()
            # A ledger process of the local stack that is alive but not answering (PostgreSQL
            # restarting, say) is still the one to talk to: the retry budget covers the restart.
            if not status.url or status.ledger_pid is None:
                raise LedgerUnavailable(
                    "no ledger to talk to: run `loyalty ledger up`, or set LOYALTY_LEDGER_URL / --ledger-url"
                )
            url = status.url
        try:
            return LedgerConnection.model_validate({**base.model_dump(), "url": url})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidCommand(f"--ledger-url / LOYALTY_LEDGER_URL: {reason}") from None

    def client(self) -> LedgerClient:
        if self._client is None:
            self._client = LedgerClient(self.connection())
        return self._client

    def program(self) -> "LoyaltyProgram":
        from ..program import LoyaltyProgram

        return LoyaltyProgram(self.client(), self.chart, self.catalogue, rules=self.rules)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _env_url() -> str | None:
    import os

    return os.environ.get("LOYALTY_LEDGER_URL") or None


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
