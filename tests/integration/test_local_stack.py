"""The project's own bring-up: a private PostgreSQL, the ledger, clean stops, and repair after a crash.

Which processes belong to a stack is read from /proc, not from its state
file: a ledger server of a stack is a ``ledger serve`` whose working folder is
the stack's state folder or whose command line or environment holds the
stack's PostgreSQL password; its PostgreSQL processes are those working in,
or naming, the cluster's data folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from loyalty_accounts.app import create_app
from loyalty_accounts.errors import LedgerServerNotFound
from loyalty_accounts.local import LocalStack, StackStatus, postgres, server, start_stack
from loyalty_accounts.local.paths import LEDGER_VERSION
from loyalty_accounts.local.procs import free_loopback_port, pid_alive, port_open


def _psql(cluster: postgres.PostgresCluster, sql: str, *, password: str | None = None) -> str:
    """Run ``sql`` over TCP as the ``ledger`` role; the password goes in PGPASSWORD, not argv."""

    psql = postgres.find_pg_bin() / "psql"
    env = dict(os.environ, PGPASSWORD=password or cluster.password)
    args = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", postgres.ROLE, "-d", postgres.DATABASE, "-tAc", sql]
    proc = subprocess.run([str(psql), *args], capture_output=True, text=True, env=env, check=True)
    return proc.stdout.strip()


def _up(stack: LocalStack) -> StackStatus:
    try:
        return stack.up()
    except LedgerServerNotFound as exc:
        stack.destroy()
        pytest.skip(f"BLOCKED: {exc.message}")


def _password(stack: LocalStack) -> str:
    return str(json.loads(stack.state_file.read_text())["postgres"]["password"])


def _proc(pid: str, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def _cwd(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _pids() -> list[str]:
    return [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _ledger_servers(stack: LocalStack) -> list[int]:
    secret = _password(stack).encode()
    found = []
    for pid in _pids():
        argv = _proc(pid, "cmdline").split(b"\0")
        if len(argv) < 2 or argv[1] != b"serve":
            continue
        ours = _cwd(pid) == str(stack.state_dir) or secret in _proc(pid, "cmdline") or secret in _proc(pid, "environ")
        if ours:
            found.append(int(pid))
    return sorted(found)


def _postgres_processes(stack: LocalStack) -> list[int]:
    data_dir = json.loads(stack.state_file.read_text())["postgres"]["data_dir"]
    return sorted(
        int(pid) for pid in _pids() if _cwd(pid) == data_dir or data_dir.encode() in _proc(pid, "cmdline")
    )


def _command_lines_with(secret: str) -> list[str]:
    return [
        _proc(pid, "cmdline").replace(b"\0", b" ").decode(errors="replace")
        for pid in _pids()
        if secret.encode() in _proc(pid, "cmdline")
    ]


def _answers_with_postgres(url: str) -> None:
    """The server reports the pinned version and writes to PostgreSQL (creates a ledger)."""

    assert httpx.get(f"{url}/_/info", timeout=5).json()["version"] == LEDGER_VERSION
    created = httpx.post(f"{url}/v2/t{uuid.uuid4().hex[:12]}", json={}, timeout=10)
    assert created.status_code == 204, created.text


def _start_stray(stack: LocalStack) -> int:
    """Start a ledger server in the stack's state folder that its state file does not know."""

    binary = Path(json.loads(stack.state_file.read_text())["ledger"]["binary"])
    pid = server.start(binary, stack.postgres_uri(), free_loopback_port(), stack.state_dir / "ledger.log")
    # Popen can return while the child is still inside exec: /proc/<pid>/cmdline is empty then.
    deadline = time.monotonic() + 10
    while _proc(str(pid), "cmdline").split(b"\0")[1:2] != [b"serve"]:
        assert time.monotonic() < deadline, f"pid {pid} never showed `serve` in its command line"
        time.sleep(0.02)
    return pid


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.05)


def test_private_postgres_listens_on_loopback_only_and_stops(tmp_path: Path) -> None:
    cluster = postgres.create_cluster(tmp_path)
    try:
        cluster = postgres.start(cluster, tmp_path / "pg.log")
        pid = cluster.pid
        assert pid and pid_alive(pid)
        assert _psql(cluster, "SHOW listen_addresses") == "127.0.0.1"
        assert _psql(cluster, "SELECT current_database()") == "ledger"
        # A wrong password is refused: the cluster is not open to anyone on the machine.
        with pytest.raises(subprocess.CalledProcessError):
            _psql(cluster, "SELECT 1", password="not-the-password")
        postgres.stop(cluster)
        assert not port_open(cluster.port)
        assert not pid_alive(pid)
    finally:
        postgres.stop(cluster)
        shutil.rmtree(cluster.data_dir, ignore_errors=True)


