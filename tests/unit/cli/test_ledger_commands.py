"""`loyalty ledger ...` on a state folder where nothing runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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
    assert [line.split() for line in result.stdout.splitlines() if line.startswith("running")] == [["running", "false"]]


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


@pytest.mark.parametrize(("ledger_pid", "answers"), [(4321, True), (None, False)])
def test_the_local_ledger_is_used_while_its_process_lives_even_if_it_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ledger_pid: int | None, answers: bool
) -> None:
    # PostgreSQL restarting: the stack is not "running", but its ledger process is alive, so
    # commands go to it and the retry budget covers the restart. With no ledger process: exit 3 at once.
    from loyalty_accounts.cli.context import AppContext
    from loyalty_accounts.errors import LedgerUnavailable
    from loyalty_accounts.local import LocalStack, StackStatus

    monkeypatch.delenv("LOYALTY_LEDGER_URL", raising=False)
    status = StackStatus(
        url="http://127.0.0.1:4999", version=None, postgres=None, running=False,
        ledger_pid=ledger_pid, postgres_pid=None, state_dir=str(tmp_path),
    )
    monkeypatch.setattr(LocalStack, "status", lambda self: status)
    context = AppContext(None, "loyalty", None, tmp_path)
    if answers:
        assert context.connection().url == "http://127.0.0.1:4999"
    else:
        with pytest.raises(LedgerUnavailable, match="no ledger to talk to"):
            context.connection()
