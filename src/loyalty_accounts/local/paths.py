"""Where local state and build caches live (outside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

LEDGER_VERSION = "v2.4.12"
LEDGER_COMMIT = "f43a7078e7e1b9f6a354307ef994431593bf57e0"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(os.environ.get("LOYALTY_STATE_DIR") or Path(base) / "loyalty-accounts")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("LOYALTY_CACHE_DIR") or Path(base) / "loyalty-accounts")


def repo_root() -> Path:
    """The source checkout this package runs from (editable install or tree)."""

    return Path(__file__).resolve().parents[3]


def ledger_server_source() -> Path:
    """The wrapper Go module that builds Formance Ledger from the module proxy."""

    return Path(os.environ.get("LOYALTY_LEDGER_SERVER_SRC") or repo_root() / "ledger-server")
