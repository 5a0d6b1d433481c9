"""``loyalty ledger``: bring the local Formance Ledger up, inspect it, stop it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..local import LocalStack
from . import feedback
from .context import app_context
from .output import Format, emit_mapping, formatted
from .shell import fail, run_guarded

app = typer.Typer(help="Run the project's own local Formance Ledger (PostgreSQL + ledger on 127.0.0.1).", no_args_is_help=True)

StateDir = typer.Option(
    None, "--state-dir", help="Where the local cluster keeps its state (default: the global --state-dir, LOYALTY_STATE_DIR, else $XDG_STATE_HOME/loyalty-accounts)."
)


def _stack(ctx: typer.Context, state_dir: Optional[Path]) -> LocalStack:
    """The command's --state-dir, else the global one, else the default folder."""

    return LocalStack(state_dir or app_context(ctx).state_dir, log=feedback.say)


@app.command()
@formatted
def up(ctx: typer.Context, state_dir: Optional[Path] = StateDir, *, fmt: Format) -> None:
    """Start PostgreSQL and the ledger; a second call is a no-op, and after a crash it repairs.

    The server binary is LOYALTY_LEDGER_BIN, else an installed v2.4.12 `ledger` or
    `formance-ledger` (PATH, then ~/.local/bin), else the cached build, else a build.
    After a crash it restarts PostgreSQL and keeps or replaces the ledger; it never
    leaves a second ledger server running.
    """

    status = run_guarded(lambda: _stack(ctx, state_dir).up())
    emit_mapping(status.to_dict(), fmt)


@app.command()
@formatted
def status(ctx: typer.Context, state_dir: Optional[Path] = StateDir, *, fmt: Format) -> None:
    """Show URL, version and pids; exit 1 when the ledger is not running."""

    current = run_guarded(lambda: _stack(ctx, state_dir).status())
    emit_mapping(current.to_dict(), fmt)
    if not current.running:
        raise typer.Exit(1)


@app.command()
@formatted
def down(
    ctx: typer.Context,
    state_dir: Optional[Path] = StateDir,
    purge: bool = typer.Option(
        False,
        "--purge",
        help="Also delete the ledger's data for good: the private PostgreSQL cluster (as root it lives under /var/lib/loyalty-accounts) and the state folder.",
    ),
    *,
    fmt: Format,
) -> None:
    """Stop the processes `up` started (and any stray ledger server of the state folder); the data stays for
    the next `up` unless --purge."""

    stack = _stack(ctx, state_dir)
    if purge:
        run_guarded(stack.destroy)
        current = run_guarded(stack.status)
    else:
        current = run_guarded(stack.down)
    if current.running:
        fail("the ledger is still running after `down`", 3)
    emit_mapping(current.to_dict(), fmt)
