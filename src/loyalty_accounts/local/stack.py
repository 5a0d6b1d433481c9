"""``loyalty ledger up | status | down``: the local PostgreSQL + ledger pair.

State (ports, pids, the PostgreSQL password) is kept in ``state.json`` in the
state folder, written atomically. ``up`` is idempotent: a second call finds the
recorded processes alive and returns.

After a crash ``up`` repairs rather than adds: it restarts PostgreSQL when it is
down, then reuses the recorded ledger if it is still ours, was started against
the same PostgreSQL and answers; otherwise it stops it and starts one ledger
on the same port.

A stack is tuned (the project's settings, :data:`~.server.SERVE_SETTINGS`,
:func:`~.server.serve_tuning` and :data:`~.postgres.POSTGRES_SETTINGS`) or not (Formance's and PostgreSQL's
defaults for throughput, a benchmark's baseline); the settings each process was
started with are recorded, and ``up`` restarts a process whose recorded settings
are not the wanted ones (so the first ``up`` after an upgrade from a state file
without them restarts both once).

A ledger server is ours when its pid is recorded and its command line is the
recorded binary's ``serve``, or when it runs ``serve`` with the state folder as
its working folder (``server.start`` puts it there); ``up`` and ``down`` stop
every such process they do not keep, so none is leaked.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from ..errors import LocalServerError, RegistryUnavailable
from ..settings import load_settings
from . import postgres, server
from .paths import LEDGER_VERSION, default_state_dir
from .procs import (
    free_loopback_port,
    pid_alive,
    pid_argv,
    pid_cmdline,
    port_open,
    processes_in,
    terminate,
)

# How long `up` gives a surviving ledger to answer again (its connections to a
# restarted PostgreSQL are re-opened on first use) before replacing it.
REUSE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class StackStatus:
    url: str | None
    version: str | None
    postgres: str | None
    running: bool
    ledger_pid: int | None
    postgres_pid: int | None
    state_dir: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "version": self.version,
            "postgres": self.postgres,
            "running": self.running,
            "ledger_pid": self.ledger_pid,
            "postgres_pid": self.postgres_pid,
            "state_dir": self.state_dir,
        }


class LocalStack:
    """The local PostgreSQL + ledger pair of one state folder.

    ``tuned`` (default True) starts them with the project's settings; False with
    the defaults of Formance and PostgreSQL for everything that governs
    throughput (the functional flags stay: see :func:`~.server.serve_settings`).
    """

    def __init__(
        self, state_dir: Path | None = None, *, log: Callable[[str], None] | None = None, tuned: bool = True
    ) -> None:
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
        self._log = log or (lambda _msg: None)
        self.tuned = tuned
        self.serve_settings = server.serve_settings(tuned=tuned)
        self.postgres_settings = postgres.postgres_settings(tuned=tuned)

    # -- state file ---------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def _read(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise LocalServerError(f"state file {self.state_file} is unreadable: {exc}") from exc

    def _write(self, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        os.chmod(tmp, 0o600)  # holds the database password
        os.replace(tmp, self.state_file)

    def _cluster(self, state: dict[str, Any]) -> postgres.PostgresCluster | None:
        pg = state.get("postgres")
        if not pg or not Path(pg["data_dir"]).exists():
            return None
        return postgres.PostgresCluster(Path(pg["data_dir"]), int(pg["port"]), str(pg["password"]))

    # -- commands -----------------------------------------------------------
    def up(self) -> StackStatus:
        """Start what is not running; reuse or replace what an earlier ``up`` left behind.

        Returns the status afterwards. Raises ``LocalServerError`` (its
        subclass ``LedgerServerNotFound`` when no server binary can be had);
        on failure, whatever this call started is stopped again.
        """

        with self._exclusive():
            return self._up()

    def _up(self) -> StackStatus:
        state = self._read()
        current = self.status()
        if current.running and self._as_wanted(state):
            self._stop_strays(keep=current.ledger_pid)
            return current
        external_pg = load_settings().postgres_uri
        started_pg: postgres.PostgresCluster | None = None
        if external_pg is not None:
            postgres_uri = external_pg.get_secret_value()
            state.pop("postgres", None)
        else:
            cluster = self._cluster(state)
            if cluster is None:
                self._log(f"creating a PostgreSQL cluster for {self.state_dir}")
                cluster = postgres.create_cluster(self.state_dir)
            if cluster.running() and state.get("postgres", {}).get("settings") != self.postgres_settings:
                self._log("restarting PostgreSQL: it runs with other settings than this stack's")
                postgres.stop(cluster)
            if not cluster.running():
                cluster = postgres.start(cluster, self.state_dir / "postgres.log", settings=self.postgres_settings)
                started_pg = cluster
            state["postgres"] = {
                "data_dir": str(cluster.data_dir),
                "port": cluster.port,
                "password": cluster.password,
                "settings": self.postgres_settings,
            }
            postgres_uri = cluster.uri
        self._write(state)
        if self._reuse_ledger(state, postgres_uri):
            return self.status()
        self._stop_ledger(state)
        self._stop_strays(keep=None)
        try:
            binary = server.ledger_binary(log=self._log)
            log_file = self.state_dir / "ledger.log"
            server.migrate(binary, postgres_uri, log_file)
            port = int(state.get("ledger", {}).get("port") or 0)
            if not port or port_open(port):
                port = free_loopback_port()
            pid = server.start(
                binary, postgres_uri, port, log_file, settings=self.serve_settings, tuning=self._tuning(state)
            )
            state["ledger"] = {
                "pid": pid,
                "port": port,
                "binary": str(binary),
                "postgres": _fingerprint(postgres_uri),
                "settings": self.serve_settings,
                "tuning": self._tuning(state),
            }
            self._write(state)
            server.wait_ready(f"http://127.0.0.1:{port}", pid, log_file)
        except BaseException:
            self._stop_ledger(state)
            if started_pg is not None:
                postgres.stop(started_pg)
            raise
        return self.status()

    def _reuse_ledger(self, state: dict[str, Any], postgres_uri: str) -> bool:
        """True when the recorded ledger is ours, on this PostgreSQL, and answers again."""

        ledger = state.get("ledger") or {}
        pid = int(ledger.get("pid") or 0)
        if not pid or not self._is_ours(pid, str(ledger.get("binary", ""))):
            return False
        url = f"http://127.0.0.1:{ledger['port']}"
        if ledger.get("postgres") != _fingerprint(postgres_uri):
            self._log(f"restarting the ledger (pid {pid}): PostgreSQL is not where it was started against")
            return False
        if ledger.get("settings") != self.serve_settings or ledger.get("tuning") != self._tuning(state):
            self._log(f"restarting the ledger (pid {pid}): it runs with other settings than this stack's")
            return False
        if server.wait_answering(url, pid, timeout=REUSE_TIMEOUT_S):
            self._log(f"the ledger at {url} (pid {pid}) answers again; keeping it")
            self._stop_strays(keep=pid)
            return True
        self._log(f"restarting the ledger (pid {pid}): it did not answer at {url} within {REUSE_TIMEOUT_S:.0f}s")
        return False

    def status(self) -> StackStatus:
        state = self._read()
        cluster = self._cluster(state)
        ledger = state.get("ledger") or {}
        pid = ledger.get("pid")
        url = f"http://127.0.0.1:{ledger['port']}" if ledger.get("port") else None
        version = None
        alive = bool(pid) and self._is_ours(int(pid), str(ledger.get("binary", "")))
        if alive and url:
            try:
                resp = httpx.get(f"{url}/_/info", timeout=2.0)
                if resp.status_code == 200:
                    version = str(resp.json().get("version"))
            except httpx.HTTPError:
                version = None
        pg_running = cluster.running() if cluster else load_settings().postgres_uri is not None
        return StackStatus(
            url=url,
            version=version,
            postgres=(f"postgresql://127.0.0.1:{cluster.port}/{postgres.DATABASE}" if cluster else None),
            running=bool(version) and pg_running,
            ledger_pid=int(pid) if alive else None,
            postgres_pid=cluster.pid if cluster and cluster.running() else None,
            state_dir=str(self.state_dir),
        )

    def down(self) -> StackStatus:
        """Stop the ledger (and any stray ledger of this state folder), then PostgreSQL."""

        with self._exclusive():
            state = self._read()
            self._stop_ledger(state)
            self._stop_strays(keep=None)
            cluster = self._cluster(state)
            if cluster is not None:
                postgres.stop(cluster)
        return self.status()

    def destroy(self) -> None:
        """Stop everything and delete the cluster's data and the state folder."""

        state = self._read()
        self.down()
        cluster = self._cluster(state)
        if cluster is not None:
            shutil.rmtree(cluster.data_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def postgres_uri(self) -> str:
        cluster = self._cluster(self._read())
        if cluster is None:
            raise LocalServerError("no local PostgreSQL cluster: run `loyalty ledger up` first")
        return cluster.uri

    def registry_uri(self) -> str:
        """The member registry's database in this stack's PostgreSQL: ``loyalty_registry`` in the private
        cluster, or on the server ``LOYALTY_POSTGRES_URI`` names (the database may not exist yet: the
        registry creates it on first use).

        Raises RegistryUnavailable when the stack has no PostgreSQL running.
        """

        cluster = self._cluster(self._read())
        if cluster is not None:
            if not cluster.running():
                raise RegistryUnavailable(
                    f"the local PostgreSQL of {self.state_dir} is not running: run `loyalty ledger up` (the member "
                    "registry lives in it), or set LOYALTY_REGISTRY_URL"
                )
            return cluster.database_uri(postgres.REGISTRY_DATABASE)
        external = load_settings().postgres_uri
        if external is not None:
            from psycopg.conninfo import make_conninfo

            return make_conninfo(external.get_secret_value(), dbname=postgres.REGISTRY_DATABASE)
        raise RegistryUnavailable(
            f"no member registry: no local PostgreSQL in {self.state_dir}; run `loyalty ledger up`, or set LOYALTY_REGISTRY_URL"
        )

    @property
    def registry_key_file(self) -> Path:
        """Where the local registry's key is kept (made on first use, mode 0600): beside the stack's state."""

        return self.state_dir / "registry.key"

    # -- helpers ------------------------------------------------------------
    def _as_wanted(self, state: dict[str, Any]) -> bool:
        """True when the recorded ledger (and the private PostgreSQL, if any) run with this stack's settings."""

        ledger = state.get("ledger") or {}
        ledger_ok = ledger.get("settings") == self.serve_settings and ledger.get("tuning") == self._tuning(state)
        pg = state.get("postgres")
        return ledger_ok and (pg is None or pg.get("settings") == self.postgres_settings)

    def _tuning(self, state: dict[str, Any]) -> dict[str, dict[str, str]]:
        """The server's tuning beyond its flags (:func:`~.server.serve_tuning`): with the stack's own
        PostgreSQL when the state records one."""

        return server.serve_tuning(tuned=self.tuned, private_cluster=state.get("postgres") is not None)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One ``up`` or ``down`` at a time per state folder, across processes (an flock).

        Two ``up`` run at once after a crash would otherwise both restart
        PostgreSQL; the second now waits, then finds the stack running.
        """

        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "stack.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _stop_ledger(self, state: dict[str, Any]) -> None:
        ledger = state.get("ledger") or {}
        pid = ledger.get("pid")
        if pid and self._is_ours(int(pid), str(ledger.get("binary", ""))):
            terminate(int(pid))

    def ledger_processes(self) -> list[int]:
        """Pids of ledger servers running with this state folder as working folder (a /proc scan)."""

        return [pid for pid in processes_in(self.state_dir) if pid_argv(pid)[1:2] == ["serve"]]

    def _stop_strays(self, *, keep: int | None) -> None:
        for pid in self.ledger_processes():
            if pid != keep:
                self._log(f"stopping a ledger server of {self.state_dir} that is not the recorded one (pid {pid})")
                terminate(pid)

    @staticmethod
    def _is_ours(pid: int, binary: str) -> bool:
        return pid_alive(pid) and bool(binary) and pid_cmdline(pid).startswith(binary) and " serve " in pid_cmdline(pid)


def start_stack(
    state_dir: Path, *, tuned: bool = True, log: Callable[[str], None] | None = None
) -> StackStatus:
    """Bring up (or repair) the local stack of ``state_dir`` and return its status.

    ``tuned=True``: the project's settings; ``tuned=False``: Formance's and
    PostgreSQL's defaults for throughput (see :class:`LocalStack`). Two calls
    with different folders give two independent stacks side by side (each its
    own PostgreSQL cluster and ledger on free loopback ports); stop one with
    ``LocalStack(state_dir).down()`` or remove it with ``.destroy()``. Raises
    what :meth:`LocalStack.up` raises.
    """

    return LocalStack(state_dir, log=log, tuned=tuned).up()


def _fingerprint(postgres_uri: str) -> str:
    """Which PostgreSQL a ledger was started against, without storing the URI twice."""

    return hashlib.sha256(postgres_uri.encode()).hexdigest()[:16]


__all__ = ["LocalStack", "StackStatus", "LEDGER_VERSION", "start_stack"]
