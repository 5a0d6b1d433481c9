"""The real Formance Numscript interpreter, as a test oracle.

Built once from the Go module proxy (``github.com/formancehq/numscript``, the
interpreter the ledger ships as its ``experimental-interpreter`` runtime) into
the project's cache folder, then run on rendered templates with given balances.
It checks the Numscript we send, not the ledger: the integration suite is what
runs against the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

from loyalty_accounts.local.paths import cache_dir

NUMSCRIPT_MODULE = "github.com/formancehq/numscript"
NUMSCRIPT_VERSION = "v0.0.24"


class ScriptFailed(Exception):
    """The interpreter refused the script; ``missing_funds`` tells the common case apart."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.missing_funds = "Not enough funds" in message


def interpreter_binary() -> Path:
    target_dir = cache_dir() / "tools" / f"numscript-{NUMSCRIPT_VERSION}"
    binary = target_dir / "numscript"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if not go:
        raise RuntimeError("Go is required to build the Numscript interpreter used by the unit tests")
    env = dict(os.environ, GOBIN=str(target_dir), CGO_ENABLED="0", GOFLAGS="-mod=mod")
    env.setdefault("GOSUMDB", "off")
    proc = subprocess.run(
        [go, "install", f"{NUMSCRIPT_MODULE}/cmd/numscript@{NUMSCRIPT_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not binary.exists():
        raise RuntimeError(f"building the Numscript interpreter failed:\n{proc.stderr[-3000:]}")
    return binary


def run_script(
    script: str, variables: Mapping[str, str], balances: Mapping[str, Mapping[str, int]]
) -> list[dict[str, object]]:
    """Postings the interpreter produces, or ScriptFailed."""

    with tempfile.TemporaryDirectory() as tmp:
        script_path = Path(tmp) / "plan.num"
        inputs_path = Path(tmp) / "inputs.json"
        script_path.write_text(script)
        inputs_path.write_text(json.dumps({"variables": dict(variables), "balances": {a: dict(b) for a, b in balances.items()}}))
        proc = subprocess.run(
            [str(interpreter_binary()), "run", str(script_path), "--inputs", str(inputs_path), "-o", "json"],
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        raise ScriptFailed((proc.stderr or proc.stdout).strip())
    return list(json.loads(proc.stdout)["postings"])
