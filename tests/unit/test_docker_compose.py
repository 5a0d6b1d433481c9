"""docker-compose.yml must describe the same server the local bring-up runs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

from loyalty_accounts.local.paths import LEDGER_VERSION
from loyalty_accounts.local.postgres import POSTGRES_SETTINGS
from loyalty_accounts.local.server import POSTGRES_MAJOR, SERVE_SETTINGS, TUNED_CONNECTION, TUNED_SETTINGS


def _compose(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "docker-compose.yml").read_text())


def test_ledger_image_is_the_pinned_version(repo_root: Path) -> None:
    services = _compose(repo_root)["services"]
    for name in ("ledger", "ledger-migrate"):
        assert services[name]["image"] == f"ghcr.io/formancehq/ledger:{LEDGER_VERSION}"


def test_postgres_major_matches_local_cluster(repo_root: Path) -> None:
    image = _compose(repo_root)["services"]["postgres"]["image"]
    assert image == f"postgres:{POSTGRES_MAJOR}"


def test_serve_settings_match_local_flags(repo_root: Path) -> None:
    env = _compose(repo_root)["services"]["ledger"]["environment"]
    for flag, value in SERVE_SETTINGS.items():
        assert str(env[flag.upper().replace("-", "_")]) == value


def test_the_tuned_settings_are_all_there(repo_root: Path) -> None:
    env = _compose(repo_root)["services"]["ledger"]["environment"]
    assert TUNED_SETTINGS, "the project's server is tuned"
    assert {name for name in env if name.lower().replace("_", "-") in TUNED_SETTINGS} == {
        flag.upper().replace("-", "_") for flag in TUNED_SETTINGS
    }


def test_the_server_connects_as_the_tuned_local_one(repo_root: Path) -> None:
    services = _compose(repo_root)["services"]
    query = dict(parse_qsl(urlsplit(services["ledger"]["environment"]["POSTGRES_URI"]).query))
    assert TUNED_CONNECTION and all(query.get(name) == value for name, value in TUNED_CONNECTION.items())
    assert "default_query_exec_mode" not in services["ledger-migrate"]["environment"]["POSTGRES_URI"]


def test_postgres_runs_with_the_local_clusters_settings(repo_root: Path) -> None:
    command = _compose(repo_root)["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    pairs = command[1:]
    assert pairs[0::2] == ["-c"] * (len(pairs) // 2) and len(pairs) % 2 == 0
    assert dict(item.split("=", 1) for item in pairs[1::2]) == POSTGRES_SETTINGS


def test_every_published_port_is_loopback_only(repo_root: Path) -> None:
    published = [p for svc in _compose(repo_root)["services"].values() for p in svc.get("ports", [])]
    assert published, "the ledger port must be published"
    assert all(str(p).startswith("127.0.0.1:") for p in published)


def test_migrations_run_before_the_server(repo_root: Path) -> None:
    services = _compose(repo_root)["services"]
    assert services["ledger-migrate"]["command"] == ["migrate"]
    assert services["ledger"]["depends_on"]["ledger-migrate"]["condition"] == "service_completed_successfully"
