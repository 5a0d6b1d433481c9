"""Where local state and build caches live (outside the repository), as the settings say."""

from __future__ import annotations

from pathlib import Path

from ..settings import load_settings

LEDGER_VERSION = "v2.4.12"
LEDGER_COMMIT = "f43a7078e7e1b9f6a354307ef994431593bf57e0"


def default_state_dir() -> Path:
    """Settings ``state_dir``: ``$LOYALTY_STATE_DIR``, else ``$XDG_STATE_HOME/loyalty-accounts``."""

    return load_settings().state_dir


def cache_dir() -> Path:
    """Settings ``cache_dir``: ``$LOYALTY_CACHE_DIR``, else ``$XDG_CACHE_HOME/loyalty-accounts``."""

    return load_settings().cache_dir


def ledger_server_source() -> Path:
    """The wrapper Go module that builds Formance Ledger from the module proxy (settings ``ledger_server_src``)."""

    return load_settings().ledger_server_src
