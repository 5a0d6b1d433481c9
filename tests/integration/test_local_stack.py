"""The project's own bring-up: a private PostgreSQL, the ledger, and clean stops."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from loyalty_accounts.errors import LedgerBuildRefused
from loyalty_accounts.local import LocalStack, postgres
from loyalty_accounts.local.paths import LEDGER_VERSION
from loyalty_accounts.local.procs import pid_alive, port_open


def _psql(cluster: postgres.PostgresCluster, sql: str) -> str:
    psql = postgres.find_pg_bin() / "psql"
    uri = cluster.uri.replace("?sslmode=disable", "")
    proc = subprocess.run([str(psql), uri, "-tAc", sql], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_private_postgres_listens_on_loopback_only_and_stops(tmp_path: Path) -> None:
    cluster = postgres.create_cluster(tmp_path)
    try:
        cluster = postgres.start(cluster, tmp_path / "pg.log")
        pid = cluster.pid
        assert pid and pid_alive(pid)
        assert _psql(cluster, "SHOW listen_addresses") == "127.0.0.1"
        assert _psql(cluster, "SELECT current_database()") == "ledger"
        # A wrong password is refused: the cluster is not open to anyone on the machine.
        bad = cluster.uri.replace(cluster.password, "not-the-password").replace("?sslmode=disable", "")
        denied = subprocess.run([str(postgres.find_pg_bin() / "psql"), bad, "-tAc", "SELECT 1"], capture_output=True, text=True)
        assert denied.returncode != 0
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
        try:
            first = stack.up()
        except LedgerBuildRefused as exc:
            pytest.skip(f"BLOCKED: {exc.message}")
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
