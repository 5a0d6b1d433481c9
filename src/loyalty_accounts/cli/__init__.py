"""The ``loyalty`` command line: a thin shell over the services.

Exit codes: 0 ok, 1 business rejection (insufficient points, duplicate key,
unknown customer...), 2 bad input or usage, 3 ledger unavailable (nothing was
written), 4 outcome unknown (a write may have been posted: run the same
command again to learn).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..settings import CONFIG_VARIABLE
from ..version import __version__
from . import api_cmd, catalogue, config_cmd, demo, estimate, events, feedback, imports, journal, ledger, members, ops, pack, partner, period, pool, report, rules_cmd
from .context import AppContext
from .shell import fail

app = typer.Typer(
    help="A loyalty-points programme kept as double-entry accounting on a Formance Ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ledger.app, name="ledger")
app.add_typer(config_cmd.app, name="config")
ops.register(app)
rules_cmd.register(app)
app.command("demo")(demo.demo)
report.app.command("pack")(pack.pack_command)
app.add_typer(report.app, name="report")
app.add_typer(period.app, name="period")
app.add_typer(estimate.app, name="estimate")
app.add_typer(members.app, name="member")
app.add_typer(events.app, name="events")
app.add_typer(api_cmd.key_app, name="key")
app.command("serve")(api_cmd.serve_command)
app.command("reconcile")(report.reconcile_command)
app.command("statement")(report.statement_command)
app.command("import")(imports.import_command)
app.command("journal")(journal.journal_command)
app.add_typer(partner.app, name="partner")
app.add_typer(pool.app, name="pool")
app.add_typer(catalogue.app, name="catalogue")

PANELS: dict[str, tuple[str, ...]] = {
    "Set-up": ("init", "ledger", "config", "demo", "rules", "catch-up-usage"),
    "Earn and spend": (
        "earn", "import", "engage", "release", "hold", "capture", "void", "redeem",
        "transfer", "exchange", "convert", "refund", "adjust", "expire", "pool",
    ),
    "Customers": ("member", "balance", "history", "statement", "tier", "quote", "explain"),
    "Finance": ("report", "reconcile", "period", "journal", "estimate", "partner"),
    "Integration": ("events", "serve", "key"),
    "Rewards": ("catalogue",),
}
"""The help's panels: every command in exactly one (a unit test holds this)."""


def command_name(info: typer.models.CommandInfo | typer.models.TyperInfo) -> str:
    """A registered command's or group's name as typed on the command line."""

    if info.name:
        return info.name
    callback = info.callback if isinstance(info, typer.models.CommandInfo) else info.typer_instance.registered_callback
    return (callback.__name__ if callback else "").replace("_", "-")


def _panel_of(name: str) -> str:
    return next(panel for panel, names in PANELS.items() if name in names)


for _info in [*app.registered_commands, *app.registered_groups]:
    _info.rich_help_panel = _panel_of(command_name(_info))


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"loyalty-accounts {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    ledger_url: Annotated[
        Optional[str],
        typer.Option(
            "--ledger-url", help="Formance Ledger base URL (default: LOYALTY_LEDGER_URL, loyalty.toml, else the local ledger)."
        ),
    ] = None,
    ledger_name: Annotated[
        Optional[str], typer.Option("--ledger", help="Ledger name (default: LOYALTY_LEDGER_NAME, loyalty.toml, else loyalty).")
    ] = None,
    chart: Annotated[
        Optional[Path], typer.Option("--chart", help="chart_of_accounts.yaml to use (default: LOYALTY_CHART, loyalty.toml).")
    ] = None,
    state_dir: Annotated[
        Optional[Path],
        typer.Option("--state-dir", help="State folder of the local ledger (default: LOYALTY_STATE_DIR, loyalty.toml)."),
    ] = None,
    rules: Annotated[
        Optional[Path],
        typer.Option("--rules", help="Earning rules file (default: LOYALTY_RULES, loyalty.toml, else rules.yaml)."),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Say more on stderr: -v what the client does, -vv debug.")
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors on stderr: no warnings, no progress bars.")
    ] = False,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", help="Settings file to read (default: LOYALTY_CONFIG, else ./loyalty.toml, else the user's)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    feedback.configure(ctx, verbose=verbose, quiet=quiet)
    if config is not None:
        _use_config(ctx, config)
    ctx.obj = AppContext(
        ledger_url=ledger_url, ledger_name=ledger_name, chart_path=chart, state_dir=state_dir, rules_path=rules
    )
    ctx.call_on_close(ctx.obj.close)


def _use_config(ctx: typer.Context, path: Path) -> None:
    """``--config PATH``: the settings file for this invocation (as ``LOYALTY_CONFIG`` would name it)."""

    if not path.is_file():
        fail(f"--config {path}: no such settings file", 2)
    previous = os.environ.get(CONFIG_VARIABLE)
    os.environ[CONFIG_VARIABLE] = str(path.resolve())

    def restore() -> None:
        if previous is None:
            os.environ.pop(CONFIG_VARIABLE, None)
        else:
            os.environ[CONFIG_VARIABLE] = previous

    ctx.call_on_close(restore)


def main() -> None:
    """The ``loyalty`` command: usage errors as one line on stderr (``error: ...``, exit 2), like every other error."""

    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="loyalty", standalone_mode=False)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        # typer's (vendored click's) usage errors: a bad or missing option, an unknown command...
        if not (hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group run without a command: its help, as typer shows it
            typer.echo(exc.format_message(), err=True)
        else:
            hint = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) is not None else ""
            message = " ".join(exc.format_message().replace("Value error, ", "").split())
            typer.echo(f"error: {message}{hint}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
