"""The ``loyalty`` command line: a thin shell over the services."""

from __future__ import annotations

import typer

from . import ledger

app = typer.Typer(
    help="A loyalty-points programme kept as double-entry accounting on a Formance Ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ledger.app, name="ledger")


def main() -> None:
    app()


__all__ = ["app", "main"]
