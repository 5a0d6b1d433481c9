"""Shared test configuration: the repository's data files, and no settings file but the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _no_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A developer's own loyalty.toml (./ or ~/.config) must not change what a test sees: an empty one is named."""

    empty = tmp_path_factory.getbasetemp() / "empty-loyalty.toml"
    empty.touch()
    monkeypatch.setenv("LOYALTY_CONFIG", str(empty))
