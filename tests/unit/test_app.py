"""The composition root: settings in, chart, rules, templates, ledger client and services out."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from support.fake_ledger import FakeLedger

from loyalty_accounts.app import App, LocalRegistry, create_app, ledger_connection
from loyalty_accounts.errors import ChartError, InvalidCommand, LedgerUnavailable, RegistryUnavailable
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.members import RegistryScreen
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOYALTY_LEDGER_URL", "LOYALTY_LEDGER_NAME", "LOYALTY_CHART", "LOYALTY_RULES", "LOYALTY_NUMSCRIPT_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_the_app_wires_the_files_the_settings_name(tmp_path: Path) -> None:
    shutil.copy(ROOT / "chart_of_accounts.yaml", tmp_path / "chart.yaml")
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    shutil.copytree(ROOT / "numscript", tmp_path / "templates")
    settings = load_settings(chart=tmp_path / "chart.yaml", rules=tmp_path / "rules.yaml", numscript_dir=tmp_path / "templates")
    app = App(settings)
    assert app.chart.schema_version() == create_app().chart.schema_version()
    assert app.catalogue.directory == tmp_path / "templates"
    assert "earn" in app.catalogue
    assert app.rules == create_app().rules
    assert app.chart is app.chart and app.rules is app.rules, "each part is built once"


def test_the_services_share_one_ledger_chart_and_catalogue() -> None:
    fake = FakeLedger("books")
    app = create_app(ledger=fake)
    program, reports = app.program, app.reports
    assert isinstance(program, LoyaltyProgram) and isinstance(reports, FinanceReports)
    assert program.ledger is fake and reports.ledger is fake and app.ledger is fake
    assert program.chart is app.chart and reports.chart is app.chart
    assert program.catalogue is app.catalogue
    assert program.rules is app.rules
    assert app.program is program and app.reports is reports
    program.init()
    assert fake.created


def test_reading_the_rules_needs_no_ledger() -> None:
    app = create_app()
    assert app.rules.version
    with pytest.raises(LedgerUnavailable, match="no ledger to talk to: set LOYALTY_LEDGER_URL"):
        app.connection()


def test_a_broken_rules_file_is_a_chart_error_when_the_rules_are_first_needed(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("version: [\n", encoding="utf-8")
    app = create_app(rules=tmp_path / "rules.yaml", ledger=FakeLedger())
    assert app.chart is not None
    with pytest.raises(ChartError, match="rules.yaml"):
        app.program


def test_the_connection_carries_every_ledger_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_GATEWAY", "1")
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "2.5")
    monkeypatch.setenv("LOYALTY_LEDGER_RETRY_BUDGET", "0")
    monkeypatch.setenv("LOYALTY_OAUTH_CLIENT_ID", "id")
    monkeypatch.setenv("LOYALTY_OAUTH_CLIENT_SECRET", "secret")
    monkeypatch.setenv("LOYALTY_OAUTH_TOKEN_URL", "https://auth.example/token")
    connection = create_app(ledger_url="https://stack.example/api/ledger/", ledger_name="books").connection()
    assert connection.url == "https://stack.example/api/ledger"
    assert connection.ledger == "books"
    assert connection.gateway is True
    assert (connection.timeout_s, connection.retry_budget_s) == (2.5, 0.0)
    assert (connection.client_id, connection.client_secret, connection.token_url) == (
        "id", "secret", "https://auth.example/token"
    )


def test_without_a_url_the_finder_is_asked_and_the_default_ledger_applies() -> None:
    asked: list[str] = []

    def find() -> str:
        asked.append("local")
        return "http://127.0.0.1:4999"

    app = App(load_settings(), find_ledger=find, default_ledger="demo")
    connection = app.connection()
    assert (connection.url, connection.ledger, app.ledger_name) == ("http://127.0.0.1:4999", "demo", "demo")
    assert asked == ["local"]
    named = App(load_settings(ledger_url="http://127.0.0.1:3068", ledger_name="books"), find_ledger=find, default_ledger="demo")
    assert (named.connection().ledger, named.ledger_name) == ("books", "books")
    assert asked == ["local"], "a URL in the settings is used as given"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ledger_url": "ftp://ledger"}, "--ledger-url / LOYALTY_LEDGER_URL: ledger URL must be http(s)://"),
        ({"ledger_name": "two words"}, "--ledger / LOYALTY_LEDGER_NAME: ledger name must match"),
        ({"oauth_client_id": "id"}, "LOYALTY_OAUTH_CLIENT_ID / LOYALTY_OAUTH_CLIENT_SECRET: OAuth2 needs both"),
    ],
)
def test_a_malformed_ledger_setting_is_one_line_naming_it(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidCommand) as caught:  # the URL and the name: from the settings already
        settings = load_settings(**{"ledger_url": "http://127.0.0.1:3068", **overrides})
        ledger_connection(settings, url=settings.ledger_url or "")
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message


def test_the_http_client_is_opened_once_and_closed_with_the_app() -> None:
    with create_app(ledger_url="http://127.0.0.1:9") as app:
        client = app.client()
        assert isinstance(client, LedgerClient)
        assert app.client() is client and app.ledger is client
        assert client.ledger == "loyalty"
    assert client._transport.http.is_closed


def test_create_app_takes_settings_or_overrides() -> None:
    settings = Settings()
    assert create_app(settings).settings is settings
    assert create_app(ledger_name="books").settings.ledger_name == "books"
    with pytest.raises(TypeError):
        create_app(settings, ledger_name="books")


def test_a_file_value_is_blamed_on_the_file_not_on_the_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "loyalty.toml"
    config.write_text('ledger_url = "not a url"\n', encoding="utf-8")
    monkeypatch.setenv("LOYALTY_CONFIG", str(config))
    with pytest.raises(InvalidCommand) as caught:
        create_app().connection()
    assert caught.value.message.startswith(f"{config}: ledger_url: ledger URL must be http(s)://")
    assert "LOYALTY_LEDGER_URL" not in caught.value.message and "--ledger-url" not in caught.value.message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"url": "ftp://ledger"}, "ledger URL must be http(s)://host[:port][/path], got 'ftp://ledger'"),
        ({"url": "http://127.0.0.1:3068", "ledger": "two words"}, "ledger name must match"),
    ],
)
def test_a_connection_argument_not_from_the_settings_is_not_blamed_on_them(
    arguments: dict[str, str], message: str
) -> None:
    """A URL or a name the caller passes (the local stack's, the command's default) is not a setting."""

    with pytest.raises(InvalidCommand) as caught:
        ledger_connection(load_settings(), **arguments)
    assert caught.value.message.startswith(message)
    assert "LOYALTY_" not in caught.value.message and "--ledger" not in caught.value.message


def test_an_unknown_keyword_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="unknown setting 'bogus'") as caught:
        create_app(ledger_url="http://127.0.0.1:3068", bogus=1)
    assert "None" not in str(caught.value)


def test_the_programme_and_reconcile_allow_the_clock_skew_the_settings_give(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_CLOCK_SKEW_SECONDS", "7")
    app = create_app(ledger=FakeLedger("books"))
    assert app.program.executor.clock_skew == timedelta(seconds=7)
    assert app.reports.clock_skew == timedelta(seconds=7)
    monkeypatch.delenv("LOYALTY_CLOCK_SKEW_SECONDS")
    default = create_app(ledger=FakeLedger("books"))
    assert default.program.executor.clock_skew == default.reports.clock_skew == timedelta(minutes=2)


def test_the_programme_creates_its_ledger_in_a_bucket_named_after_it_unless_the_settings_name_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOYALTY_LEDGER_BUCKET", raising=False)
    own = FakeLedger("books")
    app = create_app(ledger=own, ledger_name="books")
    assert app.ledger_bucket == "books"
    app.program.init()
    assert own.bucket == "books"
    shared = FakeLedger("books")
    monkeypatch.setenv("LOYALTY_LEDGER_BUCKET", "_default")
    create_app(ledger=shared, ledger_name="books").program.init()
    assert shared.bucket == "_default"


def test_without_a_registry_plans_are_screened_by_pattern_only_and_nothing_is_opened() -> None:
    def no_registry() -> LocalRegistry:
        raise AssertionError("the registry must not be looked for")

    app = App(load_settings(), ledger=FakeLedger, find_registry=no_registry, local_registry_used=lambda: False)
    assert not app.registry_configured and app.personal_data() is None
    assert app.program.executor.personal_data is None and app.reports.personal_data is None


def test_a_configured_registry_is_wired_into_the_programme_and_reconcile_and_opened_only_when_used() -> None:
    opened: list[str] = []

    def local() -> LocalRegistry:
        opened.append("local")
        raise RegistryUnavailable("the local PostgreSQL is not running")

    app = App(load_settings(), ledger=FakeLedger, find_registry=local, local_registry_used=lambda: True)
    assert app.registry_configured
    assert isinstance(app.program.executor.personal_data, RegistryScreen) and isinstance(app.reports.personal_data, RegistryScreen)
    assert opened == []
    with pytest.raises(RegistryUnavailable):  # a configured registry that cannot be reached: nothing posts unchecked
        app.program.executor.personal_data.members_data({"customer": "c1"})
    assert opened == ["local"]
    assert App(load_settings(registry_url="postgresql://db.example/registry")).registry_configured
