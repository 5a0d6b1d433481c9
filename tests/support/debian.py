"""Commands the tests take from Debian's packages (hledger, chromium), installed with apt-get when missing and
the suite runs as root, as PostgreSQL is; never skipped: a machine that cannot install one fails naming it."""

from __future__ import annotations

import os
import shutil

from loyalty_accounts.local.postgres import _apt_install


def debian_command(command: str, package: str) -> str:
    """``command`` on PATH, installed from Debian's ``package`` first when missing and running as root."""

    found = shutil.which(command)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install(package)
        found = shutil.which(command)
    if found is None:
        raise AssertionError(f"{command} not found: install Debian's '{package}' package (apt-get install {package})")
    return found
