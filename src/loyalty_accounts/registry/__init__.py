"""The registry database: a PostgreSQL database beside the ledger for what must not be on it.

It holds the member registry (:mod:`loyalty_accounts.members`) and whatever else the programme keeps
outside the books; its schema is the numbered SQL files of ``migrations/`` (:mod:`.migrations`),
applied on first use.
"""

from .database import CONNECT_TIMEOUT_S, connect, create_database, open_database, where
from .migrations import Migration, migrate, shipped_migrations

__all__ = [
    "CONNECT_TIMEOUT_S",
    "Migration",
    "connect",
    "create_database",
    "migrate",
    "open_database",
    "shipped_migrations",
    "where",
]
