"""`loyalty ledger ...` on a state folder where nothing runs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()


def test_status_json_when_nothing_runs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ledger", "status", "--json", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["running"] is False
    assert payload["url"] is None and payload["version"] is None
    assert set(payload) >= {"url", "version", "postgres", "running"}


def test_down_when_nothing_runs_is_harmless(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ledger", "down", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "running" in result.stdout and "False" in result.stdout


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    result = runner.invoke(app, ["ledger", "status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 3
    assert "state file" in result.stderr


def test_every_command_has_help() -> None:
    for args in (["--help"], ["ledger", "--help"], ["ledger", "up", "--help"], ["ledger", "status", "--help"], ["ledger", "down", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.stdout


def test_global_state_dir_reaches_the_ledger_commands(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--state-dir", str(tmp_path), "ledger", "status", "--json"])
    assert json.loads(result.stdout)["state_dir"] == str(tmp_path.resolve())
