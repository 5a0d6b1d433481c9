"""The one settings model: environment, settings file, precedence and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.settings import (
    DEFAULTS,
    Settings,
    config_file,
    load_settings,
    variable_name,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LOYALTY_* / XDG_* variable from the developer's shell, no settings file, a fresh home."""

    for name in [*(variable_name(field) for field in Settings.model_fields), "LOYALTY_CONFIG", "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_checkout_files_and_the_xdg_folders(tmp_path: Path) -> None:
    settings = load_settings()
    home = tmp_path / "home"
    assert settings.ledger_url is None
    assert settings.ledger_name is None
    assert settings.ledger_gateway is False
    assert (settings.ledger_timeout, settings.ledger_retry_budget) == (10.0, 45.0)
    assert settings.chart == DEFAULTS / "chart_of_accounts.yaml"
    assert settings.rules == DEFAULTS / "rules.yaml"
    assert settings.numscript_dir == DEFAULTS / "numscript"
    assert settings.ledger_server_src == DEFAULTS / "ledger-server"
    assert settings.state_dir == home / ".local" / "state" / "loyalty-accounts"
    assert settings.cache_dir == home / ".cache" / "loyalty-accounts"
    assert settings.ledger_bin is None and settings.postgres_uri is None
    assert (settings.chart.is_file(), settings.rules.is_file(), settings.numscript_dir.is_dir()) == (True, True, True)


def test_every_field_has_one_variable_with_the_loyalty_prefix_except_the_xdg_bases() -> None:
    names = {field: variable_name(field) for field in Settings.model_fields}
    assert names["ledger_url"] == "LOYALTY_LEDGER_URL"
    assert names["ledger_retry_budget"] == "LOYALTY_LEDGER_RETRY_BUDGET"
    assert names["numscript_dir"] == "LOYALTY_NUMSCRIPT_DIR"
    assert names["xdg_state_home"] == "XDG_STATE_HOME"
    assert names["xdg_cache_home"] == "XDG_CACHE_HOME"
    assert sorted(n for n in names.values() if not n.startswith("LOYALTY_")) == ["XDG_CACHE_HOME", "XDG_STATE_HOME"]


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_URL", "http://ledger.example:3068")
    monkeypatch.setenv("LOYALTY_LEDGER_NAME", "books")
    monkeypatch.setenv("LOYALTY_LEDGER_GATEWAY", "yes")
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "2.5")
    monkeypatch.setenv("LOYALTY_LEDGER_RETRY_BUDGET", "0")
    monkeypatch.setenv("LOYALTY_OAUTH_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("LOYALTY_CHART", str(tmp_path / "chart.yaml"))
    monkeypatch.setenv("LOYALTY_POSTGRES_URI", "postgresql://u:pw@db/ledger")
    monkeypatch.setenv("LOYALTY_LEDGER_BIN", "~/bin/ledger")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "cache"))
    settings = load_settings()
    assert settings.ledger_url == "http://ledger.example:3068"
    assert settings.ledger_name == "books"
    assert settings.ledger_gateway is True
    assert (settings.ledger_timeout, settings.ledger_retry_budget) == (2.5, 0.0)
    assert settings.oauth_client_secret is not None and settings.oauth_client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings) and "pw@" not in repr(settings)
    assert settings.chart == tmp_path / "chart.yaml"
    assert settings.ledger_bin == tmp_path / "home" / "bin" / "ledger"
    assert settings.state_dir == tmp_path / "state" / "loyalty-accounts"
    assert settings.cache_dir == tmp_path / "cache"


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_CHART", "")
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "")
    monkeypatch.setenv("XDG_STATE_HOME", "")
    settings = load_settings()
    assert settings.chart == DEFAULTS / "chart_of_accounts.yaml"
    assert settings.ledger_timeout == 10.0
    assert settings.state_dir.parent == Path.home() / ".local" / "state"


