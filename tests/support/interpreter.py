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


class InterpreterUnavailable(RuntimeError):
    """The interpreter could not be built; the message says how to get it."""


class ScriptFailed(Exception):
    """The interpreter refused the script; ``missing_funds`` tells the common case apart."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.missing_funds = "Not enough funds" in message


def _find_go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    for candidate in (Path("/usr/local/go/bin/go"), Path.home() / "go" / "bin" / "go"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def interpreter_binary(target_dir: Path | None = None, *, go: str | None = "auto") -> Path:
    """The ``numscript`` CLI, built into the cache with ``go install`` on first use."""

    target_dir = target_dir or cache_dir() / "tools" / f"numscript-{NUMSCRIPT_VERSION}"
    binary = target_dir / "numscript"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    go = _find_go() if go == "auto" else go
    command = f"GOSUMDB=off GOBIN={target_dir} CGO_ENABLED=0 go install {NUMSCRIPT_MODULE}/cmd/numscript@{NUMSCRIPT_VERSION}"
    if not go:
        raise InterpreterUnavailable(
            f"The Numscript oracle needs the Formance numscript CLI {NUMSCRIPT_VERSION}, which is built with Go, "
            f"and Go was not found on PATH. Install Go 1.25 or newer, or build the CLI with\n  {command}"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(target_dir), CGO_ENABLED="0", GOFLAGS="-mod=mod")
    env.setdefault("GOSUMDB", "off")
    proc = subprocess.run(
        [go, "install", f"{NUMSCRIPT_MODULE}/cmd/numscript@{NUMSCRIPT_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0 or not binary.exists():
        raise InterpreterUnavailable(f"building the numscript CLI failed ({command}):\n{proc.stderr[-4000:]}")
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
