"""The command line as a shell: help in panels, -v/-q on stderr, completion from the chart and rules."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from loyalty_accounts.cli import PANELS, app, command_name, feedback

runner = CliRunner()
LOYALTY = Path(sys.executable).parent / "loyalty"


def test_every_command_is_in_exactly_one_help_panel() -> None:
    registered = [*app.registered_commands, *app.registered_groups]
    names = [command_name(info) for info in registered]
    in_panels = [name for names_ in PANELS.values() for name in names_]
    assert sorted(names) == sorted(in_panels)
    assert {info.rich_help_panel for info in registered} == set(PANELS)
    shown = runner.invoke(app, ["--help"]).stdout
    assert all(panel in shown for panel in PANELS)


def _talker() -> typer.Typer:
    """A command that logs at every level through the package's logger, under the real -v/-q set-up."""

    talk = typer.Typer()

    @talk.callback()
    def options(
        ctx: typer.Context,
        verbose: int = typer.Option(0, "--verbose", "-v", count=True),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        feedback.configure(ctx, verbose=verbose, quiet=quiet)

    @talk.command()
    def say() -> None:
        log = logging.getLogger("loyalty_accounts.verbosity_probe")  # a child no other code sets a level on
        log.debug("a debug line")
        log.info("an info line")
        log.warning("post transaction: no answer from the ledger; retrying")
        log.error("an error line")
        with feedback.progress("working") as update:
            update(1, 2)
            update(2, 2)

    return talk


@pytest.mark.parametrize(
    ("flags", "shown", "hidden"),
    [
        ([], ["warning: post transaction", "error: an error line", "working"], ["info:", "debug:"]),
        (["-q"], ["error: an error line"], ["warning:", "info:", "working"]),
        (["-v"], ["info: an info line", "warning:"], ["debug:"]),
        (["-vv"], ["debug: a debug line", "info:", "warning:"], []),
    ],
)
def test_verbosity_decides_what_goes_to_stderr(
    flags: list[str], shown: list[str], hidden: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # progress bars are drawn on a terminal only (rich reads this)
    logger = logging.getLogger("loyalty_accounts")
    before = (logger.level, list(logger.handlers))
    result = runner.invoke(_talker(), [*flags, "say"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    for text in shown:
        assert text in result.stderr
    for text in hidden:
        assert text not in result.stderr
    # the set-up lasted the invocation only
    assert (logger.level, list(logger.handlers)) == before


def test_no_progress_bar_is_drawn_into_a_pipe_or_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    result = runner.invoke(_talker(), ["say"])
    assert result.exit_code == 0 and "working" not in result.stderr and "warning: post transaction" in result.stderr


def test_quiet_and_verbose_together_is_a_usage_error() -> None:
    result = runner.invoke(app, ["-q", "-v", "rules", "check", "--help"])
    assert result.exit_code == 2 and "choose one of -q" in result.output


def _complete(where: Path, words: str, cword: int, **env: str) -> list[str]:
    """What bash completion offers for ``words`` (the cursor on word ``cword``), run in ``where``."""

    mine = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}  # the packaged chart and rules
    completion_env = {**mine, "_LOYALTY_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword), **env}
    out = subprocess.run([str(LOYALTY)], env=completion_env, cwd=where, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not LOYALTY.exists(), reason="the loyalty script is not installed beside this interpreter")
def test_shell_completion_offers_the_chart_s_partners_and_the_rules_events_and_tiers(tmp_path: Path) -> None:
    assert _complete(tmp_path, "loyalty exchange --partner ", 3) == ["cityrail", "skyway"]
    assert _complete(tmp_path, "loyalty engage --event s", 3) == ["sign_up"]
    assert _complete(tmp_path, "loyalty quote --tier ", 3) == ["gold", "member", "silver"]
    assert _complete(tmp_path, "loyalty earn --channel ", 3) == ["app", "store", "web"]
    assert _complete(tmp_path, "loyalty exchange --direction ", 3) == ["out", "in"]
    assert _complete(tmp_path, "loyalty report liability -f ", 4) == ["table", "json", "csv"]
    # a chart that cannot be read completes nothing, and the shell is not disturbed
    assert _complete(tmp_path, "loyalty exchange --partner ", 3, LOYALTY_CHART=str(tmp_path / "missing.yaml")) == []


@pytest.mark.skipif(not LOYALTY.exists(), reason="the loyalty script is not installed beside this interpreter")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["balance"], "error: Missing option '--customer' / '-c'. (see `loyalty balance --help`)"),
        (["balance", "-c", "c1", "--format", "xml"], "error: Invalid value for '--format' / '-f': 'xml' is not one of 'table', 'json', 'csv'. (see `loyalty balance --help`)"),
        (["nosuch"], "error: No such command 'nosuch'. (see `loyalty --help`)"),
    ],
)
def test_usage_errors_of_the_installed_command_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    out = subprocess.run([str(LOYALTY), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr.splitlines()) == (2, "", [message])


def test_a_chart_with_several_problems_is_one_error_line(tmp_path: Path) -> None:
    chart = tmp_path / "chart.yaml"
    chart.write_text("programme: {}\n")
    result = runner.invoke(app, ["--chart", str(chart), "quote", "--amount", "10"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: invalid chart of accounts: {chart}: programme.name (line 1): Field required; ")


def test_quiet_hides_what_long_work_says_but_not_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    talk = _talker()

    @talk.command()
    def bring_up() -> None:
        feedback.say("creating a PostgreSQL cluster")

    assert "creating a PostgreSQL cluster" in runner.invoke(talk, ["bring-up"]).stderr
    assert runner.invoke(talk, ["-q", "bring-up"]).stderr == ""
