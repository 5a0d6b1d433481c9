"""Build and run the Formance Ledger server.

The server is built from the Go module proxy through the small wrapper module
in ``ledger-server/`` (upstream's module path has no ``/v2`` suffix, so its
v2 tags can only be required by pseudo-version). The binary is cached outside
the repository, keyed by the ledger version and a hash of the wrapper sources,
so the ~300-module build happens once per machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from ..errors import LedgerBuildRefused, LocalServerError
from .paths import LEDGER_COMMIT, LEDGER_VERSION, cache_dir, ledger_server_source
from .procs import pid_alive, tail

# Settings of `ledger serve` beyond the connection and bind address. The same
# values appear as environment variables in docker-compose.yml (flag name upper
# cased, dashes to underscores); a unit test keeps the two in step.
SERVE_SETTINGS: dict[str, str] = {
    "experimental-features": "true",
    "schema-enforcement-mode": "strict",
}
POSTGRES_MAJOR = 15

_REFUSED = re.compile(r"github\.com/formancehq/ledger@\S+: .*(403 Forbidden|not available|404 Not Found)")


def _source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in src.rglob("*") if p.is_file() and p.suffix in {".go", ".mod", ".sum"}):
        digest.update(str(path.relative_to(src)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def ledger_binary(*, log: "callable[[str], None] | None" = None) -> Path:  # type: ignore[valid-type]
    """Path of a built ledger binary, building it first when the cache has none."""

    override = os.environ.get("LOYALTY_LEDGER_BIN")
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise LocalServerError(f"LOYALTY_LEDGER_BIN={override} is not an executable file")
        return path
    src = ledger_server_source()
    if not (src / "go.mod").exists():
        raise LocalServerError(f"ledger wrapper module not found at {src} (set LOYALTY_LEDGER_SERVER_SRC)")
    target = cache_dir() / "ledger" / f"{LEDGER_VERSION}-{_source_digest(src)}" / "ledger"
    if target.exists():
        return target
    go = shutil.which("go")
    if not go:
        raise LocalServerError("Go (1.25 or newer) is needed to build the Formance Ledger server; install it first")
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


def migrate(binary: Path, postgres_uri: str, log_file: Path) -> None:
    with log_file.open("ab") as out:
        proc = subprocess.run([str(binary), "migrate", "--postgres-uri", postgres_uri], stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise LocalServerError(f"ledger migrations failed:\n{tail(log_file)}")


def start(binary: Path, postgres_uri: str, port: int, log_file: Path) -> int:
    """Start ``ledger serve`` detached, bound to loopback; returns its pid."""

    log_file.parent.mkdir(parents=True, exist_ok=True)
    out = log_file.open("ab")
    proc = subprocess.Popen(
        [
            str(binary),
            "serve",
            "--postgres-uri", postgres_uri,
            "--bind", f"127.0.0.1:{port}",
            *(f"--{flag}={value}" for flag, value in SERVE_SETTINGS.items()),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
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
