"""Find, build and run the Formance Ledger server.

A server binary is found in this order (:func:`ledger_binary`):

1. ``LOYALTY_LEDGER_BIN``, used as given (it must be executable);
2. an installed binary named ``ledger`` or ``formance-ledger`` on ``PATH``,
   then in ``~/.local/bin`` (:func:`install_dirs`), accepted only when its
   ``version`` subcommand says :data:`~.paths.LEDGER_VERSION`; any other is
   skipped with a log line and never run as a server;
3. the cached build of the wrapper module;
4. a build from the Go module proxy through the small wrapper module in
   ``ledger-server/`` (upstream's module path has no ``/v2`` suffix, so its
   v2 tags can only be required by pseudo-version). The binary is cached
   outside the repository, keyed by the ledger version and a hash of the
   wrapper sources, so the ~300-module build happens once per machine.

The PostgreSQL URI (it carries the password) is handed to ``ledger migrate``
and ``ledger serve`` in the ``POSTGRES_URI`` environment variable, never on
the command line, which every user of the machine can read in
``/proc/<pid>/cmdline``. The server binds each flag to the environment
variable of its upper-cased, underscored name (go-libs
``pkg/service/flags.go``, ``BindEnvToFlagSet``, called by ``service.Execute``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import httpx

from ..errors import LedgerBuildRefused, LedgerServerNotFound, LocalServerError
from ..settings import load_settings
from .paths import LEDGER_COMMIT, LEDGER_VERSION, cache_dir, ledger_server_source
from .procs import pid_alive, tail

# Settings of `ledger serve` beyond the connection and bind address, in two
# groups. The same values appear as environment variables in docker-compose.yml
# (flag name upper cased, dashes to underscores; go-libs pkg/service/flags.go);
# a unit test keeps the two in step.
FUNCTIONAL_SETTINGS: dict[str, str] = {
    # What the project needs to run at all, whatever the speed: ledger features
    # and strict schema enforcement (cmd/serve.go, cmd/config.go).
    "experimental-features": "true",
    "schema-enforcement-mode": "strict",
}
TUNED_SETTINGS: dict[str, str] = {
    # Without an idle pool the server opens a PostgreSQL connection per request
    # (the go-libs default is 0 idle connections; go-libs
    # pkg/storage/bun/connect/flags.go). 20 equals the default maximum of open
    # connections there, so every open connection may stay idle. Measured on raw
    # earn posts (same run, machine under load): server CPU (ledger + PostgreSQL)
    # per post 52-57 ms without it (a new session, authentication and cold
    # caches per request), 7.3-8.4 ms with it; sequential posts 8-11/s -> 50-77/s.
    "postgres-max-idle-conns": "20",
    # v2.4.12 leaves a temporary table in the session that migrated a new
    # bucket (internal/storage/bucket/migrations/17-moves-fill-transaction-id/
    # up.sql creates `transactions_ids` and never drops it). database/sql hands
    # out the most recently used idle connection first, so with an idle pool the
    # next new bucket lands in that session and fails ("relation transactions_ids
    # already exists", HTTP 500; the creation is rolled back: driver.go runs it in
    # one transaction). A bounded lifetime retires every session, the polluted one
    # included, and the client's retry of 5xx then succeeds (go-libs flags.go:
    # the default lifetime is 0, for ever; an idle time limit would not help, since
    # the polluted session is the first to be reused). Measured with 8 threads of
    # raw earns: 1s costs +5 ms of server CPU per post (a new session costs about
    # 19 ms), 5s about +1 ms, 30s nothing measurable; 10s bounds the wait for a
    # second bucket well inside the client's 45 s retry budget.
    "postgres-conn-max-lifetime": "10s",
    # Listings (accounts, transactions, volumes) return at most this many items a
    # page (cmd/serve.go --max-page-size, default 100; a larger pageSize asked
    # for is cut to it, go-libs paginate.GetPageSize). A page's cost grows far
    # less than its size: listing 100,800 bucket accounts of one ledger took
    # 118 s in pages of 100, 12.3 s in pages of 1,000, 3.7 s in pages of 5,000
    # and 2.7 s in pages of 10,000 (the client asks for ledger.reads.PAGE_SIZE).
    "max-page-size": "10000",
}
# Left at Formance's defaults, on purpose:
# - postgres-max-open-conns 20 (go-libs flags.go): 8 client threads use at most
#   8 sessions, and on a 2-core machine more sessions only queue in PostgreSQL;
# - numscript-cache-max-count 1024 (cmd/serve.go): parsed scripts are cached by
#   the digest of their text, not their vars (internal/controller/ledger/
#   numscript_parser.go), and the project has about 20 templates;
# - bulk-max-size 100 and bulk-parallel 10 (cmd/serve.go): the bulk import sizes
#   its chunks by its own measurement within them;
# - audit-enabled true (cmd/serve.go): turning the HTTP audit off saved no
#   measurable CPU per post (ledger 3.5 against 3.55 ms), so the trail stays.
TUNED_CONNECTION: dict[str, str] = {
    # pgx, the server's PostgreSQL driver, prepares every distinct statement by
    # default ("cache_statement": a Parse/Describe round trip and a server-side
    # prepared statement per statement text and session). bun writes every value
    # into the SQL text, so nearly each statement is distinct and is prepared,
    # used once and evicted; the simple protocol sends the text as it is. pgx
    # reads the mode from the connection string (default_query_exec_mode). Same
    # answers to every read compared; measured on raw sequential earns: PostgreSQL
    # CPU per earn 5.3 -> 4.65-4.8 ms.
    "default_query_exec_mode": "simple_protocol",
}
"""PostgreSQL URI parameters of the project's tuned server (added unless the URI sets them)."""


