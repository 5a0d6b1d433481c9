"""The ledger package as a whole: what it exports and what it may import (its layering)."""

from __future__ import annotations

import ast
from pathlib import Path

import loyalty_accounts.ledger as ledger

ALLOWED = {"errors", "types", "settings", "ports", "vocabulary", "ledger"}
"""What ``ledger/`` may import from the rest of loyalty_accounts (see the package docstring)."""


def _package_imports(path: Path) -> set[str]:
    """The loyalty_accounts modules (first segment below the package) a module of ledger/ imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # from .x import: inside ledger/
                found.add("ledger")
            elif node.level == 2:  # from ..x import: loyalty_accounts.x
                found.add(module.split(".")[0] if module else "")
            elif module.startswith("loyalty_accounts"):
                found.add(module.split(".")[1] if "." in module else "")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("loyalty_accounts."):
                    found.add(alias.name.split(".")[1])
    return found


def test_nothing_in_ledger_imports_a_higher_layer() -> None:
    modules = sorted(Path(ledger.__file__).parent.glob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        assert _package_imports(path) <= ALLOWED, path.name


def test_the_package_exports_what_callers_import() -> None:
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None
    assert {"LedgerClient", "LedgerConnection", "idempotency_key"} <= set(ledger.__all__)
