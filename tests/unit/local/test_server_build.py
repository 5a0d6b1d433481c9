"""The ledger build: cache keying, and the difference between 'refused' and 'broken'."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.server_binaries import Lookup, isolated_lookup, write_executable

from loyalty_accounts.errors import (
    LedgerBuildRefused,
    LedgerServerNotFound,
    LocalServerError,
)
from loyalty_accounts.local import server

REFUSAL = (
    "go: github.com/loyalty-accounts/ledger-server imports\n"
    "\tgithub.com/formancehq/ledger/cmd: github.com/formancehq/ledger@v0.0.0-20260724091408-f43a7078e7e1: "
    "reading https://proxy.golang.org/github.com/formancehq/ledger/@v/v0.0.0-20260724091408-f43a7078e7e1.zip: 403 Forbidden\n"
)


def _fake_go(lookup: Lookup, tmp_path: Path, stderr: str, rc: int) -> None:
    write_executable(lookup.path_dirs[0] / "go", f"echo \"$@\" >> {tmp_path}/calls\ncat >&2 <<'OUT'\n{stderr}OUT\nexit {rc}\n")


@pytest.fixture
def lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lookup:
    """Nothing installed, nothing cached: only what each test writes."""

    return isolated_lookup(tmp_path, monkeypatch)


def test_proxy_refusal_is_reported_as_such_with_the_go_error(lookup: Lookup, tmp_path: Path) -> None:
    _fake_go(lookup, tmp_path, REFUSAL, 1)
    with pytest.raises(LedgerBuildRefused) as err:
        server.ledger_binary()
    assert "403 Forbidden" in err.value.message
    assert err.value.code == "LEDGER_MODULE_REFUSED"


def test_other_build_failures_are_errors_not_refusals(lookup: Lookup, tmp_path: Path) -> None:
    _fake_go(lookup, tmp_path, "main.go:3: syntax error\n", 1)
    with pytest.raises(LocalServerError) as err:
        server.ledger_binary()
    assert not isinstance(err.value, (LedgerBuildRefused, LedgerServerNotFound))
    assert "syntax error" in err.value.message


def test_a_cached_binary_is_reused_without_invoking_go(lookup: Lookup, tmp_path: Path) -> None:
    _fake_go(lookup, tmp_path, "must not run\n", 1)
    digest = server._source_digest(lookup.wrapper)
    cached = tmp_path / "cache" / "ledger" / f"v2.4.12-{digest}" / "ledger"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    assert server.ledger_binary() == cached
    assert not (tmp_path / "calls").exists()


def test_changing_the_wrapper_changes_the_cache_key(lookup: Lookup) -> None:
    before = server._source_digest(lookup.wrapper)
    (lookup.wrapper / "main.go").write_text("package main\nfunc main() { }\n")
    assert server._source_digest(lookup.wrapper) != before


def test_build_pins_version_into_the_binary(lookup: Lookup, tmp_path: Path) -> None:
    # A go that records its arguments and "builds" by creating the -o target.
    write_executable(
        lookup.path_dirs[0] / "go",
        f"echo \"$@\" >> {tmp_path}/calls\n"
        'while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then shift; touch "$1"; fi; shift; done\n',
    )
    built = server.ledger_binary()
    assert built.exists()
    calls = (tmp_path / "calls").read_text()
    assert "cmd.Version=v2.4.12" in calls and "-trimpath" in calls


def test_ledger_bin_override_must_be_executable(lookup: Lookup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_BIN", str(tmp_path / "missing"))
    with pytest.raises(LocalServerError, match="not an executable"):
        server.ledger_binary()
