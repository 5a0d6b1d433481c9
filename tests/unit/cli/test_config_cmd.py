"""One configuration: `loyalty config show` says where each value came from; --config; misspelt variables;
`loyalty init --example DIR` writes the programme's files to edit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.settings import DEFAULTS

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("LOYALTY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.chdir(tmp_path)


def _shown(*args: str) -> dict[str, dict[str, str]]:
    result = runner.invoke(app, [*args, "config", "show", "-f", "json"])
    assert result.exit_code == 0, result.output
    return {row["setting"]: row for row in json.loads(result.stdout)}


def test_config_show_names_the_source_of_every_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "loyalty.toml").write_text('ledger_name = "books"\nledger_timeout = 20.0\nchart = "my-chart.yaml"\n')
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "30")
    monkeypatch.setenv("LOYALTY_OAUTH_CLIENT_SECRET", "s3cret-value")
    rows = _shown("--ledger-url", "http://127.0.0.1:3068")
    assert (rows["ledger_url"]["value"], rows["ledger_url"]["source"]) == ("http://127.0.0.1:3068", "--ledger-url")
    assert (rows["ledger_timeout"]["value"], rows["ledger_timeout"]["source"]) == ("30.0", "environment LOYALTY_LEDGER_TIMEOUT")
    assert (rows["ledger_name"]["value"], rows["ledger_name"]["source"]) == ("books", str(tmp_path / "loyalty.toml"))
    assert rows["chart"]["value"] == str(tmp_path / "my-chart.yaml")  # relative to the file's folder
    assert (rows["rules"]["value"], rows["rules"]["source"]) == (str(DEFAULTS / "rules.yaml"), "default")
    assert rows["ledger_gateway"]["value"] == "false"
    # secrets: whether they are set, never their value
    assert rows["oauth_client_secret"]["value"] == "(set, not shown)"
    assert rows["postgres_uri"]["value"] == "(not set)"
    table = runner.invoke(app, ["config", "show"])
    assert "s3cret-value" not in table.stdout and "s3cret-value" not in json.dumps(rows)


def test_config_option_names_the_settings_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('ledger_name = "from-option"\n')
    rows = _shown("--config", str(other))
    assert (rows["ledger_name"]["value"], rows["ledger_name"]["source"]) == ("from-option", str(other))
    missing = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "config", "show"])
    assert missing.exit_code == 2 and "no such settings file" in missing.output


def test_a_misspelt_variable_is_refused_with_the_likely_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGR_URL", "http://127.0.0.1:3068")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: LOYALTY_LEDGR_URL: no such setting (did you mean LOYALTY_LEDGER_URL?); `loyalty config show` lists them"
    )


def test_init_example_writes_the_programme_to_edit_and_nothing_twice(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "--example", "programme"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "programme"
    assert (folder / "chart_of_accounts.yaml").read_text() == (DEFAULTS / "chart_of_accounts.yaml").read_text()
    assert (folder / "rules.yaml").read_text() == (DEFAULTS / "rules.yaml").read_text()
    assert sorted(p.name for p in (folder / "numscript").iterdir()) == sorted(p.name for p in (DEFAULTS / "numscript").glob("*.num"))
    # commands run from the folder use the copies
    (folder / "rules.yaml").write_text((folder / "rules.yaml").read_text())
    rows = _shown("--config", str(folder / "loyalty.toml"))
    assert rows["chart"]["value"] == str(folder / "chart_of_accounts.yaml")
    assert rows["numscript_dir"]["value"] == str(folder / "numscript")
    again = runner.invoke(app, ["init", "--example", "programme"])
    assert again.exit_code == 2 and "already exists: nothing was written" in again.stderr


def test_config_show_hides_a_password_in_the_ledger_url() -> None:
    rows = _shown("--ledger-url", "http://bob:hunter2@127.0.0.1:3068")
    assert rows["ledger_url"]["value"] == "http://bob:***@127.0.0.1:3068"


def test_registry_settings_are_listed_and_the_key_and_url_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # the base64 of bytes 0..31
    url = "postgresql://reg:pa55word@db.internal:5432/members"
    monkeypatch.setenv("LOYALTY_REGISTRY_KEY", key)
    monkeypatch.setenv("LOYALTY_REGISTRY_URL", url)
    monkeypatch.setenv("LOYALTY_OPERATOR", "ops-17")
    rows = _shown()
    assert rows["registry_key"]["value"] == rows["registry_url"]["value"] == "(set, not shown)"
    assert rows["registry_url"]["source"] == "environment LOYALTY_REGISTRY_URL"
    assert rows["operator"]["value"] == "ops-17"
    assert rows["registry_key_file"]["value"].startswith("(none: for the local stack's registry")
    table = runner.invoke(app, ["config", "show"]).stdout
    assert key not in table and "pa55word" not in table and key not in json.dumps(rows)


def test_unset_registry_settings_say_what_they_default_to() -> None:
    rows = _shown()
    assert rows["registry_url"]["value"] == "(none: database loyalty_registry in the local stack's PostgreSQL)"
    assert rows["registry_key"]["value"] == "(none: registry_key_file)"


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("LOYALTY_REGISTRY_KEY", "c2hvcnQ=", "error: LOYALTY_REGISTRY_KEY: registry key must be the base64 of 32 bytes, got 5 bytes"),
        ("LOYALTY_REGISTRY_KEY", "not-base64!!", "error: LOYALTY_REGISTRY_KEY: registry key must be the base64 of 32 bytes: this is not base64"),
        ("LOYALTY_REGISTRY_URL", "http://db/members", "error: LOYALTY_REGISTRY_URL: registry URL must be postgresql://"),
        ("LOYALTY_OPERATOR", "Jane Doe", "error: LOYALTY_OPERATOR: operator id must match"),
    ],
)
def test_a_malformed_registry_setting_is_one_line_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["member", "show", "m_" + "a" * 22])
    assert result.exit_code == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1
    if variable != "LOYALTY_OPERATOR":
        assert value not in result.stderr
