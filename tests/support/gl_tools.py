"""The general-ledger checkers the journal tests run: ``bean-check`` (beancount, from the test extra) and
``hledger`` (Debian's package, installed with apt-get when the suite runs as root, as PostgreSQL is).

Neither is skipped when missing: a machine that can install them does; one that cannot fails with the
command to run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.debian import debian_command


def bean_check_bin() -> str:
    """``bean-check`` next to this interpreter (the venv's), else on PATH."""

    beside = Path(sys.executable).parent / "bean-check"
    if beside.exists():
        return str(beside)
    found = shutil.which("bean-check")
    if found is None:
        raise AssertionError("bean-check not found: pip install -e '.[test]' (beancount is in the test extra)")
    return found


def hledger_bin() -> str:
    """``hledger`` on PATH, installed from Debian's package first when missing and running as root."""

    return debian_command("hledger", "hledger")


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``bean-check`` on a beancount file (returncode 0 and no output: it passed)."""

    return subprocess.run([bean_check_bin(), str(path)], capture_output=True, text=True, timeout=300)


def hledger_check(path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``hledger check`` with the strict checks (declared accounts and commodities, balance assertions)."""

    cmd = [hledger_bin(), "-f", str(path), "check", "--strict", "accounts", "commodities"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)
