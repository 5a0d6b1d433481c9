"""The built wheel, installed in a clean virtualenv and run from an empty folder, does the whole job (issue 12).

Nothing of the checkout is reachable from there: the chart, the rules and the
Numscript templates come from inside the installed package, the settings from
the environment only (no ``LOYALTY_*`` variable of the developer's, no
``loyalty.toml``), the ledger server from the same lookup ``loyalty ledger up``
uses on any machine. The test builds the wheel, installs it with its
dependencies from the package index, brings a ledger up with the installed
command, runs the demo and a day's commands on it, and takes it down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from loyalty_accounts.errors import LedgerServerNotFound
from loyalty_accounts.local.paths import LEDGER_VERSION
from loyalty_accounts.local.server import ledger_binary
from loyalty_accounts.version import __version__

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_installed_in_a_clean_virtualenv_runs_from_an_empty_folder(tmp_path: Path) -> None:
    try:
        ledger_binary()
    except LedgerServerNotFound as exc:
        pytest.skip(f"BLOCKED: no Formance Ledger {LEDGER_VERSION} server is installed or can be built on this machine: {exc.message}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(LOYALTY_STATE_DIR=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))

    built = _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path / "wheel")], cwd=tmp_path, env=env)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "wheel").glob("loyalty_accounts-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"loyalty_accounts/defaults/chart_of_accounts.yaml", "loyalty_accounts/defaults/rules.yaml",
            "loyalty_accounts/defaults/numscript/earn.num", "loyalty_accounts/defaults/ledger-server/go.mod"} <= set(names)

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env).returncode == 0
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def loyalty(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(venv / "bin" / "loyalty"), *args], cwd=empty, env=env)

    version = loyalty("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"loyalty-accounts {__version__}")
    # the package's own data, not the checkout's
    shown = loyalty("config", "show", "-f", "json")
    assert shown.returncode == 0, shown.stderr
    chart = {row["setting"]: row for row in json.loads(shown.stdout)}["chart"]
    assert chart["source"] == "default" and str(venv) in chart["value"] and str(ROOT) not in chart["value"]
    quote = loyalty("quote", "--amount", "10.00", "--currency", "USD", "-f", "json")
    assert quote.returncode == 0, quote.stderr
    assert json.loads(quote.stdout)["points"] == 10

    up = loyalty("ledger", "up")
    try:
        assert up.returncode == 0, up.stderr
        demo = loyalty("demo")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "Trial balance (every asset sums to zero): AWARDS 0, CAMP 0, CTL 0, PTS 0, QPTS 0, SKYMILES 0, USD/2 0" in demo.stdout
        assert loyalty("init").returncode == 0
        earned = loyalty("earn", "-c", "zoe", "--order", "Z-1", "--amount", "42.00", "--ordered-at", "2026-05-01T10:00:00Z", "-f", "json")
        assert earned.returncode == 0, earned.stderr
        assert json.loads(earned.stdout)["points"] == 42
        released = loyalty("release", "-f", "json")  # its chargeback window ended on 2026-05-15
        assert released.returncode == 0, released.stderr
        balance = json.loads(loyalty("balance", "-c", "zoe", "-f", "json").stdout)
        assert (balance["spendable"], balance["total"]) == (42, 42)
        liability = json.loads(loyalty("--ledger", "demo", "report", "liability", "-f", "json").stdout)
        assert liability["total_points"] == 2882 and liability["ties"] is True
        reconcile = loyalty("reconcile", "-f", "json")
        assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
        # events from the installed package, and the registry's migrations (event delivery, API keys) from the wheel
        told = loyalty("events", "tail", "--no-follow", "--from", "start", "-f", "json")
        assert told.returncode == 0, told.stderr
        events = [json.loads(line) for line in told.stdout.splitlines()]
        assert [(e["type"], e["member"], e["points"]) for e in events] == [("points.earned", "zoe", 42), ("points.released", "zoe", 42)]
        key = loyalty("key", "create", "--scope", "finance:read", "--label", "wheel-check", "-f", "json")
        assert key.returncode == 0, key.stderr
        assert json.loads(key.stdout)["api_key"].startswith("lk_")
        # the example programme to edit, written out of the package
        example = loyalty("init", "--example", "programme")
        assert example.returncode == 0, example.stderr
        assert (empty / "programme" / "numscript" / "earn.num").read_text() == (ROOT / "numscript" / "earn.num").read_text()
        assert (empty / "programme" / "loyalty.toml").is_file()
    finally:
        down = loyalty("ledger", "down")
        assert down.returncode == 0, down.stderr
