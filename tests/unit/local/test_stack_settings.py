"""The settings a local stack starts with: tuned (the project's) or Formance's and PostgreSQL's defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_accounts.local import LocalStack, postgres, server

THROUGHPUT_FLAGS = ("postgres-max-idle-conns", "postgres-conn-max-lifetime")
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


def test_the_default_stack_keeps_the_functional_flags_and_only_those() -> None:
    untuned = server.serve_settings(tuned=False)
    assert untuned == server.FUNCTIONAL_SETTINGS
    assert untuned["schema-enforcement-mode"] == "strict" and untuned["experimental-features"] == "true"
    assert not set(untuned) & set(THROUGHPUT_FLAGS)


def test_the_tuned_server_pools_idle_connections_and_retires_them() -> None:
    tuned = server.serve_settings(tuned=True)
    assert tuned == server.SERVE_SETTINGS
    assert {**server.FUNCTIONAL_SETTINGS, **server.TUNED_SETTINGS} == tuned
    assert int(tuned["postgres-max-idle-conns"]) > 0
    lifetime = tuned["postgres-conn-max-lifetime"]
    assert lifetime.endswith("s") and 0 < int(lifetime[:-1]) < 45, "a retired session must come before the client's retry budget ends"


def test_serve_settings_are_copies() -> None:
    server.serve_settings()["postgres-max-idle-conns"] = "0"
    assert server.SERVE_SETTINGS["postgres-max-idle-conns"] != "0"


def test_the_command_line_carries_the_settings_given_and_defaults_to_the_tuned_ones() -> None:
    binary = Path("/opt/ledger")
    tuned = server.serve_command(binary, 3068)
    assert tuned[:4] == ["/opt/ledger", "serve", "--bind", "127.0.0.1:3068"]
    assert set(tuned[4:]) == {f"--{flag}={value}" for flag, value in server.SERVE_SETTINGS.items()}
    untuned = server.serve_command(binary, 3068, server.serve_settings(tuned=False))
    assert not any(arg.startswith(f"--{flag}=") for arg in untuned for flag in THROUGHPUT_FLAGS)


@pytest.mark.parametrize("tuned", [True, False])
def test_no_postgres_setting_gives_up_durability(tuned: bool) -> None:
    settings = postgres.postgres_settings(tuned=tuned)
    for name in DURABILITY:
        assert settings.get(name, "on") == "on", name
    assert settings["max_connections"] == postgres.BASE_SETTINGS["max_connections"]


def test_the_untuned_cluster_has_postgres_defaults_beyond_the_base() -> None:
    assert postgres.postgres_settings(tuned=False) == postgres.BASE_SETTINGS
    assert postgres.postgres_settings(tuned=True) == {**postgres.BASE_SETTINGS, **postgres.TUNED_SETTINGS}


def test_a_stack_is_tuned_unless_told_otherwise(tmp_path: Path) -> None:
    assert LocalStack(tmp_path / "a").serve_settings == server.SERVE_SETTINGS
    untuned = LocalStack(tmp_path / "b", tuned=False)
    assert untuned.serve_settings == server.FUNCTIONAL_SETTINGS
    assert untuned.postgres_settings == postgres.BASE_SETTINGS


def test_a_process_started_with_other_settings_is_not_as_wanted(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, tuned=True)
    tuning, external = server.serve_tuning(), server.serve_tuning(private_cluster=False)
    as_started = {
        "ledger": {"settings": stack.serve_settings, "tuning": tuning},
        "postgres": {"settings": stack.postgres_settings},
    }
    assert stack._as_wanted(as_started)
    assert stack._as_wanted({"ledger": {"settings": stack.serve_settings, "tuning": external}})  # an external PostgreSQL
    assert not stack._as_wanted({**as_started, "ledger": {"settings": stack.serve_settings}})  # recorded before tuning was
    assert not stack._as_wanted({**as_started, "ledger": {"settings": stack.serve_settings, "tuning": external}})
    assert not stack._as_wanted({**as_started, "ledger": {"settings": server.FUNCTIONAL_SETTINGS, "tuning": tuning}})
    assert not stack._as_wanted({**as_started, "postgres": {"settings": postgres.BASE_SETTINGS}})
    assert not stack._as_wanted({"ledger": {}, "postgres": {}})  # recorded before settings were


def test_the_tuned_server_sends_statements_unprepared_and_runs_on_half_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOMAXPROCS", raising=False)
    assert server.serve_tuning(tuned=False) == {"connection": {}, "environment": {}}
    tuned = server.serve_tuning()
    assert tuned["connection"] == {"default_query_exec_mode": "simple_protocol"}
    assert tuned["environment"] == {"GOMAXPROCS": str(server.ledger_cpus())}
    # Beside an external PostgreSQL the machine is not known to be shared: no cap on Go's processors.
    assert server.serve_tuning(private_cluster=False)["environment"] == {}
    assert [server.ledger_cpus(n) for n in (1, 2, 3, 8)] == [1, 1, 1, 4]


def test_uri_parameters_are_added_unless_the_uri_sets_them() -> None:
    base = "postgresql://ledger:p%40ss@127.0.0.1:5432/ledger?sslmode=disable"
    added = server.with_parameters(base, {"default_query_exec_mode": "simple_protocol"})
    assert added == base + "&default_query_exec_mode=simple_protocol"
    own = "postgresql://ledger@db/ledger?default_query_exec_mode=exec"
    assert server.with_parameters(own, {"default_query_exec_mode": "simple_protocol"}) == own
    assert server.with_parameters("postgresql://db/ledger", {}) == "postgresql://db/ledger"


def test_the_callers_environment_wins_over_the_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMAXPROCS", "7")
    env = server.server_env("postgresql://db/l", {"GOMAXPROCS": "1", "GOGC": "100"})
    assert env["GOMAXPROCS"] == "7" and env["GOGC"] == "100" and env["POSTGRES_URI"] == "postgresql://db/l"
    monkeypatch.setenv("POSTGRES_URI", "postgresql://elsewhere/x")
    assert server.server_env("postgresql://db/l")["POSTGRES_URI"] == "postgresql://db/l"


def test_a_gomaxprocs_of_the_caller_is_what_the_tuning_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMAXPROCS", "2")
    assert server.serve_tuning()["environment"] == {}
    stack = LocalStack(tmp_path)
    # A server started with the project's GOMAXPROCS is not what is wanted once the caller sets their own.
    started = {"ledger": {"settings": stack.serve_settings, "tuning": {"connection": dict(server.TUNED_CONNECTION), "environment": {"GOMAXPROCS": "1"}}},
               "postgres": {"settings": stack.postgres_settings}}
    assert not stack._as_wanted(started)