def test_the_file_at_loyalty_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write(
        tmp_path / "etc" / "loyalty.toml",
        'ledger_url = "http://ledger.example:3068"\nledger_timeout = 3\nledger_gateway = true\n'
        'rules = "rules/prod.yaml"\nstate_dir = "/var/lib/loyalty"\n',
    )
    monkeypatch.setenv("LOYALTY_CONFIG", str(config))
    settings = load_settings()
    assert config_file() == config
    assert settings.ledger_url == "http://ledger.example:3068"
    assert settings.ledger_timeout == 3.0
    assert settings.ledger_gateway is True
    assert settings.rules == tmp_path / "etc" / "rules" / "prod.yaml", "a relative path is taken from the file's folder"
    assert settings.state_dir == Path("/var/lib/loyalty")


def test_the_file_is_looked_for_in_the_working_directory_then_the_user_config_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert config_file() is None
    user = write(tmp_path / "home" / ".config" / "loyalty-accounts" / "loyalty.toml", 'ledger_name = "user"\n')
    assert config_file() == user and load_settings().ledger_name == "user"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_file() is None
    xdg = write(tmp_path / "xdg" / "loyalty-accounts" / "loyalty.toml", 'ledger_name = "xdg"\n')
    assert config_file() == xdg
    here = write(tmp_path / "loyalty.toml", 'ledger_name = "here"\n')
    assert config_file() == here and load_settings().ledger_name == "here"
    named = write(tmp_path / "named.toml", 'ledger_name = "named"\n')
    monkeypatch.setenv("LOYALTY_CONFIG", str(named))
    assert config_file() == named and load_settings().ledger_name == "named"


def test_precedence_given_values_then_environment_then_file_then_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(tmp_path / "loyalty.toml", 'ledger_name = "file"\nledger_timeout = 5\nledger_retry_budget = 7\n')
    monkeypatch.setenv("LOYALTY_LEDGER_NAME", "env")
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "6")
    settings = load_settings(ledger_name="flag", chart=None)
    assert settings.ledger_name == "flag", "a given value wins over the environment"
    assert settings.ledger_timeout == 6.0, "the environment wins over the file"
    assert settings.ledger_retry_budget == 7.0, "the file wins over the default"
    assert settings.chart == DEFAULTS / "chart_of_accounts.yaml", "None means not given"
    assert load_settings().ledger_name == "env"


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(Exception):
        settings.ledger_name = "other"  # type: ignore[misc]


def test_a_missing_named_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOYALTY_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(InvalidCommand) as caught:
        load_settings()
    assert caught.value.message == f"LOYALTY_CONFIG={tmp_path / 'nowhere.toml'}: no such settings file"
    assert caught.value.exit_code == 2


def refusal(config: Path, text: str) -> str:
    """The one-line message load_settings() refuses the settings file ``config`` holding ``text`` with."""

    write(config, text)
    with pytest.raises(InvalidCommand) as caught:
        load_settings()
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message
    return caught.value.message


def test_a_malformed_file_is_one_line_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "loyalty.toml"
    message = refusal(config, "ledger_timeout = \n")
    assert message.startswith(f"{config}: not a valid TOML settings file (")
    assert "line 1" in message


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "loyalty.toml"
    assert refusal(config, "ledger_timout = 3\n") == f"{config}: unknown setting 'ledger_timout'"


def test_a_malformed_value_in_the_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "loyalty.toml"
    message = refusal(config, 'ledger_gateway = "maybe"\n')
    assert message.startswith(f"{config}: ledger_gateway: ")
    assert message.endswith("got 'maybe'")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("LOYALTY_LEDGER_TIMEOUT", "soon", "valid number"),
        ("LOYALTY_LEDGER_TIMEOUT", "0", "greater than 0"),
        ("LOYALTY_LEDGER_RETRY_BUDGET", "-1", "greater than or equal to 0"),
        ("LOYALTY_LEDGER_GATEWAY", "maybe", "valid boolean"),
        ("LOYALTY_LEDGER_TIMEOUT", "inf", "finite number"),
        ("LOYALTY_LEDGER_TIMEOUT", "nan", "finite number"),
        ("LOYALTY_LEDGER_TIMEOUT", "1e400", "finite number"),
        ("LOYALTY_LEDGER_TIMEOUT", "3601", "less than or equal to 3600"),
        ("LOYALTY_LEDGER_RETRY_BUDGET", "inf", "finite number"),
        ("LOYALTY_LEDGER_RETRY_BUDGET", "-inf", "finite number"),
        ("LOYALTY_LEDGER_RETRY_BUDGET", "86401", "less than or equal to 86400"),
    ],
)
def test_a_malformed_variable_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    write(tmp_path / "loyalty.toml", "ledger_timeout = 3\n")
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidCommand) as caught:
        load_settings()
    message = caught.value.message
    assert message.startswith(f"{variable}: ") and problem in message
    assert message.endswith(f"got {value!r}") and "\n" not in message
    assert caught.value.exit_code == 2


