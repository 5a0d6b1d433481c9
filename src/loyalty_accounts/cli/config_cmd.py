"""``loyalty config show``: every setting, its value and where it came from."""

from __future__ import annotations

import typer

from ..settings import explain_settings
from .context import app_context
from .output import Format, emit_rows, formatted
from .shell import run_guarded

app = typer.Typer(help="The settings: command line, environment, loyalty.toml, defaults.", no_args_is_help=True)


@app.command("show")
@formatted
def show(ctx: typer.Context, *, fmt: Format) -> None:
    """List every setting with its value and its source (the option, the variable, the settings file or the
    default); secrets only say whether they are set."""

    given = app_context(ctx).given()
    rows = [row._asdict() for row in run_guarded(lambda: explain_settings(**given))]
    emit_rows(rows, fmt, columns=["setting", "value", "source", "variable"])
