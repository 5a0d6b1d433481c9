"""The package's floors: no import runs from a lower layer to a higher one, and no module is too big.

Layers, lowest first (a module may import from its own layer or any lower
one). Every import counts, including those under ``if TYPE_CHECKING:`` and
inside functions: an upward import is a cycle waiting to happen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import loyalty_accounts

PACKAGE = Path(next(iter(loyalty_accounts.__path__)))

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "vocabulary", "version"),
    ("types", "settings"),
    ("chart", "numscript", "example"),
    ("rules",),
    ("operations",),
    ("ports",),
    ("ledger", "registry"),
    ("services", "program"),
    ("reports",),
    ("members",),
    ("events",),
    ("app", "demo"),
    ("local", "api"),
    ("cli", "testing"),
)
"""The package root (``loyalty_accounts/__init__.py``) is the public facade above every floor; nothing inside imports it."""
MAX_LINES = 500


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def _layer(top: str) -> int:
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    raise AssertionError(f"loyalty_accounts.{top} is on no floor: add it to LAYERS in {__file__}")


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imports(module: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("loyalty_accounts"))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("loyalty_accounts"):
                    out.add(node.module)
                continue
            base = here[: len(here) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                out.add(target)
            else:
                out.update(f"{target}.{a.name}" for a in node.names)
    return out


MODULES = _modules()


def test_every_module_is_on_a_floor() -> None:
    for module, _ in MODULES:
        if module != "loyalty_accounts":
            _layer(_top(module))


@pytest.mark.parametrize("module,path", [(m, p) for m, p in MODULES if m != "loyalty_accounts"], ids=lambda v: str(v))
def test_no_import_runs_up(module: str, path: Path) -> None:
    floor = _layer(_top(module))
    upward = sorted(
        target
        for target in _imports(module, path)
        if target != "loyalty_accounts" and _layer(_top(target)) > floor
    )
    assert not upward, f"{module} (floor {floor}) imports from a higher floor: {upward}"


def test_no_source_file_is_too_big() -> None:
    big = {str(p.relative_to(PACKAGE)): n for _, p in MODULES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"files over {MAX_LINES} lines: {big}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    fake = tmp_path / "loyalty_accounts" / "chart"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("from ..program import LoyaltyProgram\nfrom ..vocabulary import ids\n")
    found = _imports("loyalty_accounts.chart", fake / "__init__.py")
    assert found == {"loyalty_accounts.program", "loyalty_accounts.vocabulary"}
    assert _layer(_top("loyalty_accounts.program")) > _layer(_top("loyalty_accounts.chart"))
