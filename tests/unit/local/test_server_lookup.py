"""Which server binary `loyalty ledger up` runs: override, installed v2.4.12, cache, build.

Every binary here is a shell script written by the test that prints what a
server's `version` prints; none is a server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.server_binaries import (
    REAL_VERSION_OUTPUT,
    Lookup,
    fake_server,
    isolated_lookup,
    write_executable,
)

from loyalty_accounts.errors import LedgerBuildRefused, LedgerServerNotFound
from loyalty_accounts.local import server
from loyalty_accounts.local.procs import processes_in

OLD_VERSION_OUTPUT = "Version: v2.4.11 \nDate: - \nCommit: 0123456789ab \n"
REFUSAL = "go: github.com/formancehq/ledger@v0.0.0-20260724091408-f43a7078e7e1: reading https://proxy/x.zip: 403 Forbidden\n"


@pytest.fixture
def lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lookup:
    return isolated_lookup(tmp_path, monkeypatch)


def _cached(lookup: Lookup) -> Path:
    target = lookup.cache / "ledger" / f"v2.4.12-{server._source_digest(lookup.wrapper)}" / "ledger"
    return write_executable(target, "exit 0\n")


def _go_that_must_not_run(lookup: Lookup, tmp_path: Path) -> Path:
    calls = tmp_path / "go-calls"
    write_executable(lookup.path_dirs[1] / "go", f"echo \"$@\" >> {calls}\nexit 1\n")
    return calls


def test_the_version_line_of_the_real_server_is_read(lookup: Lookup) -> None:
    binary = fake_server(lookup.path_dirs[0] / "ledger", REAL_VERSION_OUTPUT)
    assert server.binary_version(binary) == "v2.4.12"


@pytest.mark.parametrize(
    ("output", "rc"),
    [("Version: v2.4.12 \n", 1), ("ledger v2.4.12\n", 0), ("", 0)],
    ids=["fails", "other-format", "silent"],
)
def test_no_version_is_read_from_a_failing_or_foreign_program(lookup: Lookup, output: str, rc: int) -> None:
    binary = fake_server(lookup.path_dirs[0] / "ledger", output, rc=rc)
    assert server.binary_version(binary) is None


def test_a_hanging_version_command_is_given_up(lookup: Lookup) -> None:
    binary = write_executable(lookup.path_dirs[0] / "ledger", "exec sleep 30\n")
    started = time.monotonic()
    assert server.binary_version(binary, timeout=0.5) is None
    assert time.monotonic() - started < 10


def test_an_installed_pinned_server_on_path_is_used_before_the_cache(lookup: Lookup, tmp_path: Path) -> None:
    _cached(lookup)
    calls = _go_that_must_not_run(lookup, tmp_path)
    installed = fake_server(lookup.path_dirs[1] / "ledger", REAL_VERSION_OUTPUT)
    lines: list[str] = []
    assert server.ledger_binary(log=lines.append) == installed
    assert not calls.exists()
    assert lines == [f"using the installed Formance Ledger v2.4.12 at {installed}"]


def test_the_documented_folder_is_searched_after_path(lookup: Lookup) -> None:
    in_home = fake_server(lookup.home_bin / "formance-ledger", REAL_VERSION_OUTPUT)
    assert server.install_dirs() == (lookup.home_bin,)
    assert server.ledger_binary() == in_home
    on_path = fake_server(lookup.path_dirs[1] / "formance-ledger", REAL_VERSION_OUTPUT)
    assert server.ledger_binary() == on_path


def test_path_order_then_name_order(lookup: Lookup) -> None:
    later = fake_server(lookup.path_dirs[1] / "ledger", REAL_VERSION_OUTPUT)
    second_name = fake_server(lookup.path_dirs[0] / "formance-ledger", REAL_VERSION_OUTPUT)
    assert server.installed_candidates() == [second_name, later]
    first_name = fake_server(lookup.path_dirs[0] / "ledger", REAL_VERSION_OUTPUT)
    assert server.installed_candidates() == [first_name, second_name, later]
    assert server.ledger_binary() == first_name


def test_files_that_are_not_executable_are_not_candidates(lookup: Lookup) -> None:
    (lookup.path_dirs[0] / "ledger").write_text("Version: v2.4.12\n")
    (lookup.path_dirs[1] / "formance-ledger").mkdir()
    assert server.installed_candidates() == []


def test_the_same_file_reached_twice_is_tried_once(lookup: Lookup) -> None:
    real = fake_server(lookup.path_dirs[1] / "ledger", REAL_VERSION_OUTPUT)
    (lookup.path_dirs[0] / "ledger").symlink_to(real)
    assert server.installed_candidates() == [lookup.path_dirs[0] / "ledger"]


def test_another_version_is_skipped_with_a_log_line_and_the_next_one_used(lookup: Lookup, tmp_path: Path) -> None:
    old = fake_server(lookup.path_dirs[0] / "ledger", OLD_VERSION_OUTPUT)
    good = fake_server(lookup.home_bin / "ledger", REAL_VERSION_OUTPUT)
    lines: list[str] = []
    assert server.ledger_binary(log=lines.append) == good
    assert lines[0] == f"skipping {old} (`ledger version` says v2.4.11, not v2.4.12)"
    assert len(lines) == 2 and str(good) in lines[1]


def test_only_wrong_versions_installed_falls_back_to_the_cache(lookup: Lookup, tmp_path: Path) -> None:
    fake_server(lookup.path_dirs[0] / "ledger", OLD_VERSION_OUTPUT)
    silent = fake_server(lookup.path_dirs[1] / "formance-ledger", "", rc=2)
    cached = _cached(lookup)
    calls = _go_that_must_not_run(lookup, tmp_path)
    lines: list[str] = []
    assert server.ledger_binary(log=lines.append) == cached
    assert not calls.exists()
    assert lines[1] == f"skipping {silent} (`formance-ledger version` does not report a version, not v2.4.12)"
    assert len(lines) == 2


def test_a_skipped_binary_is_never_run_as_a_server(lookup: Lookup, tmp_path: Path) -> None:
    # Records every invocation: only `version` may be asked of it.
    log = tmp_path / "invocations"
    write_executable(lookup.path_dirs[0] / "ledger", f"echo \"$@\" >> {log}\necho 'Version: v2.5.0 '\n")
    _cached(lookup)
    server.ledger_binary()
    assert log.read_text() == "version\n"


def test_override_wins_without_a_version_check(lookup: Lookup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_server(lookup.path_dirs[0] / "ledger", REAL_VERSION_OUTPUT)
    _cached(lookup)
    chosen = fake_server(tmp_path / "elsewhere" / "my-ledger", OLD_VERSION_OUTPUT)
    monkeypatch.setenv("LOYALTY_LEDGER_BIN", str(chosen))
    assert server.ledger_binary() == chosen


def test_override_that_is_a_folder_is_refused(lookup: Lookup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_BIN", str(lookup.home_bin))
    with pytest.raises(Exception, match="not an executable file"):
        server.ledger_binary()


def test_refused_build_says_no_installed_server_was_found_either(lookup: Lookup) -> None:
    old = fake_server(lookup.path_dirs[0] / "ledger", OLD_VERSION_OUTPUT)
    write_executable(lookup.path_dirs[1] / "go", f"cat >&2 <<'OUT'\n{REFUSAL}OUT\nexit 1\n")
    with pytest.raises(LedgerBuildRefused) as err:
        server.ledger_binary()
    message = err.value.message
    assert message.startswith("no installed Formance Ledger v2.4.12 binary was found (`ledger` or `formance-ledger` on PATH or in ")
    assert f"skipped: {old} (`ledger version` says v2.4.11, not v2.4.12)" in message
    assert "403 Forbidden" in message
    assert err.value.code == "LEDGER_MODULE_REFUSED"


def test_without_go_nothing_obtainable_is_its_own_error(lookup: Lookup) -> None:
    with pytest.raises(LedgerServerNotFound) as err:
        server.ledger_binary()
    assert not isinstance(err.value, LedgerBuildRefused)
    assert "no installed Formance Ledger v2.4.12 binary was found" in err.value.message
    assert "Go (1.25 or newer)" in err.value.message
    assert err.value.exit_code == 3


def test_serve_and_migrate_get_the_postgres_uri_from_the_environment_only(tmp_path: Path) -> None:
    # A stand-in server that records its arguments, POSTGRES_URI and working folder.
    record = tmp_path / "record"
    binary = write_executable(
        tmp_path / "bin" / "ledger",
        f'echo "args=$*" >> {record}\necho "env=$POSTGRES_URI" >> {record}\necho "cwd=$(pwd)" >> {record}\n',
    )
    uri = "postgresql://ledger:s3cret-pw@127.0.0.1:5999/ledger?sslmode=disable"
    state = tmp_path / "state"
    server.migrate(binary, uri, state / "ledger.log")
    pid = server.start(binary, uri, 6123, state / "ledger.log")
    deadline = time.monotonic() + 10
    while record.read_text().count("cwd=") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # already reaped: subprocess collects the children of Popen objects it dropped
    lines = record.read_text().splitlines()
    assert lines[0] == "args=migrate"
    assert lines[3] == (
        "args=serve --bind 127.0.0.1:6123 --experimental-features=true "
        "--schema-enforcement-mode=strict --postgres-max-idle-conns=20 --postgres-conn-max-lifetime=10s --max-page-size=10000"
    )
    assert lines[1] == lines[4] == f"env={uri}"
    assert lines[2] == lines[5] == f"cwd={state}"


def test_processes_are_found_by_their_working_folder(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], cwd=here)
    try:
        assert child.pid in processes_in(here)
        assert child.pid not in processes_in(there)
    finally:
        child.kill()
        child.wait()
    assert child.pid not in processes_in(here)
