"""Executables written by a test, standing in for ``go`` and for ledger server binaries.

``isolated_lookup`` empties the places the server lookup searches (``PATH``,
``~/.local/bin``, the build cache, ``LOYALTY_LEDGER_BIN``), so a server
installed on the machine running the tests is never found by them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

# What the real v2.4.12 server prints for `ledger version` (checked on the
# binary at /usr/local/bin/ledger; note the space before each newline).
REAL_VERSION_OUTPUT = "Version: v2.4.12 \nDate: - \nCommit: f43a7078e7e1 \n"


def write_executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def fake_server(path: Path, version_output: str, *, rc: int = 0) -> Path:
    """A program that prints ``version_output`` for ``version`` and exits ``rc``; fails otherwise."""

    return write_executable(
        path,
        f"if [ \"$1\" = version ]; then\ncat <<'OUT'\n{version_output}OUT\nexit {rc}\nfi\nexit 97\n",
    )


@dataclass(frozen=True)
class Lookup:
    """The isolated places: folders on PATH, the home's ~/.local/bin, the wrapper source, the cache."""

    path_dirs: tuple[Path, Path]
    home_bin: Path
    wrapper: Path
    cache: Path
    tools: Path


def isolated_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lookup:
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("cat", "touch", "sleep"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed by the fake executables"
        (tools / tool).symlink_to(found)
    first, second = tmp_path / "path1", tmp_path / "path2"
    first.mkdir()
    second.mkdir()
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    wrapper = tmp_path / "src"
    wrapper.mkdir()
    (wrapper / "go.mod").write_text("module example.com/w\n")
    (wrapper / "main.go").write_text("package main\nfunc main() {}\n")
    monkeypatch.setenv("PATH", os.pathsep.join(str(p) for p in (first, second, tools)))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LOYALTY_LEDGER_SERVER_SRC", str(wrapper))
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LOYALTY_LEDGER_BIN", raising=False)
    return Lookup((first, second), home / ".local" / "bin", wrapper, tmp_path / "cache", tools)