def test_a_secret_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    message = refusal(tmp_path / "loyalty.toml", "postgres_uri = 5\n")
    assert message.startswith(f"{tmp_path / 'loyalty.toml'}: postgres_uri: ")
    assert "got" not in message


def test_the_package_reads_its_files_and_folders_through_the_settings(tmp_path: Path) -> None:
    from loyalty_accounts.chart import default_chart_path
    from loyalty_accounts.local.paths import (
        cache_dir,
        default_state_dir,
        ledger_server_source,
    )
    from loyalty_accounts.numscript import default_template_dir

    write(
        tmp_path / "loyalty.toml",
        'chart = "c.yaml"\nnumscript_dir = "num"\nstate_dir = "state"\ncache_dir = "cache"\nledger_server_src = "src"\n',
    )
    assert default_chart_path() == tmp_path / "c.yaml"
    assert default_template_dir() == tmp_path / "num"
    assert default_state_dir() == tmp_path / "state"
    assert cache_dir() == tmp_path / "cache"
    assert ledger_server_source() == tmp_path / "src"


def test_every_path_field_expands_home_and_follows_the_file() -> None:
    from loyalty_accounts.settings import _PATH_FIELDS

    paths = {name for name, info in Settings.model_fields.items() if "Path" in str(info.annotation)}
    assert set(_PATH_FIELDS) == paths


def test_a_file_that_is_not_utf8_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_bytes(b"\xff\xfe")
    monkeypatch.setenv("LOYALTY_CONFIG", str(config))
    with pytest.raises(InvalidCommand) as caught:
        load_settings()
    assert caught.value.message.startswith(f"{config}: not a valid TOML settings file (not UTF-8")
    assert "\n" not in caught.value.message and caught.value.exit_code == 2


def test_the_largest_timeouts_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "3600")
    monkeypatch.setenv("LOYALTY_LEDGER_RETRY_BUDGET", "86400")
    settings = load_settings()
    assert (settings.ledger_timeout, settings.ledger_retry_budget) == (3600.0, 86400.0)


def test_an_infinite_timeout_in_the_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "loyalty.toml"
    message = refusal(config, "ledger_timeout = inf\n")
    assert message.startswith(f"{config}: ledger_timeout: ") and "finite number" in message


BAD_URL = "ledger URL must be http(s)://host[:port][/path]"
BAD_NAME = "ledger name must match ^[0-9a-zA-Z_-]{1,63}$"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("ledger_url", "not a url", BAD_URL),
        ("ledger_url", "ftp://ledger", BAD_URL),
        ("ledger_url", "http://", BAD_URL),
        ("ledger_url", "http://ledger:x", BAD_URL),
        ("ledger_url", "http://ledger:70000", BAD_URL),
        ("ledger_url", "http://ledger:0", BAD_URL),
        ("ledger_url", "http://led ger", BAD_URL),
        ("ledger_url", "http://ledger/?q=1", BAD_URL),
        ("ledger_url", "", BAD_URL),
        ("ledger_name", "two words", BAD_NAME),
        ("ledger_name", "x" * 64, BAD_NAME),
        ("ledger_name", "", BAD_NAME),
    ],
)
def test_a_malformed_ledger_url_or_name_names_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, value: str, problem: str
) -> None:
    config = tmp_path / "loyalty.toml"
    from_file = refusal(config, f"{key} = {value!r}\n".replace("'", '"'))
    assert from_file == f"{config}: {key}: {problem}, got {value!r}"
    if value:
        monkeypatch.setenv(variable_name(key), value)
        with pytest.raises(InvalidCommand) as from_env:
            load_settings()
        assert from_env.value.message == f"{variable_name(key)}: {problem}, got {value!r}"
    option = {"ledger_url": "--ledger-url", "ledger_name": "--ledger"}[key]
    with pytest.raises(InvalidCommand) as given:
        load_settings(**{key: value})
    assert given.value.message == f"{option} / {variable_name(key)}: {problem}, got {value!r}"
    assert given.value.exit_code == 2


