"""The registry database: a PostgreSQL database of its own, outside the ledger, reached by URI.

:func:`open_database` connects (``connect_timeout`` of :data:`CONNECT_TIMEOUT_S`), creating the
database first when asked (the local stack's ``loyalty_registry``: a user's own URL names a database
that must exist), and brings its schema up to date (:mod:`.migrations`). Every failure to reach,
create or migrate it is :class:`~loyalty_accounts.errors.RegistryUnavailable` (exit 3), in one line
naming the server and database but never the password.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import errors as pg_errors
from psycopg import sql

from ..errors import RegistryUnavailable
from .migrations import migrate

CONNECT_TIMEOUT_S = 5
"""Seconds to wait for the registry's server to accept a connection."""
MAINTENANCE_DATABASE = "postgres"
"""Where :func:`create_database` connects to create the registry's database."""


def where(conninfo: str) -> str:
    """``host:port/database`` of a connection string or URI, for messages (no user, no password)."""

    try:
        params = pg_conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(malformed registry URL)"
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"


def connect(conninfo: str, **options: Any) -> psycopg.Connection:
    """A connection to ``conninfo`` (``options`` override its parameters). Raises RegistryUnavailable."""

    try:
        return psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S, **options)
    except psycopg.Error as exc:
        raise RegistryUnavailable(f"member registry at {where(conninfo)} unreachable: {_first_line(exc)}") from None


def create_database(conninfo: str) -> bool:
    """Create the database ``conninfo`` names on its server unless it exists; True when created now.

    Connects to the server's ``postgres`` database with the same credentials. Two processes creating it
    at once both succeed (one creates it). Raises RegistryUnavailable.
    """

    name = pg_conninfo.conninfo_to_dict(conninfo).get("dbname")
    if not name:
        raise RegistryUnavailable("the registry URL names no database")
    with connect(conninfo, dbname=MAINTENANCE_DATABASE, autocommit=True) as conn:
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
            return True
        except (pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
            return False
        except psycopg.Error as exc:
            raise RegistryUnavailable(f"cannot create the registry database {where(conninfo)}: {_first_line(exc)}") from None


def open_database(conninfo: str, *, create: bool = False) -> psycopg.Connection:
    """A connection to the registry database, its schema up to date; ``create``: make the database first if
    missing. The connection is in autocommit mode: callers group statements in ``conn.transaction()`` blocks.

    Raises RegistryUnavailable.
    """

    if create:
        create_database(conninfo)
    conn = connect(conninfo, autocommit=True)
    try:
        migrate(conn)
    except psycopg.Error as exc:
        conn.close()
        raise RegistryUnavailable(f"cannot bring the registry schema at {where(conninfo)} up to date: {_first_line(exc)}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["CONNECT_TIMEOUT_S", "connect", "create_database", "open_database", "where"]