def ledger_cpus(cpus: int | None = None) -> int:
    """``GOMAXPROCS`` of a tuned server beside its private PostgreSQL: half the machine's CPUs, at least one.

    The server and PostgreSQL take turns on every request, so a second Go
    processor mostly spins waiting for work: on 2 cores, measured with perf, the
    scheduler's spinning and sysmon took about 28 % of the server's CPU. With
    GOMAXPROCS=1 the server spent 5.1-5.3 ms of CPU per sequential raw earn
    instead of 6.3, and 8 threads of earns ran at 61.5/s instead of 50.6/s.
    """

    return max(1, (cpus if cpus is not None else os.cpu_count() or 1) // 2)


def serve_tuning(*, tuned: bool = True, private_cluster: bool = True) -> dict[str, dict[str, str]]:
    """What a local server gets beyond its flags: ``connection`` (URI parameters) and ``environment``.

    Nothing for ``tuned=False``; ``GOMAXPROCS`` (:func:`ledger_cpus`) only beside the stack's own
    PostgreSQL, which shares the machine (an external one may not), and only when the caller's own
    environment does not set it (theirs wins: what is returned is what the server gets, and the stack
    records it, so exporting another value restarts the server with it).
    """

    if not tuned:
        return {"connection": {}, "environment": {}}
    environment = {"GOMAXPROCS": str(ledger_cpus())} if private_cluster else {}
    return {
        "connection": dict(TUNED_CONNECTION),
        "environment": {name: value for name, value in environment.items() if name not in os.environ},
    }


def with_parameters(uri: str, parameters: Mapping[str, str]) -> str:
    """``uri`` with each of ``parameters`` added to its query, unless the URI already sets it."""

    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    query += [(name, value) for name, value in parameters.items() if name not in present]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


SERVE_SETTINGS: dict[str, str] = {**FUNCTIONAL_SETTINGS, **TUNED_SETTINGS}
"""What :func:`serve_command` passes by default: the project's tuned server."""


def serve_settings(*, tuned: bool = True) -> dict[str, str]:
    """The ``ledger serve`` flags (name without dashes -> value) of a local stack.

    ``tuned=True``: :data:`SERVE_SETTINGS`, the project's server; ``tuned=False``:
    only :data:`FUNCTIONAL_SETTINGS`, i.e. Formance's own defaults for everything
    that governs throughput (cmd/serve.go and go-libs pkg/storage/bun/connect/flags.go),
    the baseline a benchmark compares with.
    """

    return dict(SERVE_SETTINGS if tuned else FUNCTIONAL_SETTINGS)


POSTGRES_MAJOR = 15

_REFUSED = re.compile(r"github\.com/formancehq/ledger@\S+: .*(403 Forbidden|not available|404 Not Found)")


def _source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in src.rglob("*") if p.is_file() and p.suffix in {".go", ".mod", ".sum"}):
        digest.update(str(path.relative_to(src)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


Log = Callable[[str], None]
_logger = logging.getLogger(__name__)

INSTALLED_NAMES: tuple[str, ...] = ("ledger", "formance-ledger")
_VERSION_LINE = re.compile(r"^\s*Version:\s*(\S+)", re.MULTILINE)


def install_dirs() -> tuple[Path, ...]:
    """Folders searched for an installed server after ``PATH``: ``~/.local/bin``."""

    return (Path.home() / ".local" / "bin",)


def binary_version(path: Path, *, timeout: float = 10.0) -> str | None:
    """What ``<path> version`` prints after ``Version:`` (e.g. ``"v2.4.12"``).

    None when the program does not run, fails, times out or prints no such
    line. The line's format is the server's ``cmd/version.go``
    (``Version: %s``); the value is the ``-X cmd.Version=`` of its build.
    """

    try:
        proc = subprocess.run(
            [str(path), "version"], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    match = _VERSION_LINE.search(proc.stdout)
    return match.group(1) if match else None


def installed_candidates() -> list[Path]:
    """Executables named :data:`INSTALLED_NAMES`, ``PATH`` folders first, then :func:`install_dirs`.

    Each file appears once (the first path that reaches it), in search order.
    """

    folders = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    found: list[Path] = []
    seen: set[Path] = set()
    for folder in (*folders, *install_dirs()):
        for name in INSTALLED_NAMES:
            path = folder / name
            if not (path.is_file() and os.access(path, os.X_OK)):
                continue
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                found.append(path)
    return found


@dataclass(frozen=True)
class InstalledSearch:
    """Outcome of looking for an installed server: the one accepted, and why others were not."""

    binary: Path | None
    skipped: tuple[str, ...]

    def describe(self) -> str:
        places = ", ".join(str(d) for d in install_dirs())
        names = " or ".join(f"`{n}`" for n in INSTALLED_NAMES)
        text = f"no installed Formance Ledger {LEDGER_VERSION} binary was found ({names} on PATH or in {places})"
        if self.skipped:
            text += "; skipped: " + "; ".join(self.skipped)
        return text


def find_installed(log: Log | None = None) -> InstalledSearch:
    """The first installed binary whose ``version`` is :data:`LEDGER_VERSION`.

    Every candidate with another (or no) version is skipped, with a log line
    saying which and why; it is never started.
    """

    skipped: list[str] = []
    for path in installed_candidates():
        version = binary_version(path)
        if version == LEDGER_VERSION:
            return InstalledSearch(binary=path, skipped=tuple(skipped))
        said = f"says {version}" if version else "does not report a version"
        note = f"{path} (`{path.name} version` {said}, not {LEDGER_VERSION})"
        skipped.append(note)
        _say(log, f"skipping {note}")
    return InstalledSearch(binary=None, skipped=tuple(skipped))


def _say(log: Log | None, message: str) -> None:
    if log is not None:
        log(message)
    else:
        _logger.warning(message)


def ledger_binary(*, log: Log | None = None) -> Path:
    """Path of a Formance Ledger server to run, in the order of this module's docstring.

    Raises ``LocalServerError`` when ``LOYALTY_LEDGER_BIN`` is not executable
    or a build fails, and ``LedgerServerNotFound`` (``LedgerBuildRefused``
    when the module proxy refuses the module) when nothing is installed or
    cached and no build is possible; its message names what was searched.
    """

    path = load_settings().ledger_bin
    if path is not None:
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LocalServerError(f"LOYALTY_LEDGER_BIN={path} is not an executable file")
        return path
    installed = find_installed(log)
    if installed.binary is not None:
        if log:
            log(f"using the installed Formance Ledger {LEDGER_VERSION} at {installed.binary}")
        return installed.binary
    try:
        return _cached_or_built(log)
    except LedgerServerNotFound as exc:
        raise type(exc)(f"{installed.describe()}, and {exc.message}", code=exc.code, details=exc.details) from exc


def _cached_or_built(log: Log | None) -> Path:
    src = ledger_server_source()
    if not (src / "go.mod").exists():
        raise LedgerServerNotFound(
            f"the ledger wrapper module is not at {src} to build one (set LOYALTY_LEDGER_SERVER_SRC)",
            code="LEDGER_NOT_FOUND",
        )
    target = cache_dir() / "ledger" / f"{LEDGER_VERSION}-{_source_digest(src)}" / "ledger"
    if target.exists():
        return target
    go = shutil.which("go")
    if not go:
        raise LedgerServerNotFound(
            "Go (1.25 or newer), needed to build the Formance Ledger server, is not installed",
            code="LEDGER_NOT_FOUND",
        )
    if log:
        log(f"building Formance Ledger {LEDGER_VERSION} from the Go module proxy (once; cached in {target.parent})")
    work = target.parent / "src"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(src, work)
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod")
    # The public checksum database is not reachable from every build machine;
    # a user who can reach it keeps verification by setting GOSUMDB themselves.
    env.setdefault("GOSUMDB", "off")
    ldflags = (
        f"-X github.com/formancehq/ledger/cmd.Version={LEDGER_VERSION} "
        f"-X github.com/formancehq/ledger/cmd.Commit={LEDGER_COMMIT[:12]}"
    )
    started = time.monotonic()
    for cmd in ([go, "mod", "tidy"], [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(target) + ".tmp", "."]):
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            output = (proc.stderr + proc.stdout).strip()
            if _REFUSED.search(output):
                raise LedgerBuildRefused(
                    "the Go module proxy refuses to serve github.com/formancehq/ledger, so the server "
                    f"cannot be built here. `{' '.join(cmd[1:3])}` said:\n{output[-3000:]}",
                    code="LEDGER_MODULE_REFUSED",
                )
            raise LocalServerError(f"building the ledger failed (`go {' '.join(cmd[1:3])}`):\n{output[-3000:]}")
    os.replace(str(target) + ".tmp", target)
    if log:
        log(f"built {target} in {time.monotonic() - started:.0f}s")
    return target


def server_env(postgres_uri: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for ``ledger migrate`` / ``ledger serve``: ``environment`` (what the caller's own
    environment does not set already), ours, then ``POSTGRES_URI``."""

    return {**(environment or {}), **os.environ, "POSTGRES_URI": postgres_uri}


def migrate(binary: Path, postgres_uri: str, log_file: Path) -> None:
    """Run ``ledger migrate`` (the URI in the environment); raises ``LocalServerError`` on failure."""

    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.run(
            [str(binary), "migrate"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(postgres_uri),
            cwd=log_file.parent,
        )
    if proc.returncode != 0:
        raise LocalServerError(f"ledger migrations failed:\n{tail(log_file)}")


def serve_command(binary: Path, port: int, settings: Mapping[str, str] | None = None) -> list[str]:
    """The ``ledger serve`` command line: loopback bind and ``settings`` (default :data:`SERVE_SETTINGS`), no secret."""

    chosen = SERVE_SETTINGS if settings is None else settings
    return [
        str(binary),
        "serve",
        "--bind", f"127.0.0.1:{port}",
        *(f"--{flag}={value}" for flag, value in chosen.items()),
    ]


def start(
    binary: Path,
    postgres_uri: str,
    port: int,
    log_file: Path,
    *,
    settings: Mapping[str, str] | None = None,
    tuning: Mapping[str, Mapping[str, str]] | None = None,
) -> int:
    """Start ``ledger serve`` detached, bound to loopback, with ``settings`` (default
    :data:`SERVE_SETTINGS`) and ``tuning`` (:func:`serve_tuning`; default none); returns its pid.

    The process's working folder is ``log_file``'s folder (the stack's state
    folder), which is how :func:`~.procs.processes_in` recognises it later.
    """

    log_file.parent.mkdir(parents=True, exist_ok=True)
    out = log_file.open("ab")
    proc = subprocess.Popen(
        serve_command(binary, port, settings),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=server_env(
            with_parameters(postgres_uri, (tuning or {}).get("connection", {})),
            (tuning or {}).get("environment", {}),
        ),
        cwd=log_file.parent,
    )
    out.close()
    return proc.pid


def wait_ready(url: str, pid: int, log_file: Path, timeout: float = 60.0) -> str:
    """Wait until ``/_/info`` answers; return the version it reports."""

    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise LocalServerError(f"the ledger exited during start-up:\n{tail(log_file)}")
        try:
            resp = httpx.get(f"{url}/_/info", timeout=2.0)
            if resp.status_code == 200:
                return str(resp.json().get("version", "unknown"))
            last_error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last_error = str(exc)
        time.sleep(0.25)
    raise LocalServerError(f"the ledger at {url} did not answer within {timeout:.0f}s ({last_error}):\n{tail(log_file)}")


def answers(url: str, *, timeout: float = 2.0) -> bool:
    """True when the server at ``url`` is the pinned version and can read PostgreSQL.

    ``/_/info`` alone is not enough: it never touches the database (the
    server's ``cmd/serve.go``), and its healthcheck caches its first success
    (``internal/storage/module.go``). Listing one ledger (``GET /v2/?pageSize=1``,
    ``internal/api/v2/routes.go``) reads the system store.
    """

    try:
        info = httpx.get(f"{url}/_/info", timeout=timeout)
        if info.status_code != 200 or info.json().get("version") != LEDGER_VERSION:
            return False
        return httpx.get(f"{url}/v2/", params={"pageSize": 1}, timeout=timeout).status_code == 200
    except (httpx.HTTPError, ValueError):
        return False


def wait_answering(url: str, pid: int, *, timeout: float) -> bool:
    """Poll :func:`answers` until it is true (True) or ``timeout`` s pass or ``pid`` dies (False)."""

    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if answers(url):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return False
