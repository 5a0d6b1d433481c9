"""Command-line tests over a given ledger port: a root app holding some commands, and the demo year on the in-memory ledger."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import typer
from support.fake_ledger import FakeLedger
from support.programme import programme
from support.report_books import ROOT

from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.demo import run_demo


def app_over(
    port: Any, commands: Mapping[str, Callable[..., None]], groups: Mapping[str, typer.Typer] | None = None
) -> typer.Typer:
    """A root app with ``commands`` and sub-apps ``groups`` by name, every one reading ``port`` with the repository's chart."""

    root = typer.Typer()

    @root.callback()
    def _options(ctx: typer.Context) -> None:
        ctx.obj = AppContext(None, None, ROOT / "chart_of_accounts.yaml", None, _client=port)

    for name, command in commands.items():
        root.command(name)(command)
    for name, group in (groups or {}).items():
        root.add_typer(group, name=name)
    return root


def demo_ledger() -> FakeLedger:
    """The in-memory ledger after ``loyalty demo``'s year."""

    ledger = FakeLedger()
    run_demo(programme(ledger))
    return ledger
