"""The registry database's schema, as numbered SQL files shipped in the package.

Each file of ``migrations/`` is named ``NNNN_what_it_does.sql``; its number is its version. A database
records the versions applied to it in ``schema_migrations (version, name, applied_at)``, and
:func:`migrate` applies the files it lacks, in order, in one transaction under an advisory lock: two
processes opening a new database at once apply each file once, and a file that fails applies nothing.
A file, once shipped, is never edited: a change to the schema is a new file with the next number (the
member registry is ``0001``; delivery progress of events, say, would be ``0002``).
"""

from __future__ import annotations

import re
from importlib import resources

import psycopg

from ..errors import RegistryUnavailable
from ..vocabulary.frozen import Frozen

FILE_NAME = re.compile(r"^(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql$")
"""What a migration file is called: four digits (its version), an underscore, what it does."""
LOCK_KEY = 0x6C6F79616C7479
"""The advisory lock (``pg_advisory_xact_lock``) migrations take: one migrating process at a time."""

_LEDGER_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class Migration(Frozen):
    """One shipped SQL file: its version (the file's number), name and text."""

    version: int
    name: str
    sql: str


def shipped_migrations() -> tuple[Migration, ...]:
    """The package's migration files, oldest first.

    Raises RuntimeError (a packaging mistake) for a file not named ``NNNN_name.sql`` or two files of one version.
    """

    folder = resources.files(__package__) / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = FILE_NAME.match(entry.name)
        if match is None:
            raise RuntimeError(f"migration file {entry.name} is not named NNNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise RuntimeError(f"two migration files have version {version}: {found[version].name} and {match['name']}")
        found[version] = Migration(version=version, name=match["name"], sql=entry.read_text(encoding="utf-8"))
    return tuple(found[v] for v in sorted(found))


def migrate(conn: psycopg.Connection, migrations: tuple[Migration, ...] | None = None) -> tuple[int, ...]:
    """Apply to ``conn``'s database the ``migrations`` (default: the shipped ones) it has not recorded.

    Returns the versions applied now, oldest first (empty when the database was up to date). Raises
    RegistryUnavailable when the database records a version this package does not ship (made by a newer
    release: using it could corrupt what that release wrote).
    """

    wanted = shipped_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(_LEDGER_TABLE)
        applied = {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}
        unknown = sorted(applied - {m.version for m in wanted})
        if unknown:
            raise RegistryUnavailable(
                f"the registry database has schema version {unknown[-1]}, which this release of loyalty-accounts "
                "does not know: use the release that made it"
            )
        for migration in wanted:
            if migration.version in applied:
                continue
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
            )
            applied_now.append(migration.version)
    return tuple(applied_now)
