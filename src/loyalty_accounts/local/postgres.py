"""A private PostgreSQL cluster on a loopback port, for the local ledger.

PostgreSQL refuses to run as root; when we are root, the cluster belongs to an
unprivileged system user and lives under ``/var/lib/loyalty-accounts`` (a
folder under root's home would not be reachable by that user).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalServerError
from .procs import free_loopback_port, pid_alive, port_open, tail, wait_reaped

SERVICE_USER = "loyalty-pg"
DATABASE = "ledger"
REGISTRY_DATABASE = "loyalty_registry"
"""The member registry's database, beside the ledger's in the same cluster (see loyalty_accounts.members)."""
ROLE = "ledger"

BASE_SETTINGS: dict[str, str] = {
    # The ledger pools at most 20 connections per server (go-libs
    # pkg/storage/bun/connect/flags.go); room for several servers and psql.
    "max_connections": "200",
}
# Durability is not negotiable: an acknowledged posting must survive a crash,
# so fsync, synchronous_commit and full_page_writes keep their safe defaults and
# nothing here may turn them off (a unit test holds this). Measured on raw earn
# posts (one ledger alone in its bucket, idle pool on): the server's CPU per post
# is the bottleneck, not the WAL flush: even synchronous_commit=off (tried only
# as a diagnosis) gave no gain beyond the noise, and so did larger buffers and
# WAL at this size of book. What is kept below costs nothing on that path and
# is for larger books and bulk imports (the 10^5 accounts, 10^4 orders):
TUNED_SETTINGS: dict[str, str] = {
    # The default 128MB holds less than a book of 10^5 accounts with its moves
    # and their indexes; the machine has memory to spare.
    "shared_buffers": "256MB",
    # A bulk import writes more than the default 1GB of WAL; a checkpoint forced
    # by WAL size makes the next change of every page write a full page image.
    "max_wal_size": "2GB",
}
"""PostgreSQL settings of the project's local cluster beyond :data:`BASE_SETTINGS` (see the comments)."""
POSTGRES_SETTINGS: dict[str, str] = {**BASE_SETTINGS, **TUNED_SETTINGS}
"""What :func:`start` passes by default: the project's tuned cluster."""


def postgres_settings(*, tuned: bool = True) -> dict[str, str]:
    """The ``-c name=value`` settings a local cluster starts with: :data:`POSTGRES_SETTINGS`, or with
    ``tuned=False`` only :data:`BASE_SETTINGS` (PostgreSQL's defaults otherwise)."""

    return dict(POSTGRES_SETTINGS if tuned else BASE_SETTINGS)


