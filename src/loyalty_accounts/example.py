"""A programme's files to copy and edit: ``loyalty init --example DIR``.

Writes the package's default chart of accounts, earning rules and Numscript
templates (:data:`~loyalty_accounts.settings.DEFAULTS`) into a folder,
beside a ``loyalty.toml`` that points at them, so that commands run from that
folder use the copies. Nothing is overwritten.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import InvalidCommand
from .settings import CONFIG_NAME, DEFAULTS

__all__ = ["write_example"]

SETTINGS_FILE = """\
# Settings of loyalty-accounts for the programme in this folder (`loyalty config show` lists them all).
# Relative paths are taken from this file's folder.
chart = "chart_of_accounts.yaml"
rules = "rules.yaml"
numscript_dir = "numscript"
# ledger_url = "http://127.0.0.1:3068"   # default: the ledger `loyalty ledger up` started
# ledger_name = "loyalty"
"""


def write_example(target: Path) -> list[Path]:
    """Write the example programme into ``target`` (created if need be); the files written, in order.

    Raises InvalidCommand, writing nothing, when ``target`` is a file or any of the files already exists; InvalidCommand too when the folder cannot be written (what was written by then stays).
    """

    templates = sorted((DEFAULTS / "numscript").glob("*.num"))
    plan: list[tuple[Path, Path | str]] = [
        (target / "chart_of_accounts.yaml", DEFAULTS / "chart_of_accounts.yaml"),
        (target / "rules.yaml", DEFAULTS / "rules.yaml"),
        *[(target / "numscript" / source.name, source) for source in templates],
        (target / CONFIG_NAME, SETTINGS_FILE),
    ]
    if target.exists() and not target.is_dir():
        raise InvalidCommand(f"{target}: not a folder")
    existing = [path for path, _ in plan if path.exists()]
    if existing:
        raise InvalidCommand(f"{existing[0]} already exists: nothing was written (choose an empty folder)")
    try:
        (target / "numscript").mkdir(parents=True, exist_ok=True)
        for path, source in plan:
            if isinstance(source, Path):
                shutil.copyfile(source, path)  # the content, also where the package's file is a link
            else:
                path.write_text(source, encoding="utf-8")
    except OSError as exc:
        raise InvalidCommand(f"cannot write the example into {target}: {exc.strerror or exc}") from None
    return [path for path, _ in plan]
