"""Small process and port helpers shared by the PostgreSQL and ledger runners."""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from pathlib import Path


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    # A zombie child still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_zombie(pid: int) -> bool:
    """True while ``pid`` has exited but its parent has not reaped it."""

    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
    except (OSError, IndexError):
        return False


def wait_reaped(pid: int, timeout: float) -> bool:
    """Wait while ``pid`` is a zombie; False if it still is after ``timeout`` seconds.

    A killed daemon is re-parented to init and stays a zombie until init reaps
    it; PostgreSQL's lock-file check (``kill(pid, 0)``) still sees a zombie as
    a running postmaster.
    """

    deadline = time.monotonic() + timeout
    while is_zombie(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def pid_argv(pid: int) -> list[str]:
    """The arguments ``pid`` was started with (empty when gone or unreadable)."""

    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def pid_cwd(pid: int) -> Path | None:
    """The working folder of ``pid`` (None when gone or not ours to read)."""

    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def processes_in(folder: Path) -> list[int]:
    """Pids of live processes whose working folder is ``folder``, by a scan of ``/proc``.

    Only processes we may inspect (our own, or all when root) are seen.
    """

    target = folder.resolve()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid_cwd(pid) == target and pid_alive(pid):
            found.append(pid)
    return sorted(found)


def terminate(pid: int, *, timeout: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process is gone when this returns."""

    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):
        _reap(pid)
        time.sleep(0.05)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
