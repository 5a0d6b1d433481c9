"""The ledger build: cache keying, and the difference between 'refused' and 'broken'."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from loyalty_accounts.errors import LedgerBuildRefused, LocalServerError
from loyalty_accounts.local import server

REFUSAL = (
    "go: github.com/loyalty-accounts/ledger-server imports\n"
    "\tgithub.com/formancehq/ledger/cmd: github.com/formancehq/ledger@v0.0.0-20260724091408-f43a7078e7e1: "
    "reading https://proxy.golang.org/github.com/formancehq/ledger/@v/v0.0.0-20260724091408-f43a7078e7e1.zip: 403 Forbidden\n"
)


def _fake_go(tmp_path: Path, stderr: str, rc: int) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/calls\ncat >&2 <<'OUT'\n{stderr}OUT\nexit {rc}\n")
    go.chmod(go.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.fixture
def wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/w\n")
    (src / "main.go").write_text("package main\nfunc main() {}\n")
    monkeypatch.setenv("LOYALTY_LEDGER_SERVER_SRC", str(src))
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LOYALTY_LEDGER_BIN", raising=False)
    return src


def test_proxy_refusal_is_reported_as_such_with_the_go_error(wrapper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{_fake_go(tmp_path, REFUSAL, 1)}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(LedgerBuildRefused) as err:
        server.ledger_binary()
    assert "403 Forbidden" in err.value.message
    assert err.value.code == "LEDGER_MODULE_REFUSED"


def test_other_build_failures_are_errors_not_refusals(wrapper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_go(tmp_path, "main.go:3: syntax error\n", 1)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(LocalServerError) as err:
        server.ledger_binary()
    assert not isinstance(err.value, LedgerBuildRefused)
    assert "syntax error" in err.value.message


def test_a_cached_binary_is_reused_without_invoking_go(wrapper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_go(tmp_path, "must not run\n", 1)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    digest = server._source_digest(wrapper)
    cached = tmp_path / "cache" / "ledger" / f"v2.4.12-{digest}" / "ledger"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    assert server.ledger_binary() == cached
    assert not (tmp_path / "calls").exists()


def test_changing_the_wrapper_changes_the_cache_key(wrapper: Path) -> None:
    before = server._source_digest(wrapper)
    (wrapper / "main.go").write_text("package main\nfunc main() { }\n")
    assert server._source_digest(wrapper) != before


def test_build_pins_version_into_the_binary(wrapper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    # A go that records its arguments and "builds" by creating the -o target.
    go.write_text(
        f"#!/bin/sh\necho \"$@\" >> {tmp_path}/calls\n"
        'while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then shift; touch "$1"; fi; shift; done\n'
    )
    go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    built = server.ledger_binary()
    assert built.exists()
    calls = (tmp_path / "calls").read_text()
    assert "cmd.Version=v2.4.12" in calls and "-trimpath" in calls


def test_ledger_bin_override_must_be_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_BIN", str(tmp_path / "missing"))
    with pytest.raises(LocalServerError, match="not an executable"):
        server.ledger_binary()