def test_a_second_start_reuses_the_running_cluster(tmp_path: Path) -> None:
    cluster = postgres.create_cluster(tmp_path)
    try:
        first = postgres.start(cluster, tmp_path / "pg.log")
        second = postgres.start(first, tmp_path / "pg.log")
        assert second.pid == first.pid and second.port == first.port
    finally:
        postgres.stop(cluster)
        shutil.rmtree(cluster.data_dir, ignore_errors=True)


def test_server_reports_the_pinned_version(ledger_url: str) -> None:
    info = httpx.get(f"{ledger_url}/_/info", timeout=5).json()
    assert info["version"] == LEDGER_VERSION


def test_up_twice_keeps_one_of_each_and_down_stops_them(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    try:
        first = _up(stack)
        second = stack.up()
        assert first.running and second.running
        assert (second.ledger_pid, second.postgres_pid, second.url) == (first.ledger_pid, first.postgres_pid, first.url)
        assert first.url and first.url.startswith("http://127.0.0.1:")
        port = int(first.url.rsplit(":", 1)[1])
        stopped = stack.down()
        assert not stopped.running
        assert not port_open(port)
        assert first.ledger_pid and not pid_alive(first.ledger_pid)
        assert first.postgres_pid and not pid_alive(first.postgres_pid)
    finally:
        stack.destroy()


def test_up_after_postgres_was_killed_leaves_one_ledger_and_down_leaves_nothing(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    try:
        first = _up(stack)
        assert first.postgres_pid and first.ledger_pid
        os.kill(first.postgres_pid, signal.SIGKILL)
        _wait_dead(first.postgres_pid)
        assert not stack.status().running

        second = stack.up()
        assert second.running and second.url == first.url
        assert second.postgres_pid and second.postgres_pid != first.postgres_pid
        assert _ledger_servers(stack) == [second.ledger_pid]
        assert second.url
        _answers_with_postgres(second.url)
        assert _command_lines_with(_password(stack)) == []

        stack.down()
        assert _ledger_servers(stack) == []
        assert _postgres_processes(stack) == []
        assert not port_open(int(second.url.rsplit(":", 1)[1]))
    finally:
        stack.destroy()


def test_two_ups_at_once_after_postgres_was_killed_both_succeed_with_one_of_each(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    try:
        first = _up(stack)
        assert first.postgres_pid
        os.kill(first.postgres_pid, signal.SIGKILL)
        _wait_dead(first.postgres_pid)

        # Two processes' worth of `up` (separate LocalStack objects, separate lock handles).
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda _: LocalStack(tmp_path / "state").up(), range(2)))
        assert all(r.running for r in results)
        assert results[0].url == results[1].url == first.url
        assert results[0].postgres_pid == results[1].postgres_pid
        # one postmaster: every PostgreSQL process of the data folder is it or its child
        postmaster = results[0].postgres_pid
        processes = _postgres_processes(stack)
        assert postmaster in processes
        for pid in processes:
            stat = _proc(str(pid), "stat")
            if not stat:  # a short-lived backend that exited since the listing: it was no postmaster
                continue
            parent = int(stat.rsplit(b")", 1)[1].split()[1])
            assert postmaster in (pid, parent), (pid, parent, postmaster)
        assert _ledger_servers(stack) == [results[0].ledger_pid]
    finally:
        stack.destroy()


def test_up_after_the_ledger_was_killed_starts_one_on_the_same_port(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    try:
        first = _up(stack)
        assert first.ledger_pid
        os.kill(first.ledger_pid, signal.SIGKILL)
        os.waitpid(first.ledger_pid, 0)  # our child: reap it
        assert not stack.status().running

        second = stack.up()
        assert second.running and second.url == first.url
        assert second.ledger_pid and second.ledger_pid != first.ledger_pid
        assert second.postgres_pid == first.postgres_pid
        assert _ledger_servers(stack) == [second.ledger_pid]
        assert second.url
        _answers_with_postgres(second.url)

        stack.down()
        assert _ledger_servers(stack) == [] and _postgres_processes(stack) == []
    finally:
        stack.destroy()


def test_no_command_line_carries_the_postgres_password(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    try:
        status = _up(stack)
        secret = _password(stack)
        assert len(secret) == 32
        assert status.ledger_pid
        # The ledger does get it, through its environment (readable by its owner only).
        served = server.with_parameters(stack.postgres_uri(), server.TUNED_CONNECTION)
        assert f"POSTGRES_URI={served}".encode() in _proc(str(status.ledger_pid), "environ").split(b"\0")
        assert _command_lines_with(secret) == []
        assert _postgres_processes(stack), "the scan must see the cluster's processes"
    finally:
        stack.destroy()


def test_a_stray_ledger_of_the_state_folder_is_stopped_by_up_and_down(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    try:
        status = _up(stack)
        assert status.ledger_pid
        stray = _start_stray(stack)
        assert _ledger_servers(stack) == sorted([status.ledger_pid, stray])

        again = stack.up()
        assert again.ledger_pid == status.ledger_pid
        assert _ledger_servers(stack) == [status.ledger_pid]

        stray = _start_stray(stack)
        assert _ledger_servers(stack) == sorted([status.ledger_pid, stray])
        stack.down()
        assert _ledger_servers(stack) == [] and _postgres_processes(stack) == []
    finally:
        stack.destroy()


def _cluster_of(stack: LocalStack) -> postgres.PostgresCluster:
    pg = json.loads(stack.state_file.read_text())["postgres"]
    return postgres.PostgresCluster(Path(pg["data_dir"]), int(pg["port"]), str(pg["password"]))


def _serve_flags(pid: int | None) -> set[str]:
    assert pid
    return {arg.decode() for arg in _proc(str(pid), "cmdline").split(b"\0") if arg.startswith(b"--") and b"=" in arg}


def _serve_environment(pid: int | None) -> dict[str, str]:
    assert pid
    pairs = (item.decode().split("=", 1) for item in _proc(str(pid), "environ").split(b"\0") if b"=" in item)
    return dict(pairs)


def _flags(settings: dict[str, str]) -> set[str]:
    return {f"--{flag}={value}" for flag, value in settings.items()}


def test_a_default_and_a_tuned_stack_run_side_by_side_and_up_applies_new_settings(tmp_path: Path) -> None:
    plain, tuned = LocalStack(tmp_path / "plain", tuned=False), LocalStack(tmp_path / "tuned")
    try:
        _up(plain)
        plain_status, tuned_status = start_stack(tmp_path / "plain", tuned=False), start_stack(tmp_path / "tuned")
        assert plain_status.running and tuned_status.running and plain_status.url != tuned_status.url
        assert _serve_flags(plain_status.ledger_pid) == _flags(server.FUNCTIONAL_SETTINGS)
        assert _serve_flags(tuned_status.ledger_pid) == _flags(server.SERVE_SETTINGS)
        # Beyond the flags: the driver's query mode in the URI and the Go processors, only when tuned.
        plain_env, tuned_env = _serve_environment(plain_status.ledger_pid), _serve_environment(tuned_status.ledger_pid)
        assert "default_query_exec_mode" not in plain_env["POSTGRES_URI"]
        assert "default_query_exec_mode=simple_protocol" in tuned_env["POSTGRES_URI"]
        assert plain_env.get("GOMAXPROCS") == os.environ.get("GOMAXPROCS")
        assert tuned_env["GOMAXPROCS"] == os.environ.get("GOMAXPROCS", str(server.ledger_cpus()))
        assert _psql(_cluster_of(plain), "SHOW shared_buffers") == "128MB"  # PostgreSQL's default
        assert _psql(_cluster_of(tuned), "SHOW shared_buffers") == postgres.POSTGRES_SETTINGS["shared_buffers"]
        assert _psql(_cluster_of(tuned), "SHOW synchronous_commit") == "on"
        assert _psql(_cluster_of(tuned), "SHOW fsync") == "on"

        # The same folder brought up tuned: both processes are restarted with the project's settings.
        retuned = start_stack(tmp_path / "plain")
        assert retuned.running and retuned.ledger_pid != plain_status.ledger_pid
        assert retuned.postgres_pid != plain_status.postgres_pid
        assert _serve_flags(retuned.ledger_pid) == _flags(server.SERVE_SETTINGS)
        assert _psql(_cluster_of(plain), "SHOW shared_buffers") == postgres.POSTGRES_SETTINGS["shared_buffers"]
        assert _ledger_servers(plain) == [retuned.ledger_pid]
    finally:
        plain.destroy()
        tuned.destroy()


# The rest of the integration suite keeps its ledgers in the shared `_default` bucket (tests/support/programme.py
# builds LoyaltyProgram without a bucket): a new bucket costs ~0.1-1 s alone but up to the server's session
# lifetime (5-10 s) when another was created just before, against ~17 ms more per post in a crowded bucket.
def test_several_new_buckets_in_a_row_on_the_tuned_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """v2.4.12 fails a new bucket whose migration lands in the session of an earlier one (a temporary table
    left behind); the tuned server retires sessions and the client retries, so each `init` succeeds."""

    monkeypatch.delenv("LOYALTY_LEDGER_BUCKET", raising=False)
    stack = LocalStack(tmp_path / "state")
    try:
        status = _up(stack)
        assert status.url
        names = [f"b{uuid.uuid4().hex[:10]}" for _ in range(3)]
        for name in names:
            with create_app(ledger_url=status.url, ledger_name=name) as app:
                assert app.program.init()["ledger_created"] is True
        for name in names:
            ledger = httpx.get(f"{status.url}/v2/{name}", timeout=10).json()["data"]
            assert ledger["bucket"] == name
        buckets = _psql(_cluster_of(stack), "SELECT string_agg(DISTINCT bucket, ',' ORDER BY bucket) FROM _system.ledgers")
        assert buckets.split(",") == sorted(names)
    finally:
        stack.destroy()