def test_a_good_ledger_url_and_name_are_kept_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    urls = ("http://127.0.0.1:3068", "https://stack.example/api/ledger/", "http://[::1]:3068/", "HTTPS://Ledger.Example")
    for url in urls:
        assert load_settings(ledger_url=url).ledger_url == url
    assert load_settings(ledger_name="a-B_9" + "x" * 58).ledger_name == "a-B_9" + "x" * 58


def test_an_empty_value_given_is_refused_but_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_URL", "")
    monkeypatch.setenv("LOYALTY_LEDGER_NAME", "")
    assert (load_settings().ledger_url, load_settings().ledger_name) == (None, None)
    for key, option in (("ledger_url", "--ledger-url"), ("ledger_name", "--ledger")):
        with pytest.raises(InvalidCommand) as caught:
            load_settings(**{key: ""})
        assert caught.value.message.startswith(f"{option} / ") and caught.value.message.endswith("got ''")


def test_an_unknown_keyword_is_a_type_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown setting 'bogus'") as caught:
        load_settings(ledger_url="http://127.0.0.1:3068", bogus=1)
    assert "None" not in str(caught.value)
    write(tmp_path / "loyalty.toml", 'ledger_name = "books"\n')
    with pytest.raises(TypeError, match="unknown setting 'bogus'"):
        load_settings(bogus=None)


def test_the_clock_skew_is_two_minutes_unless_set_and_bounded_to_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().clock_skew_seconds == 120
    assert variable_name("clock_skew_seconds") == "LOYALTY_CLOCK_SKEW_SECONDS"
    monkeypatch.setenv("LOYALTY_CLOCK_SKEW_SECONDS", "0")
    assert load_settings().clock_skew_seconds == 0
    monkeypatch.setenv("LOYALTY_CLOCK_SKEW_SECONDS", "86400")
    assert load_settings().clock_skew_seconds == 86400
    for bad in ("86401", "-1", "soon"):
        monkeypatch.setenv("LOYALTY_CLOCK_SKEW_SECONDS", bad)
        with pytest.raises(InvalidCommand) as caught:
            load_settings()
        assert caught.value.message.startswith("LOYALTY_CLOCK_SKEW_SECONDS: ") and repr(bad) in caught.value.message


def test_the_ledger_bucket_defaults_to_none_and_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().ledger_bucket is None
    monkeypatch.setenv("LOYALTY_LEDGER_BUCKET", "_default")
    assert load_settings().ledger_bucket == "_default"
    assert load_settings(ledger_bucket="loyalty-2026").ledger_bucket == "loyalty-2026"


@pytest.mark.parametrize("bucket", ["", "has space", "a" * 64, "dé", "_system", "public", "pg_temp"])
def test_a_malformed_or_reserved_bucket_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, bucket: str
) -> None:
    with pytest.raises(InvalidCommand, match="setting ledger_bucket: bucket name"):
        load_settings(ledger_bucket=bucket)
    if bucket:  # an empty variable counts as unset
        monkeypatch.setenv("LOYALTY_LEDGER_BUCKET", bucket)
        with pytest.raises(InvalidCommand, match="^LOYALTY_LEDGER_BUCKET: bucket name"):
            load_settings()