def find_pg_bin(*, install: bool = True) -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    for folder in candidates:
        if (Path(folder) / "pg_ctl").exists() and (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install("postgresql")
        return find_pg_bin(install=False)
    raise LocalServerError(
        "PostgreSQL server binaries not found: install Debian's 'postgresql' package "
        "(apt-get install postgresql) or point LOYALTY_POSTGRES_URI at an existing server"
    )


def _major(folder: str) -> int:
    try:
        return int(Path(folder).parent.name)
    except ValueError:
        return 0


def _apt_install(package: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", package]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LocalServerError(f"'{' '.join(cmd)}' failed:\n{proc.stderr.strip()[-2000:]}")


def _service_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as, or None to run as ourselves."""

    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise LocalServerError(f"could not create system user {SERVICE_USER}: {proc.stderr.strip()}")
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True)
class PostgresCluster:
    """Where a cluster lives and how to reach it; persisted in the stack state."""

    data_dir: Path
    port: int
    password: str

    @property
    def uri(self) -> str:
        return self.database_uri(DATABASE)

    def database_uri(self, database: str) -> str:
        """The URI of ``database`` in this cluster (with the role's password)."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    @property
    def pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return pid_alive(self.pid) and port_open(self.port)


def cluster_dir_for(state_dir: Path) -> Path:
    if os.geteuid() == 0:
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
        return Path("/var/lib/loyalty-accounts") / f"postgres-{digest}"
    return state_dir / "postgres"


def create_cluster(state_dir: Path) -> PostgresCluster:
    """initdb a new cluster with a random password for the ``ledger`` role."""

    pg_bin = find_pg_bin()
    account = _service_account()
    data_dir = cluster_dir_for(state_dir)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(mode=0o700)
    password = secrets.token_hex(16)
    pwfile = data_dir.parent / f".{data_dir.name}.pw"
    pwfile.write_text(password + "\n")
    if account:
        os.chown(data_dir, *account)
        os.chown(pwfile, *account)
    try:
        _run_as(
            account,
            [
                str(pg_bin / "initdb"),
                "-D", str(data_dir),
                "-U", ROLE,
                "--pwfile", str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",  # the socket lives in the 0700 data folder
                "--encoding=UTF8",
                "--locale=C",
            ],
        )
    finally:
        pwfile.unlink(missing_ok=True)
    return PostgresCluster(data_dir=data_dir, port=free_loopback_port(), password=password)


def start(cluster: PostgresCluster, log_file: Path, *, settings: Mapping[str, str] | None = None) -> PostgresCluster:
    """Start the cluster (on a new free port if its old one is taken) with ``settings`` (default
    :data:`POSTGRES_SETTINGS`) and create the ledger's and the member registry's databases."""

    if cluster.running():
        return cluster
    stale = cluster.pid
    if stale is not None and not wait_reaped(stale, timeout=30):
        # Still a zombie of an earlier crash: PostgreSQL would refuse its lock file.
        raise LocalServerError(
            f"the previous PostgreSQL of {cluster.data_dir} (pid {stale}) has died but has not been reaped yet; "
            "run `loyalty ledger up` again in a moment"
        )
    if port_open(cluster.port):
        cluster = PostgresCluster(cluster.data_dir, free_loopback_port(), cluster.password)
    pg_bin = find_pg_bin()
    account = _service_account()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pg_log = cluster.data_dir / "server.log"
    chosen = POSTGRES_SETTINGS if settings is None else settings
    options = " ".join(
        [
            f"-c listen_addresses=127.0.0.1 -p {cluster.port} -c unix_socket_directories={cluster.data_dir}",
            *(f"-c {name}={value}" for name, value in chosen.items()),
        ]
    )
    _run_as(account, [str(pg_bin / "pg_ctl"), "-D", str(cluster.data_dir), "-l", str(pg_log), "-o", options, "-w", "-t", "60", "start"])
    deadline = time.monotonic() + 30
    while not port_open(cluster.port):
        if time.monotonic() > deadline:
            raise LocalServerError(f"PostgreSQL did not open port {cluster.port}:\n{tail(pg_log)}")
        time.sleep(0.2)
    _ensure_database(cluster, pg_bin, account)
    return cluster


def stop(cluster: PostgresCluster, *, timeout: float = 30.0) -> None:
    """Fast shutdown; returns once the postmaster process itself has exited.

    ``pg_ctl -w stop`` returns when ``postmaster.pid`` is gone, which the
    postmaster removes just before it exits, so its pid is waited for too.
    """

    pid = cluster.pid
    if not pid_alive(pid):
        return
    pg_ctl = find_pg_bin(install=False) / "pg_ctl"
    _run_as(_service_account(), [str(pg_ctl), "-D", str(cluster.data_dir), "-m", "fast", "-w", "stop"])
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise LocalServerError(f"PostgreSQL (pid {pid}) still runs {timeout:.0f}s after `pg_ctl stop`")
        time.sleep(0.05)


def _ensure_database(cluster: PostgresCluster, pg_bin: Path, account: tuple[int, int] | None) -> None:
    psql = [str(pg_bin / "psql"), "-h", str(cluster.data_dir), "-p", str(cluster.port), "-U", ROLE, "-d", "postgres", "-tAc"]
    for database in (DATABASE, REGISTRY_DATABASE):
        exists = _run_as(account, [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{database}'"]).strip()
        if exists != "1":
            _run_as(account, [*psql, f"CREATE DATABASE {database}"])


def _run_as(account: tuple[int, int] | None, cmd: list[str]) -> str:
    kwargs: dict[str, object] = {}
    env = dict(os.environ)
    if account:
        kwargs.update(user=account[0], group=account[1], extra_groups=[])
        env.update(HOME="/tmp", USER=SERVICE_USER, PGUSER=ROLE)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/tmp", **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise LocalServerError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return str(proc.stdout)
